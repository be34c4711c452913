"""Camera discovery: what cameras there are, their sensors, stereo pairs and connection state."""
from __future__ import annotations

from datetime import datetime, timezone

from aiohttp import web
from aiohttp_apigami import docs, match_info_schema, querystring_schema, response_schema

from actors.actor import CameraActor
from actors.model import depth_stream_name
from schemas.camera import CameraSchema
from schemas.params import CameraPathSchema, RefreshQuerySchema

from . import openapi
from .inputs import FLEET, camera, load

TAG = ["cameras"]
_camera, _cameras = CameraSchema(), CameraSchema(many=True)
_refresh_query = RefreshQuerySchema()


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


@docs(tags=TAG, summary="Look for Cameras Now",
      description="Runs discovery at once (as the periodic one does: new cameras are opened and listed, lost "
                  "ones that are back are reconnected) and answers the list of cameras. `boot` is accepted for "
                  "the original API's clients; cameras found are always booted.",
      responses=openapi.errors(422))
@querystring_schema(RefreshQuerySchema)
@response_schema(CameraSchema(many=True), 200)
async def refresh(request: web.Request) -> web.Response:
    load(_refresh_query, dict(request.query), what="query")
    await request.app[FLEET].discover()
    return await list_cameras(request)


async def refresh_other(request: web.Request) -> web.Response:
    """Any other method on /cameras/refresh, which /cameras/{mxid} would otherwise take for an mxid."""
    raise web.HTTPMethodNotAllowed(request.method, ["POST"])


def add_routes(add) -> None:
    add("POST", "/cameras/refresh", refresh)
    add("*", "/cameras/refresh", refresh_other)
    add("GET", "/cameras/{mxid}/", get_camera)
    add("GET", "/cameras/", list_cameras)
