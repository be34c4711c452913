"""Camera discovery: what cameras there are, their sensors, stereo pairs and connection state."""
from __future__ import annotations

from datetime import datetime, timezone

from aiohttp import web
from aiohttp_apigami import docs, match_info_schema, response_schema

from actors.actor import CameraActor
from actors.model import depth_stream_name
from schemas.camera import CameraSchema
from schemas.params import CameraPathSchema

from . import openapi
from .inputs import FLEET, camera

TAG = ["cameras"]
_camera, _cameras = CameraSchema(), CameraSchema(many=True)


def camera_view(actor: CameraActor) -> dict:
    info = actor.info
    return {
        "mxid": info.mxid, "name": info.name, "protocol": info.protocol,
        "state": actor.status, "state_since": datetime.fromtimestamp(actor.status_since, timezone.utc),
        "last_error": actor.last_error, "reconnects": actor.reconnects,
        "sensors": [{"socket": s.socket, "sensor_name": s.name, "type": s.kind, "autofocus": s.autofocus}
                    for s in info.sensors],
        "stereo_pairs": [{"left": left, "right": right, "stream": depth_stream_name(left, right)}
                         for left, right in info.stereo_pairs],
        "streams": list(actor.specs),
    }


@docs(tags=TAG, summary="List Cameras", description="Every camera the service has seen, connected or not.",
      responses=openapi.errors())
@response_schema(CameraSchema(many=True), 200)
async def list_cameras(request: web.Request) -> web.Response:
    actors = request.app[FLEET].actors.values()
    return web.json_response(_cameras.dump([camera_view(a) for a in actors]))


@docs(tags=TAG, summary="Get Camera", responses=openapi.errors(404, 422))
@match_info_schema(CameraPathSchema)
@response_schema(CameraSchema, 200)
async def get_camera(request: web.Request) -> web.Response:
    return web.json_response(_camera.dump(camera_view(camera(request))))


def add_routes(add) -> None:
    add("GET", "/cameras/{mxid}/", get_camera)
    add("GET", "/cameras/", list_cameras)
