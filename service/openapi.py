"""OpenAPI pieces shared by the handlers' decorators: error responses, the three config shapes, the revision
header, and the security schemes; the spec built from them, and its routes (the spec, Swagger UI)."""
from __future__ import annotations

import asyncio
import copy
import inspect
import os
import warnings
from functools import cache
from string import Template

from aiohttp import web
from aiohttp.web_exceptions import NotAppKeyWarning
from aiohttp_apigami import AiohttpApiSpec
from aiohttp_apigami.constants import API_SPEC_ATTR, SWAGGER_DICT
from aiohttp_apigami.swagger_ui import INDEX_PAGE, SWAGGER_UI_STATIC_FILES

from schemas.config import CONFIG_SCHEMAS
from schemas.errors import ErrorSchema

from .errors import CODES

STATUS = {400: "Bad request", 401: "Unauthorized", 404: "Not found", 405: "Method not allowed",
          408: "Request timeout", 409: "Conflict", 412: "Precondition failed", 413: "Body too large", 422: "Unprocessable", 500: "Internal error",
          503: "Unavailable", 504: "Device timeout"}
RETRY_AFTER = {"Retry-After": {"description": "Seconds after which the request may succeed",
                               "schema": {"type": "integer"}}}

# The codes operations share: a camera's path, a stream's, a command the camera's actor runs, a write it saves,
# a JSON body.
CAMERA = ("camera_not_found", "validation_error")
STREAM = (*CAMERA, "stream_not_found")
ASK = ("camera_unavailable", "camera_busy", "device_timeout")
WRITE = (*ASK, "state_not_saved", "not_supported")
BODY = ("body_too_large", "invalid_json")


def error_response(codes: list[str], status: int) -> dict:
    """One status's error answer: the codes an operation answers with it (`x-error-codes`, and each with its
    meaning in the description, from service/errors.py's CODES); a 503 carries Retry-After."""
    out = {"description": f"{STATUS[status]}:\n" + "\n".join(f"- `{c}`: {CODES[c][1]}" for c in codes),
           "x-error-codes": list(codes), "content": {"application/json": {"schema": ErrorSchema}}}
    if status == 503:
        out["headers"] = RETRY_AFTER
    return out


def errors(*codes: str) -> dict:
    """The error answers of an operation that answers these codes, by status. One that takes a body can also
    get one it cannot decode or that stalls; every one may meet a bug (500)."""
    if "body_too_large" in codes:
        codes = ("bad_request", "request_timeout", *codes)
    by_status: dict[int, list[str]] = {}
    for code in dict.fromkeys((*codes, "internal_error")):
        by_status.setdefault(CODES[code][0], []).append(code)
    return {status: error_response(listed, status) for status, listed in sorted(by_status.items())}


def any_of_configs(partial: bool = False) -> dict:
    """The three config shapes. anyOf, not oneOf: a partial body such as {"fps": 10} fits all three, and a
    validator must accept it; which shape applies depends on the stream (a 422 says so)."""
    schemas = [cls(partial=True) if partial else cls for cls in CONFIG_SCHEMAS.values()]
    return {"content": {"application/json": {"schema": {"anyOf": schemas}}}}


REVISION_HEADER = {
    "X-State-Revision": {"description": "The camera's state revision (after this request, for a write); a later "
                                        "write has a higher one", "schema": {"type": "integer"}},
    "ETag": {"description": 'The same revision as a strong entity tag, `"17"`: what If-Match and If-None-Match '
                            "name", "schema": {"type": "string"}}}

_IF_MATCH = {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
             "description": 'Apply only if the camera\'s state is at this revision (its ETag, `"17"`; a list, or `*` '
                            "for any): checked as the camera applies the request, after every write before it; "
                            "else 412 `revision_mismatch` with the current revision, and nothing changes. A value "
                            "that names no revision (no entity tag) is a 412 too"}
_IF_NONE_MATCH = {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"},
                  "description": "304 with no body when the camera's state is still at this revision (its ETag)"}


