"""Every error as JSON in one shape: {"error": {"status", "code", "message", ["fields"], ["request_id"]}}."""
from __future__ import annotations

import logging

from aiohttp import web

from actors.capabilities import CapabilityError
from actors.errors import CameraBusy, CameraShutDown, CameraUnavailable, ConfigRejected, DeviceTimeout, StateNotSaved, StreamInactive

from .logs import REQUEST_ID

log = logging.getLogger(__name__)


# Every code the API answers, its status and when: the one table the handlers' errors, the OpenAPI spec (each
# operation lists the codes it can answer, `x-error-codes`) and the README's table follow.
CODES: dict[str, tuple[int, str]] = {
    "bad_request": (400, "the body cannot be decoded as its Content-Encoding says"),
    "unauthorized": (401, "a valid token is required"),
    "camera_not_found": (404, "no camera with that mxid"),
    "stream_not_found": (404, "the camera has no such stream (the message lists its streams)"),
    "no_ir": (404, "the camera has no IR illumination"),
    "not_found": (404, "no route for the path"),
    "method_not_allowed": (405, "the path does not take that method"),
    "request_timeout": (408, "the body stopped arriving for the body timeout; the connection is closed"),
    "revision_mismatch": (412, "If-Match names another revision than the camera's state has; the body's "
                               "`revision` and the ETag give the current one"),
    "stream_inactive": (409, "the stream is not active; activate it first"),
    "camera_shut_down": (409, "the camera was shut down on request; booting it (POST /cameras/{mxid}/) helps, "
                              "waiting does not"),
    "no_nn": (409, "no network runs on the stream (its results' WebSocket)"),
    "body_too_large": (413, "the body is larger than the limit"),
    "validation_error": (422, "the body, query or path fails validation; `fields` has a message per field"),
    "invalid_json": (422, "the body is not a JSON object"),
    "invalid_multipart": (422, "the body is not the multipart/form-data the operation takes"),
    "not_supported": (422, "the sensor or camera cannot do that (the message says what it can)"),
    "no_preview": (422, "the stream has no preview output (mono and depth streams)"),
    "camera_unavailable": (503, "the camera is disconnected or booting; Retry-After says when to look again"),
    "camera_busy": (503, "the camera's command queue is full; Retry-After"),
    "state_not_saved": (503, "the change reached the camera but could not be saved; sending it again is safe"),
    "uploads_busy": (503, "two model uploads are under way; Retry-After"),
    "model_not_saved": (503, "the model could not be saved (a full disk); Retry-After"),
    "too_many_connections": (503, "the service has as many connections as it takes; Retry-After"),
    "device_timeout": (504, "the device did not answer in time; the camera is reopened"),
    "internal_error": (500, "a bug: logged under the request_id the body carries"),
}


class ApiError(Exception):
    """An error answer; its status is the code's (CODES), or `status` for aiohttp's own errors."""

    def __init__(self, code: str, message: str, fields: dict | None = None, headers: dict | None = None,
                 status: int | None = None, revision: int | None = None):
        super().__init__(message)
        self.status = CODES[code][0] if status is None else status
        self.code, self.message, self.fields, self.headers = code, message, fields, headers
        self.revision = revision          # 412: the camera's current state revision


def error_response(status: int, code: str, message: str, *, fields: dict | None = None,
                   headers: dict | None = None, request_id: str | None = None,
                   revision: int | None = None) -> web.Response:
    error = {"status": status, "code": code, "message": message}
    if fields is not None:
        error["fields"] = fields
    if revision is not None:
        error["revision"] = revision
    if request_id is not None:
        error["request_id"] = request_id
    return web.json_response({"error": error}, status=status, headers=headers)


def validation_error(fields: dict, message: str = "the request is not valid") -> ApiError:
    return ApiError("validation_error", message, fields=fields)


CLIENT_CLOSED = 499

# aiohttp's own errors (no route, wrong method, body too large, ...) under our codes.
HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}


def _from_exception(exc: Exception) -> ApiError | None:
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, CapabilityError):
        return ApiError("not_supported", f"the sensor cannot do that: {exc}", fields=exc.fields)
    if isinstance(exc, ConfigRejected):
        return ApiError("not_supported", str(exc))
    if isinstance(exc, CameraShutDown):
        return ApiError("camera_shut_down", str(exc))
    if isinstance(exc, StreamInactive):
        return ApiError("stream_inactive", str(exc))
    if isinstance(exc, CameraBusy):
        return ApiError("camera_busy", str(exc), headers={"Retry-After": str(exc.retry_after)})
    if isinstance(exc, CameraUnavailable):
        return ApiError("camera_unavailable", str(exc), headers={"Retry-After": str(exc.retry_after)})
    if isinstance(exc, StateNotSaved):
        return ApiError("state_not_saved", str(exc), headers={"Retry-After": "1"})
    if isinstance(exc, DeviceTimeout):
        return ApiError("device_timeout", str(exc))
    if isinstance(exc, web.HTTPException) and exc.status >= 400:
        code = HTTP_CODES.get(exc.status, exc.reason.lower().replace(" ", "_"))
        headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
        return ApiError(code, exc.text or exc.reason, headers=headers, status=exc.status)
    return None


def answer_error(request: web.Request, exc: Exception) -> web.Response:
    """What a request that raised `exc` is answered (service/front.py): every error as JSON, the unknown ones
    logged as bugs."""
    if isinstance(exc, ConnectionResetError):
        # The client hung up before its request was read or answered: its own doing, one line. The status
        # (nginx's "client closed request") is only for /metrics: nobody is there to read it.
        log.info("request %s %s %s: the client closed the connection", REQUEST_ID.get(), request.method,
                 request.path)
        return web.Response(status=CLIENT_CLOSED)
    error = _from_exception(exc)
    if error is not None:
        if error.status == 404 and error.code == "not_found":
            error.message = f"no route for {request.method} {request.path}"
        return error_response(error.status, error.code, error.message, fields=error.fields,
                              headers=error.headers, revision=error.revision)
    request_id = REQUEST_ID.get()
    log.error("request %s %s %s failed", request_id, request.method, request.path, exc_info=exc)
    return error_response(500, "internal_error", "internal error; it was logged under the request id",
                          request_id=request_id)
