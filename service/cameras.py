"""Camera discovery: what cameras there are, their sensors, stereo pairs and connection state."""
from __future__ import annotations

from datetime import datetime, timezone

from aiohttp import web
from aiohttp_apigami import docs, json_schema, match_info_schema, querystring_schema, response_schema

from actors.actor import CameraActor
from actors.messages import Boot, ReadCalibration, ReadStats, ShutDown, UpdateIR
from actors.model import depth_stream_name
from schemas.camera import CameraSchema
from schemas.ir import IRSchema
from schemas.params import CameraPathSchema, RefreshQuerySchema
from schemas.calibration import CalibrationSchema
from schemas.stats import CameraStatsSchema

from . import openapi
from .errors import ApiError
from .inputs import FLEET, ask, camera, json_object, load, revision

TAG = ["cameras"]
_camera, _cameras = CameraSchema(), CameraSchema(many=True)
_refresh_query = RefreshQuerySchema()
_stats, _ir, _ir_update = CameraStatsSchema(), IRSchema(), IRSchema(partial=True)
_calibration = CalibrationSchema()


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
        "streams": list(actor.specs), "ir": info.ir,
    }


@docs(tags=TAG, summary="List Cameras", description="Every camera the service has seen, connected or not.",
      responses=openapi.errors())
@response_schema(CameraSchema(many=True), 200)
async def list_cameras(request: web.Request) -> web.Response:
    actors = request.app[FLEET].actors.values()
    return web.json_response(_cameras.dump([camera_view(a) for a in actors]))


_CAMERA = {"content": {"application/json": {"schema": CameraSchema}}, "headers": openapi.REVISION_HEADER}


def _camera_response(actor: CameraActor) -> web.Response:
    return web.json_response(_camera.dump(camera_view(actor)), headers=revision(actor.state))


@docs(tags=TAG, summary="Get Camera", responses={200: {"description": "The camera", **_CAMERA},
                                                 **openapi.errors(*openapi.CAMERA)})
@match_info_schema(CameraPathSchema)
async def get_camera(request: web.Request) -> web.Response:
    return _camera_response(camera(request))


@docs(tags=TAG, summary="Look for Cameras Now",
      description="Runs discovery at once (as the periodic one does: new cameras are opened and listed, lost "
                  "ones that are back are reconnected) and answers the list of cameras. `boot` is accepted for "
                  "the original API's clients; cameras found are always booted.",
      responses=openapi.errors("validation_error"))
@querystring_schema(RefreshQuerySchema)
@response_schema(CameraSchema(many=True), 200)
async def refresh(request: web.Request) -> web.Response:
    load(_refresh_query, dict(request.query), what="query")
    await request.app[FLEET].discover()
    return await list_cameras(request)


@docs(tags=TAG, summary="Boot Camera", description="Opens a camera that was shut down, with its state, and "
      "answers once it runs (a camera that fails to open is retried as a lost one is). A camera that runs is "
      "left as it is.", responses={200: {"description": "The camera, running", **_CAMERA},
                                   **openapi.errors(*openapi.CAMERA, *openapi.WRITE)})
@match_info_schema(CameraPathSchema)
async def boot(request: web.Request) -> web.Response:
    return await _power(request, Boot())


@docs(tags=TAG, summary="Shut Down Camera", description="Closes the camera's device and keeps it closed (state "
      "`shut_down`), across restarts of the service, until it is booted. Its state is kept: config and control "
      "writes are accepted and applied on boot; stills, video and activation answer 409.",
      responses={200: {"description": "The camera, shut down", **_CAMERA},
                 **openapi.errors(*openapi.CAMERA, *openapi.WRITE)})
@match_info_schema(CameraPathSchema)
async def shut_down(request: web.Request) -> web.Response:
    return await _power(request, ShutDown())


async def _power(request: web.Request, message) -> web.Response:
    actor = camera(request)
    await ask(request, actor, message)
    return _camera_response(actor)