def _conditional(spec: dict) -> None:
    """If-Match on every operation that answers a camera's state revision, If-None-Match on its reads, with
    their 412 and 304."""
    error = {"$ref": "#/components/schemas/Error"}
    for item in spec["paths"].values():
        for method, operation in item.items():
            if not any("X-State-Revision" in (r.get("headers") or {}) for s, r in operation["responses"].items()
                       if s.startswith("2")):
                continue
            parameters = operation.setdefault("parameters", [])
            parameters.append(_IF_MATCH)
            operation["responses"]["412"] = {
                **error_response(["revision_mismatch"], 412),
                "headers": REVISION_HEADER, "content": {"application/json": {"schema": error}}}
            if method == "get":
                parameters.append(_IF_NONE_MATCH)
                operation["responses"]["304"] = {"description": "The camera's state is still at the revision "
                                                                "If-None-Match names", "headers": REVISION_HEADER}


# What a still or preview's frame was taken with, and when (service/streams.py frame_headers sends them). The
# NN results' `sequence` and `timestamp` are the same numbers for the same frame.
FRAME_HEADERS = {
    "X-Frame-Sequence": {"description": "The camera's number of the frame (a network's results for the frame "
                                        "carry it as `sequence`)", "required": True, "schema": {"type": "integer"}},
    "X-Frame-Timestamp": {"description": "When the frame was taken: seconds of the gateway's monotonic clock, to "
                                         "which the camera's clock is synced (a network's results for the frame "
                                         "carry it as `timestamp`)", "required": True, "schema": {"type": "number"}},
    "X-Frame-Device-Timestamp": {"description": "When the frame was taken, on the camera's own clock: seconds "
                                                "since it booted", "required": True, "schema": {"type": "number"}},
    "X-Frame-Host-Time": {"description": "When the frame was taken, as the gateway's wall clock says: Unix time "
                                         "in seconds", "required": True, "schema": {"type": "number"}},
    "X-Exposure-Time": {"description": "The exposure the frame was taken with, µs (colour and mono streams)",
                        "schema": {"type": "integer"}},
    "X-Sensitivity-ISO": {"description": "The sensitivity the frame was taken with, ISO (colour and mono "
                                         "streams)", "schema": {"type": "integer"}},
    "X-Lens-Position": {"description": "Where the lens was, 0.0 (far) to 1.0 (near), as `lens_position` (sensors "
                                       "with autofocus)", "schema": {"type": "number"}},
}


# apispec resolves schemas inside the handlers' docs in place; keep the originals so that a spec can be built
# again from them.
_PRISTINE: dict = {}
# Specs built, by what they are built from (routes, version, tokens): building one takes about a second of CPU,
# and the tests make an app per test. Apps share the one built, which nothing changes after.
_BUILT: dict[tuple, dict] = {}


OPEN = {"/healthz", "/readyz"}       # what a probe reaches without a token


