"""The Streams API: list, activate, deactivate, config, control and stills of one camera's streams."""
from __future__ import annotations

import json
import logging

from aiohttp import web
from aiohttp_apigami import docs, json_schema, match_info_schema, querystring_schema

from typing import Mapping

from actors.actor import CameraActor
from actors.errors import StreamInactive
from actors.frames import Frame, FrameMeta, wall_clock
from actors.messages import Activate, Capture, Deactivate, UpdateConfig, UpdateControl
from actors.model import CameraState, DEPTH
from schemas.camera import StreamSchema
from schemas.config import CONFIG_SCHEMAS
from schemas.control import SensorControlSchema
from schemas.params import CameraPathSchema, StillQuerySchema, StreamPathSchema

from . import openapi
from .errors import ApiError, validation_error
from .inputs import ask, camera, json_object, load, revision, stream

log = logging.getLogger(__name__)
TAG = ["streams"]
_control_update = SensorControlSchema(partial=True)
_CONTROL = {"content": {"application/json": {"schema": SensorControlSchema}}}    # beside its revision header
_config_updates = {kind: cls(partial=True) for kind, cls in CONFIG_SCHEMAS.items()}
_still_query = StillQuerySchema()


def _with_revision(body, state: CameraState) -> web.Response:
    return web.json_response(body, headers=revision(state))


async def _switch(request: web.Request, message) -> web.Response:
    actor, name = stream(request)
    state = await ask(request, actor, message(name))
    log.info("camera %s: %s %s", actor.mxid, name, "activated" if message is Activate else "deactivated")
    return web.Response(status=204, headers=revision(state))


def control_view(control: Mapping, meta: FrameMeta | None) -> dict:
    """The stream's control, with exposure, ISO and colour temperature from its latest frame where automatic."""
    auto_exposure, auto_wb = control["auto_exposure_enable"], control["auto_whitebalance_mode"] != "OFF"
    if meta is None or not (auto_exposure or auto_wb):
        return dict(control)
    view = dict(control)
    if auto_exposure:
        view["exposure_time"], view["sensitivity_iso"] = meta.exposure_time, meta.sensitivity_iso
    if auto_wb:
        view["manual_whitebalance"] = meta.color_temperature
    return view


def frame_headers(frame: Frame, autofocus: bool) -> dict[str, str]:
    """The frame's number, times and what it was taken with, as openapi.FRAME_HEADERS describes them."""
    headers = {"X-Frame-Sequence": str(frame.sequence), "X-Frame-Timestamp": f"{frame.timestamp:.6f}",
               "X-Frame-Device-Timestamp": f"{frame.device_timestamp:.6f}",
               "X-Frame-Host-Time": f"{wall_clock(frame.timestamp):.6f}"}
    meta = frame.meta
    if meta is not None:
        headers["X-Exposure-Time"], headers["X-Sensitivity-ISO"] = str(meta.exposure_time), str(meta.sensitivity_iso)
        if autofocus and meta.lens_position is not None:
            headers["X-Lens-Position"] = f"{meta.lens_position:.4f}"
    return headers


# The JSON of each stream's latest control view, reused while neither the control nor the frame metadata
# changes: GET control is the call a fleet controller polls.
_control_json: dict[tuple[str, str], tuple] = {}


def _control_response(actor: CameraActor, name: str, state: CameraState) -> web.Response:
    control = state.streams[name].control
    meta = actor.frame_meta(name)
    cached = _control_json.get((actor.mxid, name))
    if cached is None or cached[0] is not control or (cached[1] is not meta and cached[1] != meta):
        cached = (control, meta, json.dumps(control_view(control, meta)).encode())
        _control_json[actor.mxid, name] = cached
    return web.Response(body=cached[2], content_type="application/json", headers=revision(state))


@docs(tags=TAG, summary="List All Streams", description="One entry per stream the camera really has.",
      responses={200: {"description": "The streams", "headers": openapi.REVISION_HEADER,
                       "content": {"application/json": {"schema": StreamSchema(many=True)}}},
                 **openapi.errors(*openapi.CAMERA)})
