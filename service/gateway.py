"""Who this gateway is: GET /gateway, with its stable id, hostname, versions and this run's boot id."""
from __future__ import annotations

import socket
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata

from aiohttp import web
from aiohttp_apigami import docs, response_schema

from schemas.gateway import GatewaySchema

from . import openapi
from .inputs import FLEET


@dataclass
class Identity:
    id: str               # kept in the state directory (actors/store.py; read at start); without one, this run's
    hostname: str
    version: str
    depthai_version: str | None
    boot_id: str          # new on every start
    started_at: float     # time.time()

    @classmethod
    def make(cls, gateway_id: str | None) -> Identity:
        try:
            depthai = metadata.version("depthai")
        except metadata.PackageNotFoundError:
            depthai = None
        return cls(gateway_id or uuid.uuid4().hex, socket.gethostname(), metadata.version("oak-camera-service"),
                   depthai, uuid.uuid4().hex, time.time())


IDENTITY = web.AppKey("identity", Identity)
_gateway = GatewaySchema()


@docs(tags=["service"], summary="Get Gateway",
      description="Who this gateway is: its id (made once, kept in the state directory), hostname, the "
                  "service's and depthai's versions, this run's boot id (new on every start: a fleet controller "
                  "that sees another one knows the service restarted), when it started, and how many cameras "
                  "it has found.",
      responses=openapi.errors())
@response_schema(GatewaySchema, 200)
async def get_gateway(request: web.Request) -> web.Response:
    return web.json_response(gateway_body(request.app))


def gateway_body(app: web.Application) -> dict:
    identity = app[IDENTITY]
    return _gateway.dump({**identity.__dict__, "started_at": datetime.fromtimestamp(identity.started_at, UTC),
                          "cameras": len(app[FLEET].actors)})


def add_routes(add) -> None:
    add("GET", "/gateway", get_gateway)