def _security(spec: dict, tokens: bool) -> None:
    """Bearer tokens (or ?access_token= for <img> and <video> tags) on every operation but the probes: required
    when the service runs with tokens, optional otherwise."""
    spec.setdefault("components", {})["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer"},
        "access_token": {"type": "apiKey", "in": "query", "name": "access_token"}}
    required = [{"bearer": []}, {"access_token": []}]
    for path, item in spec["paths"].items():
        if path in OPEN:
            continue
        for operation in item.values():
            operation["security"] = required if tokens else [{}, *required]
            if tokens:
                operation["responses"]["401"] = {
                    **error_response(["unauthorized"], 401),
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


PARTIAL = "Partial-"


def _partial_bodies(spec: dict) -> None:
    """A partial body (Partial-*: the config, control and IR updates) declares no defaults, and the objects it
    nests are partial too: a client generated from the spec sends only the fields it was given, so an update
    changes only what it names (a default there would be sent as if chosen, over another client's value)."""
    schemas = spec["components"]["schemas"]

    def partial(node, schema: bool = True):
        if isinstance(node, dict) and not schema:                   # a properties map: its values are schemas
            for value in node.values():
                partial(value)
        elif isinstance(node, dict):
            ref = node.get("$ref", "")
            name = ref.rsplit("/", 1)[-1]
            if ref and not name.startswith(PARTIAL):
                if PARTIAL + name not in schemas:
                    schemas[PARTIAL + name] = copy.deepcopy(schemas[name])
                    schemas[PARTIAL + name].pop("required", None)
                    partial(schemas[PARTIAL + name])
                node["$ref"] = ref.rsplit("/", 1)[0] + "/" + PARTIAL + name
            node.pop("default", None)
            for key, value in node.items():
                partial(value, key != "properties")
        elif isinstance(node, list):
            for value in node:
                partial(value)

    for name in [n for n in schemas if n.startswith(PARTIAL)]:
        partial(schemas[name])


def _operation_ids(app: web.Application, spec: dict) -> None:
    """Each operation is named after its handler (list_cameras, update_control, still, ...): the names that
    clients generated from the spec give their functions."""
    names = {(route.resource.canonical.rstrip("/"), route.method.lower()): route.handler.__name__
             for route in app.router.routes() if route.resource is not None and hasattr(route.handler, API_SPEC_ATTR)}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            operation["operationId"] = names[(path.rstrip("/"), method)]


class _Spec(AiohttpApiSpec):
    """aiohttp-apigami's spec, built once for the same routes (the handlers behind the front door), version and
    tokens."""

    def __init__(self, app: web.Application, tokens: bool, **options):
        self._key = (options["version"], tokens,
                     tuple((r.method, r.resource.canonical, inspect.unwrap(r.handler)) for r in app.router.routes()
                           if r.resource and hasattr(r.handler, API_SPEC_ATTR)))
        self._tokens = tokens
        super().__init__(app=app, **options)

    def _register(self, app: web.Application) -> None:
        if self._key not in _BUILT:
            for route in app.router.routes():
                if hasattr(route.handler, API_SPEC_ATTR):
                    original = _PRISTINE.setdefault(inspect.unwrap(route.handler), copy.deepcopy(getattr(route.handler, API_SPEC_ATTR)))
                    setattr(route.handler, API_SPEC_ATTR, copy.deepcopy(original))
            super()._register(app)
            _BUILT[self._key] = _finish(app, app[SWAGGER_DICT], self._tokens)
        app[SWAGGER_DICT] = _BUILT[self._key]


def _finish(app: web.Application, spec: dict, tokens: bool) -> dict:
    spec["paths"] = dict(sorted(spec["paths"].items()))     # the router's order is by traffic, not for reading
    # `produces` is Swagger 2.0; OpenAPI 3 says the media types under each response's content.
    for item in spec["paths"].values():
        for operation in item.values():
            operation.pop("produces", None)
    _security(spec, tokens)
    _conditional(spec)
    _operation_ids(app, spec)
    _partial_bodies(spec)
    return spec


def setup(app: web.Application, version: str, tokens: bool = False) -> None:
    """The spec of the routes added so far; its routes (add_routes) serve it."""
    with warnings.catch_warnings():      # aiohttp-apigami keys the app by plain strings (SWAGGER_DICT too, set here)
        warnings.filterwarnings("ignore", category=NotAppKeyWarning, module=r"aiohttp_apigami|service\.openapi")
        _Spec(app, tokens, title="oak-camera-service", version=version, openapi_version="3.0.3", url="",
              in_place=True, info={"description": "REST API for Luxonis OAK cameras: list cameras, switch "
                                                  "streams, configure and control sensors, take stills."})


# The spec and Swagger UI are served here rather than by aiohttp-apigami, whose routes would not be behind the
# front door (service/front.py): no token asked, errors not JSON.
SPEC_PATH, UI_PATH, UI_FILES = "/api/docs/swagger.json", "/api/docs", "/static/swagger"


async def spec_document(request: web.Request) -> web.Response:
    return web.json_response(request.app[SWAGGER_DICT])


@cache
def _ui() -> tuple[str, frozenset[str]]:
    """Swagger UI's page, pointed at the spec, and the names of its files (the page's template is not one)."""
    page = Template((SWAGGER_UI_STATIC_FILES / INDEX_PAGE).read_text()).substitute(
        path=SPEC_PATH, static=UI_FILES, layout="StandaloneLayout")
    return page, frozenset(os.listdir(SWAGGER_UI_STATIC_FILES)) - {INDEX_PAGE}


async def ui_page(request: web.Request) -> web.Response:
    page, _ = await asyncio.to_thread(_ui)
    return web.Response(text=page, content_type="text/html")


async def ui_file(request: web.Request) -> web.StreamResponse:
    _, names = await asyncio.to_thread(_ui)
    if request.match_info["name"] not in names:
        raise web.HTTPNotFound()
    return web.FileResponse(SWAGGER_UI_STATIC_FILES / request.match_info["name"])


def add_routes(add) -> None:
    add("GET", SPEC_PATH, spec_document)
    add("GET", UI_PATH, ui_page)
    add("GET", UI_FILES + "/{name}", ui_file)
