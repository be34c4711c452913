"""Every error as JSON in one shape: {"error": {"status", "code", "message", ["fields"], ["request_id"]}}."""
from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from actors.capabilities import CapabilityError
from actors.errors import CameraShutDown, CameraUnavailable, ConfigRejected, DeviceTimeout, StateNotSaved, StreamInactive

from .logs import REQUEST_ID

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, fields: dict | None = None,
                 headers: dict | None = None, revision: int | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.fields, self.headers = status, code, message, fields, headers
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
    return ApiError(422, "validation_error", message, fields=fields)


CLIENT_CLOSED = 499

# aiohttp's own errors (no route, wrong method, body too large, ...) under our codes.
HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}


def _from_exception(exc: Exception) -> ApiError | None:
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, CapabilityError):
        return ApiError(422, "not_supported", f"the sensor cannot do that: {exc}", fields=exc.fields)
    if isinstance(exc, ConfigRejected):
        return ApiError(422, "not_supported", str(exc))
    if isinstance(exc, CameraShutDown):
        return ApiError(409, "camera_shut_down", str(exc))
    if isinstance(exc, StreamInactive):
        return ApiError(409, "stream_inactive", str(exc))
    if isinstance(exc, CameraUnavailable):
        return ApiError(503, "camera_unavailable", str(exc), headers={"Retry-After": str(exc.retry_after)})
    if isinstance(exc, StateNotSaved):
        return ApiError(503, "state_not_saved", str(exc), headers={"Retry-After": "1"})
    if isinstance(exc, DeviceTimeout):
        return ApiError(504, "device_timeout", str(exc))
    if isinstance(exc, web.HTTPException) and exc.status >= 400:
        code = HTTP_CODES.get(exc.status, exc.reason.lower().replace(" ", "_"))
        headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
        return ApiError(exc.status, code, exc.text or exc.reason, headers=headers)
    return None


@web.middleware
async def error_middleware(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except asyncio.CancelledError:
        raise
    except ConnectionResetError:
        # The client hung up before its request was read or answered: its own doing, one line. The status
        # (nginx's "client closed request") is only for /metrics: nobody is there to read it.
        log.info("request %s %s %s: the client closed the connection", REQUEST_ID.get(), request.method,
                 request.path)
        return web.Response(status=CLIENT_CLOSED)
    except Exception as exc:  # noqa: BLE001 (every error becomes JSON; the unknown ones are logged as bugs)
        error = _from_exception(exc)
        if error is not None:
            if error.status == 404 and error.code == "not_found":
                error.message = f"no route for {request.method} {request.path}"
            return error_response(error.status, error.code, error.message, fields=error.fields,
                                  headers=error.headers, revision=error.revision)
        request_id = REQUEST_ID.get()
        log.exception("request %s %s %s failed", request_id, request.method, request.path)
        return error_response(500, "internal_error", "internal error; it was logged under the request id",
                              request_id=request_id)
