"""Who this gateway is: GET /gateway, with its stable id, hostname, versions and this run's boot id."""
from __future__ import annotations

import socket
import time
import uuid
from dataclasses import dataclass
from functools import cache
from datetime import UTC, datetime
from importlib import metadata

from aiohttp import web
from aiohttp_apigami import docs, response_schema

from schemas.gateway import GatewaySchema

from . import openapi
from .inputs import FLEET


@cache
def installed(package: str) -> str | None:
    """The installed version of a package (None if it is not): read once, as it reads every package's metadata."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


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
        return cls(gateway_id or uuid.uuid4().hex, socket.gethostname(), installed("oak-camera-service"),
                   installed("depthai"), uuid.uuid4().hex, time.time())


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
