"""Health checks: /healthz (the process is alive) and /readyz (the backend is initialised)."""
from __future__ import annotations

from aiohttp import web
from aiohttp_apigami import docs

from . import openapi

READY = web.AppKey("ready", bool)


def _status(*values: str) -> dict:
    return {"content": {"application/json": {"schema": {
        "type": "object", "required": ["status"], "properties": {"status": {"type": "string", "enum": list(values)}}}}}}


@docs(tags=["service"], summary="Alive", description="200 while the service runs; never needs a token.",
      responses={200: {"description": "Alive", **_status("alive")}, **openapi.errors()})
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


@docs(tags=["service"], summary="Ready", description="200 once the backend is initialised and cameras "
      "were looked for, 503 before.",
      responses={200: {"description": "Ready", **_status("ready")}, 503: {"description": "Not yet", **_status("starting")},
                 **openapi.errors()})
async def readyz(request: web.Request) -> web.Response:
    ready = request.app[READY]
    return web.json_response({"status": "ready" if ready else "starting"}, status=200 if ready else 503)


def add_routes(add) -> None:
    add("GET", "/healthz", healthz)
    add("GET", "/readyz", readyz)
