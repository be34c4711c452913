"""Reading what a request carries: the camera and stream it names, its JSON body, its query."""
from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError
from marshmallow import Schema, ValidationError

from actors.actor import SHUT_DOWN, CameraActor
from actors.errors import CameraShutDown, CameraUnavailable
from actors.fleet import Fleet
from actors.messages import Write
from schemas.params import CameraPathSchema, StreamPathSchema

from .conditional import IF_MATCH, response_headers
from .errors import ApiError, validation_error
from .limits import WAITING_FOR_BODY

if TYPE_CHECKING:
    from .metrics import Metrics  # noqa: F401 (named in METRICS)

FLEET = web.AppKey("fleet", Fleet)
METRICS = web.AppKey["Metrics"]("metrics")      # service.metrics imports this module: its type by name
BODY_TIMEOUT = web.AppKey("body_timeout", float)

_camera_path, _stream_path = CameraPathSchema(), StreamPathSchema()


def load(schema: Schema, data, *, partial: bool = False, what: str = "body") -> dict:
    try:
        return schema.load(data, partial=partial)
    except ValidationError as exc:
        raise validation_error(exc.messages, f"the {what} is not valid") from None


def _check_path(request: web.Request) -> None:
    """A malformed mxid or stream name is a 422; a well-formed one that names nothing here is a 404."""
    path = dict(request.match_info)
    load(_stream_path if "stream_name" in path else _camera_path, path, what="path")


def camera(request: web.Request) -> CameraActor:
    mxid = request.match_info["mxid"]
    actor = request.app[FLEET].get(mxid)
    if actor is None:
        _check_path(request)
        raise ApiError("camera_not_found", f"no camera with mxid {mxid}")
    return actor


def stream(request: web.Request) -> tuple[CameraActor, str]:
    actor = camera(request)
    name = request.match_info["stream_name"]
    if name not in actor.specs:
        _check_path(request)
        raise ApiError("stream_not_found", f"camera {actor.mxid} has no stream {name}; "
                                                f"it has: {', '.join(actor.specs)}")
    return actor, name


async def ask(request: web.Request, actor: CameraActor, message):
    """Post a message to the camera's actor and await its answer, timing it for /metrics. A write carries the
    request's If-Match, which the actor checks when it applies it."""
    if isinstance(message, Write) and IF_MATCH in request:
        message.expected = request[IF_MATCH]
    metrics = request.app.get(METRICS)
    if metrics is None:
        return await actor.ask(message)
    started = time.perf_counter()
    try:
        return await actor.ask(message)
    finally:
        metrics.command_latency(actor.mxid).observe(time.perf_counter() - started)


def unavailable(actor: CameraActor) -> Exception:
    """Why a camera that is not connected cannot serve frames: shut down on request (409), or away (503)."""
    if actor.status == SHUT_DOWN:
        return CameraShutDown(f"camera {actor.mxid} is shut down; POST /cameras/{actor.mxid}/ boots it")
    detail = f": {actor.last_error}" if actor.last_error else ""
    return CameraUnavailable(f"camera {actor.mxid} is {actor.status}{detail}", retry_after=actor.retry_after())


def revision(state) -> dict:
    """The headers of every answer about a camera's state: its revision (after the write, for a write) as
    X-State-Revision and as the ETag that If-Match and If-None-Match name."""
    return response_headers(state.revision)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


async def body(request: web.Request, reading):
    """Await `reading`, a read of the request's body: one that stalls for the body timeout is a 408, and while
    it waits the connection counts as idle for the connection cap. A body its Content-Encoding does not decode
    is a 400."""
    timeout = request.app.get(BODY_TIMEOUT, 10.0)
    try:
        if request.content.is_eof():          # all of it has come (a small body comes with its headers)
            return await reading
        WAITING_FOR_BODY.add(request.protocol)
        async with asyncio.timeout(timeout):
            return await reading
    except TimeoutError:
        raise ApiError("request_timeout", f"the body stopped arriving for {timeout:g} s",
                       headers={"Connection": "close"}) from None
    except RequestPayloadError as exc:
        # aiohttp cannot read past such a body: the connection ends with this answer.
        raise ApiError("bad_request", f"the body could not be decoded: {exc}",
                       headers={"Connection": "close"}) from None
    finally:
        WAITING_FOR_BODY.discard(request.protocol)


async def json_object(request: web.Request) -> dict:
    """The body as a JSON object; anything else is a 422. Over the size limit aiohttp answers 413."""
    try:
        raw = await body(request, request.read())
    except HttpProcessingError as exc:
        raise ApiError("bad_request", f"the body could not be decoded: {exc}",
                       headers={"Connection": "close"}) from None
    try:
        document = json.loads(raw, parse_constant=_reject_constant) if raw.strip() else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError("invalid_json", f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise ApiError("invalid_json", "the body is nested too deeply") from None
    if not isinstance(document, dict):
        raise ApiError("invalid_json", "the body must be a JSON object")
    return document
