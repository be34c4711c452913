"""The `oak-camera-service` command."""
from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal

from aiohttp import web

from actors.simulated.models import MODELS

from .app import create_app

log = logging.getLogger("oak-camera-service")


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


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="oak-camera-service",
                                description="REST API for the Luxonis OAK cameras attached to this machine.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s; "
                                                       "0.0.0.0 for every interface)")
    p.add_argument("--port", type=int, default=8080, help="TCP port to listen on (default: %(default)s)")
    p.add_argument("--simulate", type=_models, metavar="MODELS",
                   help="run on simulated cameras instead of real ones: a comma-separated list of "
                        f"{', '.join(MODELS)}; a model may repeat (e.g. oak-d,oak-d,oak-1)")
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
    app = create_app(make_backend(args), mailbox_size=args.mailbox_size, device_timeout=args.device_timeout,
                     discovery_interval=args.discovery_interval)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
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
    kind = f"simulated {','.join(args.simulate)}" if args.simulate else "depthai"
    log.info("ready: serving on http://%s:%d (%s backend)", args.host, args.port, kind)
    await stop.wait()
    log.info("stopping")
    await runner.cleanup()


def main(argv=None) -> None:
    args = parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(serve(args))
