"""Fault injection, only with --simulate (and on the DepthAI backend's test stand-in): unplug and replug
cameras, fail opens, slow or hang operations.

For our tests and for fleet-controller developers testing their own error handling.
"""
from __future__ import annotations

from aiohttp import web
from aiohttp_apigami import docs, json_schema, match_info_schema, response_schema

from actors.backend import FaultInjection
from schemas.params import CameraPathSchema
from schemas.sim import FaultsSchema, SimCameraSchema

from . import openapi
from .errors import ApiError
from .inputs import FLEET, json_object, load

TAG = ["simulator"]
_faults = FaultsSchema()


def _device(request: web.Request):
    mxid = request.match_info["mxid"]
    device = request.app[FLEET].backend.device(mxid)
    if device is None:
        load(CameraPathSchema(), {"mxid": mxid}, what="path")
        raise ApiError("camera_not_found", f"no simulated camera with mxid {mxid}")
    return device


def _view(device) -> dict:
    f = device.faults
    return {"plugged": device.plugged, "failing_opens": f.failing_opens, "latency_ms": round(f.latency * 1000),
            "hang_next": f.hang_next, "refused_fps": f.refused_fps}


@docs(tags=TAG, summary="Unplug a simulated camera", description="As if its cable were pulled: the camera "
      "turns disconnected, what needs the device answers 503, config and control writes are kept.",
      responses={204: {"description": "Unplugged"}, **openapi.errors(*openapi.CAMERA)})
@match_info_schema(CameraPathSchema)
async def unplug(request: web.Request) -> web.Response:
    _device(request).unplug()
    return web.Response(status=204)


@docs(tags=TAG, summary="Replug a simulated camera",
      description="The camera is found again, reconnected and given its saved state.",
      responses={204: {"description": "Plugged in"}, **openapi.errors(*openapi.CAMERA)})
@match_info_schema(CameraPathSchema)
async def replug(request: web.Request) -> web.Response:
    device = _device(request)
    device.replug()
    await request.app[FLEET].discover()
    return web.Response(status=204)


@docs(tags=TAG, summary="Get a simulated camera's faults", responses=openapi.errors(*openapi.CAMERA))
@match_info_schema(CameraPathSchema)
@response_schema(SimCameraSchema, 200)
async def get_faults(request: web.Request) -> web.Response:
    return web.json_response(_view(_device(request)))


@docs(tags=TAG, summary="Inject faults into a simulated camera", description="Any subset of the fields.",
      responses=openapi.errors(*openapi.CAMERA, *openapi.BODY))
@match_info_schema(CameraPathSchema)
@json_schema(FaultsSchema, required=True)
@response_schema(SimCameraSchema, 200)
async def set_faults(request: web.Request) -> web.Response:
    device = _device(request)
    changes = load(_faults, await json_object(request))
    device.inject(failing_opens=changes.get("failing_opens"), hang_next=changes.get("hang_next"),
                  refused_fps=changes.get("refused_fps"),
                  latency=changes["latency_ms"] / 1000 if "latency_ms" in changes else None)
    return web.json_response(_view(device))


def add_routes(add) -> None:
    add("POST", "/sim/cameras/{mxid}/unplug", unplug)
    add("POST", "/sim/cameras/{mxid}/replug", replug)
    add("GET", "/sim/cameras/{mxid}/faults", get_faults)
    add("POST", "/sim/cameras/{mxid}/faults", set_faults)


def enabled(backend) -> bool:
    return isinstance(backend, FaultInjection)
