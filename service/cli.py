"""The `oak-camera-service` command."""
from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
from pathlib import Path

from aiohttp import web

from actors.simulated.models import MODELS

from .app import create_app

log = logging.getLogger("oak-camera-service")
SHUTDOWN_GRACE = 5.0    # seconds in-flight requests get to finish on shutdown


def _models(text: str) -> list[str]:
    models = [m.strip().lower() for m in text.split(",") if m.strip()]
    unknown = sorted(set(models) - set(MODELS))
    if not models or unknown:
        raise argparse.ArgumentTypeError(f"unknown model(s) {', '.join(unknown) or '(none given)'}; "
                                         f"choose from {', '.join(MODELS)}")
    return models


def _positive(kind):
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be greater than 0, not {text}")
        return value
    return parse


def default_state_dir() -> Path:
    """systemd's StateDirectory= when run as a unit, else the user's XDG state directory."""
    if os.environ.get("STATE_DIRECTORY"):
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0])
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "oak-camera-service"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="oak-camera-service",
                                description="REST API for the Luxonis OAK cameras attached to this machine.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s; "
                                                       "0.0.0.0 for every interface)")
    p.add_argument("--port", type=int, default=8080, help="TCP port to listen on (default: %(default)s)")
    p.add_argument("--simulate", type=_models, metavar="MODELS",
                   help="run on simulated cameras instead of real ones: a comma-separated list of "
                        f"{', '.join(MODELS)}; a model may repeat (e.g. oak-d,oak-d,oak-1)")
    p.add_argument("--state-dir", type=Path, default=None, metavar="DIR",
                   help="where each camera's streams, config and control are saved, to be restored on start and "
                        "when a camera returns (default: $STATE_DIRECTORY, else "
                        "$XDG_STATE_HOME/oak-camera-service or ~/.local/state/oak-camera-service)")
    p.add_argument("--device-timeout", type=_positive(float), default=10.0, metavar="SECONDS",
                   help="deadline for one device operation; a late one is answered 504 and the camera is "
                        "reopened (default: %(default)s)")
    p.add_argument("--discovery-interval", type=_positive(float), default=2.0, metavar="SECONDS",
                   help="how often to look for cameras that appeared or came back (default: %(default)s)")
    p.add_argument("--mailbox-size", type=_positive(int), default=128, metavar="N",
                   help="commands that may wait for one camera; more are answered 503 (default: %(default)s)")
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"),
                   help="log level (default: %(default)s)")
    return p


def make_backend(args):
    if args.simulate:
        from actors.simulated.device import SimBackend
        return SimBackend(args.simulate)
    from actors.depthai_backend import DepthAIBackend
    return DepthAIBackend()


async def serve(args) -> None:
    app = create_app(make_backend(args), state_dir=args.state_dir, mailbox_size=args.mailbox_size,
                     device_timeout=args.device_timeout, discovery_interval=args.discovery_interval)
    # On SIGTERM/SIGINT: stop accepting, give in-flight requests a few seconds, then close every device.
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=SHUTDOWN_GRACE)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # Everything loaded so far lives as long as the process: keep it out of the collector's way, so that full
    # collections stay short and do not show up as latency spikes.
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)      # fewer young collections: a request makes many short-lived objects
    kind = f"simulated {','.join(args.simulate)}" if args.simulate else "depthai"
    log.info("ready: serving on http://%s:%d (%s backend, state in %s)", args.host, args.port, kind, args.state_dir)
    await stop.wait()
    log.info("stopping: finishing requests in flight, then closing the cameras")
    await runner.cleanup()
    log.info("stopped")


def _check_state_dir(p: argparse.ArgumentParser, args) -> None:
    args.state_dir = args.state_dir or default_state_dir()
    try:
        args.state_dir.mkdir(parents=True, exist_ok=True)
        probe = args.state_dir / ".writable"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        p.error(f"--state-dir {args.state_dir} is not a writable directory: {exc.strerror or exc}")


def main(argv=None) -> None:
    p = parser()
    args = p.parse_args(argv)
    _check_state_dir(p, args)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    import uvloop
    uvloop.run(serve(args))
