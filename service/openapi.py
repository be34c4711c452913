"""OpenAPI pieces shared by the handlers' decorators: error responses, the three config shapes, the revision
header, and the security schemes."""
from __future__ import annotations

import copy

from aiohttp import web
from aiohttp_apigami import setup_aiohttp_apispec
from aiohttp_apigami.constants import API_SPEC_ATTR, SWAGGER_DICT

from schemas.config import CONFIG_SCHEMAS
from schemas.errors import ErrorSchema

ERROR_WHEN = {
    400: "The body cannot be decoded as its Content-Encoding says (for example, not gzip)",
    401: "A valid token is required (with --token-file): `Authorization: Bearer <token>` or ?access_token=",
    408: "The body stopped arriving for the body timeout (10 s); the connection is closed",
    404: "No such camera, no such stream on this camera (the message lists its streams)",
    409: "The stream is not active, or the camera is shut down (POST /cameras/{mxid}/ boots it)",
    413: "The body is larger than the limit",
    422: "The body, query, path or a header fails validation (shape, type, range, or what the sensor can do); "
         "`fields` has a message per field",
    503: "The camera is disconnected or booting, or its command queue is full; a model upload while two are "
         "under way (`uploads_busy`) or on a full disk (`model_not_saved`); see Retry-After",
    504: "The device did not answer in time",
}


def errors(*statuses: int) -> dict:
    if 413 in statuses:           # an operation that takes a body can also get one it cannot decode or that stalls
        statuses = (400, 408, *statuses)
    out = {s: {"description": ERROR_WHEN[s], "content": {"application/json": {"schema": ErrorSchema}}}
           for s in statuses}
    out[500] = {"description": "A bug: logged under the request_id the body carries",
                "content": {"application/json": {"schema": ErrorSchema}}}
    return out


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
                "description": "If-Match names another revision than the camera's state has: nothing changed; "
                               "the body's `revision` and the headers give the current one",
                "headers": REVISION_HEADER, "content": {"application/json": {"schema": error}}}
            if method == "get":
                parameters.append(_IF_NONE_MATCH)
                operation["responses"]["304"] = {"description": "The camera's state is still at the revision "
                                                                "If-None-Match names", "headers": REVISION_HEADER}


# apispec resolves schemas inside the handlers' docs in place; keep the originals so every app (tests make
# many) builds its spec from them.
_PRISTINE: dict = {}


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
                    "description": ERROR_WHEN[401], "content": {"application/json": {"schema": {
                        "$ref": "#/components/schemas/Error"}}}}


def _operation_ids(app: web.Application, spec: dict) -> None:
    """Each operation is named after its handler (list_cameras, update_control, still, ...): the names that
    clients generated from the spec give their functions."""
    names = {(route.resource.canonical.rstrip("/"), route.method.lower()): route.handler.__name__
             for route in app.router.routes() if route.resource is not None and hasattr(route.handler, API_SPEC_ATTR)}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            operation["operationId"] = names[(path.rstrip("/"), method)]


def setup(app: web.Application, version: str, tokens: bool = False) -> None:
    for route in app.router.routes():
        if hasattr(route.handler, API_SPEC_ATTR):
            original = _PRISTINE.setdefault(route.handler, copy.deepcopy(getattr(route.handler, API_SPEC_ATTR)))
            setattr(route.handler, API_SPEC_ATTR, copy.deepcopy(original))
    setup_aiohttp_apispec(app, title="oak-camera-service", version=version, openapi_version="3.0.3",
                          url="/api/docs/swagger.json", swagger_path="/api/docs", in_place=True,
                          info={"description": "REST API for Luxonis OAK cameras: list cameras, switch "
                                               "streams, configure and control sensors, take stills."})
    spec = app[SWAGGER_DICT]
    spec["paths"] = dict(sorted(spec["paths"].items()))     # the router's order is by traffic, not for reading
    # `produces` is Swagger 2.0; OpenAPI 3 says the media types under each response's content.
    for item in spec["paths"].values():
        for operation in item.values():
            operation.pop("produces", None)
    _security(spec, tokens)
    _conditional(spec)
    _operation_ids(app, spec)
    # The docs, as every other path, with and without the trailing slash (no redirect).
    for route in list(app.router.routes()):
        path = route.resource.canonical if route.resource is not None else ""
        if route.method == "GET" and path in ("/api/docs", "/api/docs/swagger.json"):
            app.router.add_get(path + "/", route.handler)
