"""The application factory: routes, middlewares, the fleet's life cycle and the OpenAPI spec."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata

from aiohttp import web

from actors.backend import Backend
from actors.fleet import Fleet

from . import cameras, openapi, streams
from .errors import error_middleware
from .inputs import FLEET

MAX_BODY = 64 * 1024     # config and control bodies are a few hundred bytes


def _add(app: web.Application, method: str, path: str, handler) -> None:
    """Route `path` and its twin with or without the trailing slash, with no redirect (a redirect loses a POST
    body in many clients). Only `path` appears in the spec: the twin's handler carries no docs."""
    app.router.add_route(method, path, handler)

    async def twin(request: web.Request) -> web.StreamResponse:
        return await handler(request)

    other = path[:-1] if path.endswith("/") else path + "/"
    app.router.add_route(method, other, twin)


def create_app(backend: Backend, *, mailbox_size: int = 128, device_timeout: float = 5.0,
               max_backoff: float = 30.0, max_body: int = MAX_BODY) -> web.Application:
    app = web.Application(middlewares=[error_middleware], client_max_size=max_body)
    fleet = Fleet(backend, mailbox_size=mailbox_size, timeout=device_timeout, max_backoff=max_backoff)
    app[FLEET] = fleet
    app[streams.ENCODER] = ThreadPoolExecutor(os.cpu_count() or 2, thread_name_prefix="encoder")
    cameras.add_routes(app, _add)
    streams.add_routes(app, _add)
    openapi.setup(app, version=metadata.version("oak-camera-service"))

    async def start(_app):
        await fleet.start()

    async def stop(_app):
        await fleet.stop()
        app[streams.ENCODER].shutdown(wait=False)

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return app