@match_info_schema(CameraPathSchema)
async def list_streams(request: web.Request) -> web.Response:
    state = camera(request).state
    return _with_revision([{"name": n, "active": s.active} for n, s in state.streams.items()], state)


@docs(tags=TAG, summary="Get Stream", description="The stream's name and whether it is active.",
      responses={200: {"description": "The stream", "headers": openapi.REVISION_HEADER,
                       "content": {"application/json": {"schema": StreamSchema}}},
                 **openapi.errors(*openapi.STREAM)})
@match_info_schema(StreamPathSchema)
async def get_stream(request: web.Request) -> web.Response:
    actor, name = stream(request)
    state = actor.state
    return _with_revision({"name": name, "active": state.streams[name].active}, state)


@docs(tags=TAG, summary="Activate Stream",
      description="Idempotent. Activation wins: every active stream sharing a sensor with this one is "
                  "deactivated (activating DEPTH_B_C deactivates CAM_B and CAM_C, and the reverse).",
      responses={204: {"description": "The stream is active", "headers": openapi.REVISION_HEADER},
                 **openapi.errors(*openapi.STREAM, "camera_shut_down", *openapi.WRITE)})
@match_info_schema(StreamPathSchema)
async def activate(request: web.Request) -> web.Response:
    return await _switch(request, Activate)


@docs(tags=TAG, summary="Deactivate Stream", description="Idempotent. Config and control are kept.",
      responses={204: {"description": "The stream is inactive", "headers": openapi.REVISION_HEADER},
                 **openapi.errors(*openapi.STREAM, *openapi.WRITE)})
@match_info_schema(StreamPathSchema)
async def deactivate(request: web.Request) -> web.Response:
    return await _switch(request, Deactivate)


@docs(tags=TAG, summary="Get Stream Config",
      description="ColorCameraConfig for colour sensors, MonoCameraConfig for mono sensors and depth "
                  "streams, CameraConfig for other sensors.",
      responses={200: {"description": "The whole config", **openapi.any_of_configs(),
                       "headers": openapi.REVISION_HEADER}, **openapi.errors(*openapi.STREAM)})
@match_info_schema(StreamPathSchema)
async def get_config(request: web.Request) -> web.Response:
    actor, name = stream(request)
    state = actor.state
    return _with_revision(dict(state.streams[name].config), state)


@docs(tags=TAG, summary="Update Stream Config",
      description="Any subset of the stream's own config shape; the rest keeps its value. Checked against "
                  "what the sensor can do. On an inactive stream it is kept and used on activation; on an "
                  "active one the stream restarts with it.",
      requestBody={"required": True, **openapi.any_of_configs(partial=True)},
      responses={200: {"description": "The whole config after the update", **openapi.any_of_configs(),
                       "headers": openapi.REVISION_HEADER},
                       **openapi.errors(*openapi.STREAM, *openapi.BODY, *openapi.WRITE)})
@match_info_schema(StreamPathSchema)
async def update_config(request: web.Request) -> web.Response:
    actor, name = stream(request)
    changes = load(_config_updates[actor.specs[name].config_kind], await json_object(request), partial=True)
    state = await ask(request, actor, UpdateConfig(name, changes))
    log.info("camera %s: %s config %s", actor.mxid, name, changes)
    return _with_revision(dict(state.streams[name].config), state)


@docs(tags=TAG, summary="Get Stream Control",
      responses={200: {"description": "The whole control", **_CONTROL, "headers": openapi.REVISION_HEADER},
                 **openapi.errors(*openapi.STREAM)})
@match_info_schema(StreamPathSchema)
async def get_control(request: web.Request) -> web.Response:
    actor, name = stream(request)
    return _control_response(actor, name, actor.state)


@docs(tags=TAG, summary="Update Stream Control",
      description="Any subset of the fields (and of `focus`'s fields). On an active stream it reaches the "
                  "sensor at once (both sensors for a depth stream); on an inactive one it is kept and "
                  "applied on activation. Focus on a fixed-focus sensor is a 422.",
      responses={200: {"description": "The whole control after the update", **_CONTROL,
                       "headers": openapi.REVISION_HEADER},
                       **openapi.errors(*openapi.STREAM, *openapi.BODY, *openapi.WRITE)})
