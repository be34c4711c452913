"""The service itself, as the command runs it once its options are read: the backend, the app, the HTTP
server, and a clean stop on SIGTERM or SIGINT."""
from __future__ import annotations

import asyncio
import gc
import logging
import signal
import ssl
import sys

import uvloop
from aiohttp import web

from . import announce, logs, metrics, systemd
from .app import create_app
from .gateway import IDENTITY
from .inputs import FLEET
from .limits import cap_connections

log = logging.getLogger("oak-camera-service")
SHUTDOWN_GRACE = 5.0    # seconds in-flight requests get to finish on shutdown


def make_backend(args):
    if args.simulate:
        from actors.simulated.device import SimBackend
        return SimBackend(args.simulate, seed=args.simulate_seed or "")
    from actors.depthai_backend import DepthAIBackend
    return DepthAIBackend(camera_h264=args.h264_encoder == "camera")


async def serve(args, tokens: list[str]) -> None:
    app = create_app(make_backend(args), state_dir=args.state_dir, mailbox_size=args.mailbox_size,
                     device_timeout=args.device_timeout, discovery_interval=args.discovery_interval,
                     max_body=args.max_body, body_timeout=args.body_timeout, tokens=tokens, cors_origins=args.cors_origins,
                     with_metrics=args.metrics == "on", max_feeds=args.max_feeds,
                     initial_streams=args.initial_streams, mqtt_target=args.mqtt_url,
                     mqtt_results=args.mqtt_results == "on")
    tls = None
    if args.tls_cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    # On SIGTERM/SIGINT: stop accepting, give in-flight requests a few seconds, then close every device.
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=SHUTDOWN_GRACE, **metrics.runner_options(app))
    await runner.setup()           # runs on_startup: the backend is up and cameras were looked for
    cap_connections(runner.server, args.max_connections)
    await web.TCPSite(runner, args.host, args.port, ssl_context=tls).start()
    port = runner.addresses[0][1]          # the one asked for, or the one the system gave for --port 0
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # Everything loaded so far lives as long as the process: keep it out of the collector's way, so that full
    # collections stay short and do not show up as latency spikes.
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)      # fewer young collections: a request makes many short-lived objects
    # The cameras' worker threads and the state writer need the GIL only briefly, but while the event loop is
    # busy they would wait up to the 5 ms default switch interval for it, and every reply waits with them.
    sys.setswitchinterval(0.0005)
    kind = f"simulated {','.join(args.simulate)}" if args.simulate else "depthai"
    scheme = "https" if tls else "http"
    announcement = None
    if announce.wanted(args.announce, args.host):
        identity = app[IDENTITY]
        try:
            announcement = announce.Announcement(args.host, port, gateway_id=identity.id,
                                                 hostname=identity.hostname, version=identity.version, scheme=scheme,
                                                 tokens=bool(tokens))
            await announcement.start()
        except Exception as exc:  # noqa: BLE001 (no multicast here, say: the API serves all the same)
            log.warning("announcing on the LAN failed: %s", exc)
            announcement = None
    log.info("ready: serving on %s://%s:%d (%s backend, state in %s%s)", scheme, args.host, port, kind,
             args.state_dir, ", tokens required" if tokens else "")
    systemd.notify("READY=1")
    interval = systemd.watchdog_interval()
    fleet = app[FLEET]
    watchdog = asyncio.create_task(systemd.keep_alive(
        interval, lambda: fleet.wedged_too_long(args.wedged_restart))) if interval else None
    await stop.wait()
    systemd.notify("STOPPING=1")
    log.info("stopping: finishing requests in flight, then closing the cameras")
    if watchdog is not None:
        watchdog.cancel()
    if announcement is not None:
        await announcement.close()
    await runner.cleanup()
    log.info("stopped")


def run(args, tokens: list[str]) -> None:
    logs.setup(args.log_level, args.log_format)
    uvloop.run(serve(args, tokens))
    # Every camera is closed and every state saved; a device call that never returned holds only its camera's
    # daemon thread (actors/worker.py), which the exit does not wait for.