@docs(tags=TAG, summary="Camera Stats", description="Read from the device now: chip temperatures (°C), CMX and "
      "DDR memory (bytes), LEON CPU usage (0..1); and from the service: how long the camera has been connected, "
      "frames received and dropped per active stream. Also exported at /metrics.",
      responses=openapi.errors(*openapi.CAMERA, "camera_shut_down", "not_supported", *openapi.ASK))
@match_info_schema(CameraPathSchema)
@response_schema(CameraStatsSchema, 200)
async def stats(request: web.Request) -> web.Response:
    return web.json_response(_stats.dump(await ask(request, camera(request), ReadStats())))


@docs(tags=TAG, summary="Camera Calibration",
      description="From the device's own calibration (depthai's readCalibration()), for each stream at its "
      "configured size: the intrinsic matrix, the distortion model and coefficients, and for colour streams "
      "those of the still, video and preview images; the extrinsics between every two sensors (rotation, "
      "translation in mm); the stereo pairs' baselines (mm). Depth frames are the rectified left view, "
      "undistorted: a pixel (u, v) of depth z mm is the point ((u - cx) z / fx, (v - cy) z / fy, z) in the "
      "left sensor's frame (x right, y down, z forward). A config change changes the answer.",
      responses=openapi.errors(*openapi.CAMERA, "camera_shut_down", *openapi.ASK))
@match_info_schema(CameraPathSchema)
@response_schema(CalibrationSchema, 200)
async def calibration(request: web.Request) -> web.Response:
    return web.json_response(_calibration.dump(await ask(request, camera(request), ReadCalibration())))


def _with_ir(request: web.Request) -> CameraActor:
    actor = camera(request)
    if not actor.info.ir:
        raise ApiError("no_ir", f"camera {actor.mxid} ({actor.info.name}) has no IR illumination; the "
                                         "OAK-D-Pro models have it")
    return actor


@docs(tags=TAG, summary="Get IR Illumination", description="The dot projector's and flood light's intensity, "
      "0.0 (off) to 1.0, on models that have them (OAK-D-Pro and its variants); 404 on others.",
      responses={200: {"description": "The IR intensities", "content": {"application/json": {"schema": IRSchema}},
                       "headers": openapi.REVISION_HEADER}, **openapi.errors(*openapi.CAMERA, "no_ir")})
@match_info_schema(CameraPathSchema)
async def get_ir(request: web.Request) -> web.Response:
    actor = _with_ir(request)
    return web.json_response(_ir.dump(dict(actor.state.ir)), headers=revision(actor.state))


@docs(tags=TAG, summary="Set IR Illumination", description="Any subset of the two intensities. Part of the "
      "camera's desired state: saved, and restored when the camera returns or the service restarts.",
      responses={200: {"description": "The IR intensities after the update",
                       "content": {"application/json": {"schema": IRSchema}}, "headers": openapi.REVISION_HEADER},
                 **openapi.errors(*openapi.CAMERA, "no_ir", *openapi.BODY, *openapi.WRITE)})
@match_info_schema(CameraPathSchema)
@json_schema(IRSchema(partial=True), required=True)
async def update_ir(request: web.Request) -> web.Response:
    actor = _with_ir(request)
    changes = load(_ir_update, await json_object(request), partial=True)
    state = await ask(request, actor, UpdateIR(changes))
    return web.json_response(_ir.dump(dict(state.ir)), headers=revision(state))


async def refresh_other(request: web.Request) -> web.Response:
    """Any other method on /cameras/refresh, which /cameras/{mxid} would otherwise take for an mxid."""
    raise web.HTTPMethodNotAllowed(request.method, ["POST"])


def add_routes(add) -> None:
    add("POST", "/cameras/refresh", refresh)
    add("*", "/cameras/refresh", refresh_other)
    add("GET", "/cameras/{mxid}/", get_camera)
    add("POST", "/cameras/{mxid}/", boot)
    add("DELETE", "/cameras/{mxid}/", shut_down)
    add("GET", "/cameras/{mxid}/stats", stats)
    add("GET", "/cameras/{mxid}/calibration", calibration)
    add("GET", "/cameras/{mxid}/ir", get_ir)
    add("POST", "/cameras/{mxid}/ir", update_ir)
    add("GET", "/cameras/", list_cameras)