@match_info_schema(StreamPathSchema)
@json_schema(SensorControlSchema(partial=True), required=True)
async def update_control(request: web.Request) -> web.Response:
    actor, name = stream(request)
    changes = load(_control_update, await json_object(request), partial=True)
    state = await ask(request, actor, UpdateControl(name, changes))
    return _control_response(actor, name, state)


@docs(tags=TAG, summary="Capture Still Image",
      description="A frame captured after the request arrived, at the stream's still size. Depth streams "
                  "give an 8-bit picture where nearer is lighter (0.2 m white to 10 m dark, black where "
                  "depth is unknown), or with depth_mm=true a 16-bit PNG in millimetres. The headers say which "
                  "frame it is, when it was taken (on the clock of the network results' `timestamp`) and with "
                  "what exposure, ISO and lens position.",
      responses={200: {"description": "Image bytes in the selected format", "headers": openapi.FRAME_HEADERS,
                       "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                                   "image/png": {"schema": {"type": "string", "format": "binary"}}}},
                 **openapi.errors(*openapi.STREAM, "stream_inactive", "camera_shut_down", *openapi.ASK)})
@match_info_schema(StreamPathSchema)
@querystring_schema(StillQuerySchema)
async def still(request: web.Request) -> web.Response:
    actor, name = stream(request)
    query = load(_still_query, dict(request.query), what="query")
    fmt, depth_mm = query["format"], query["depth_mm"]
    if depth_mm:
        if actor.specs[name].kind != DEPTH:
            raise validation_error({"depth_mm": [f"{name} is not a depth stream."]})
        if fmt == "jpeg":
            raise validation_error({"format": ["depth_mm needs png: jpeg has no 16-bit greyscale."]})
        fmt = "png"
    fmt = fmt or "jpeg"
    body, frame = await ask(request, actor, Capture(name, fmt, depth_mm))
    return web.Response(body=body, content_type=f"image/{fmt}",
                        headers=frame_headers(frame, actor.specs[name].autofocus))


@docs(tags=TAG, summary="Capture Preview Image",
      description="A JPEG of the stream's preview, taken after the request arrived: the whole frame cut at its "
                  "centre to preview_size's shape and scaled to preview_size by the camera (what thumbnails and "
                  "detection networks see). Colour and other (non-mono) sensors have one; mono sensors and "
                  "depth streams answer 422 `no_preview`. The headers say which frame it is, when and how it was "
                  "taken, as a still's do.",
      responses={200: {"description": "A JPEG at preview_size", "headers": openapi.FRAME_HEADERS,
                       "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}},
                 **openapi.errors(*openapi.STREAM, "no_preview", "stream_inactive", "camera_shut_down",
                                  *openapi.ASK)})
@match_info_schema(StreamPathSchema)
async def preview(request: web.Request) -> web.Response:
    actor, name = stream(request)
    state = actor.state.streams[name]
    if "preview_size" not in state.config:
        raise ApiError("no_preview", f"{name} has no preview output: only colour and other (not mono) "
                                          "sensors have one, at their preview_size")
    if not state.active:
        raise StreamInactive(f"{name} is not active; activate it first")
    body, frame = await ask(request, actor, Capture(name, "jpeg", preview=True))   # the camera sends one (R22)
    return web.Response(body=body, content_type="image/jpeg",
                        headers=frame_headers(frame, actor.specs[name].autofocus))


def add_routes(add) -> None:
    base = "/cameras/{mxid}/streams/"
    one = base + "{stream_name}/"
    add("GET", one + "control", get_control)
    add("POST", one + "control", update_control)
    add("GET", one + "config", get_config)
    add("POST", one + "config", update_config)
    add("GET", one + "still", still)
    add("GET", one + "preview", preview)
    add("GET", one, get_stream)
    add("POST", one, activate)
    add("DELETE", one, deactivate)
    add("GET", base, list_streams)


