"""Every response a test gets is checked against the OpenAPI spec its app serves: status, content type, body
and documented headers; an error's code is one its operation lists (x-error-codes), and Retry-After and
X-State-Revision are declared wherever they are sent. Wired into aiohttp's TestClient by conftest, so spec
and behaviour cannot drift."""
from __future__ import annotations

import json
import re
import weakref
from urllib.parse import urlsplit

from aiohttp.test_utils import TestClient
from openapi_core import OpenAPI
from openapi_core.templating.paths.exceptions import PathNotFound, OperationNotFound
from openapi_core.testing import MockRequest, MockResponse

SPEC_PATH = "/api/docs/swagger.json"
STREAMING = ("multipart/x-mixed-replace", "text/event-stream")       # endless bodies: status and headers are checked, not the body
_specs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()      # app -> (OpenAPI, served spec)
_parsed: dict[bytes, tuple[OpenAPI, dict]] = {}     # served spec's text -> it parsed: an OpenAPI checks it (~1 s)
checked = {"responses": 0}
# A response the spec held to once holds again: openapi-core takes milliseconds a response, and most answers of a
# test are the same bytes and documented headers of the same operation and status.
_passed: set[tuple] = set()
_routes: dict[int, list[tuple[re.Pattern, str]]] = {}     # id(served spec) -> its paths as patterns, literal first
SENT_HEADERS = ("Retry-After", "X-State-Revision")     # declared on every answer that carries them
ANY_REQUEST = {"too_many_connections"}               # the connection cap's, before any route: no operation's


async def _spec_of(client: TestClient, request, headers: dict) -> tuple[OpenAPI, dict] | None:
    """The spec the client's app serves, fetched with the credentials of the request being checked."""
    app = getattr(client.server, "app", None)
    if app is None:
        return None
    if app not in _specs:
        auth = {k: v for k, v in headers.items() if k.lower() == "authorization"}
        resp = await request(client, "GET", SPEC_PATH, headers=auth)
        if resp.status != 200:
            return None          # tokens are on and this request has none: the next one may
        text = await resp.read()
        if text not in _parsed:
            served = json.loads(text)
            _parsed[text] = OpenAPI.from_dict(served), served
        _specs[app] = _parsed[text]
    return _specs[app]


async def check(client: TestClient, request, method: str, path: str, kwargs: dict, resp) -> None:
    url = urlsplit(str(resp.url))
    if url.path.startswith("/api/docs") or url.path == "/" or method == "HEAD" or resp.status == 405:
        return             # the docs, the page, HEAD and the router's 405 are no operation's answers
    found = await _spec_of(client, request, dict(kwargs.get("headers") or {}))
    if found is None:
        return
    spec, served = found
    content_type = resp.headers.get("Content-Type", "")
    if content_type.startswith(STREAMING):
        # The body never ends: the status and content type must be documented for the operation.
        operation = _operation(served, method, url.path)
        if operation is not None:
            documented = operation["responses"].get(str(resp.status), {}).get("content", {})
            assert content_type in documented, (method, url.path, resp.status, content_type, list(documented))
            _declared(operation["responses"][str(resp.status)], method, url.path, resp)
            checked["responses"] += 1
        return
    query = dict(kwargs.get("params") or {})
    query.update({k: v for k, v in (p.split("=", 1) for p in url.query.split("&") if "=" in p)})
    template = _template(served, method, url.path)
    if template is None:
        return             # not an operation of the API (a route that does not exist): nothing to hold it to
    path = url.path if url.path.endswith("/") == template.endswith("/") else \
        (url.path + "/" if template.endswith("/") else url.path.rstrip("/"))
    body = await resp.read()
    operation = served["paths"][template][method.lower()]
    documented = operation["responses"].get(str(resp.status), {})
    key = (id(served), template, method.lower(), resp.status, content_type, body,
           tuple((h, resp.headers.get(h)) for h in documented.get("headers", {})))
    if key not in _passed:
        mock_request = MockRequest("http://localhost", method.lower(), path, path_pattern=template, args=query,
                                   headers=dict(kwargs.get("headers") or {}))
        mock_response = MockResponse(body, status_code=resp.status, headers=dict(resp.headers),
                                     content_type=content_type.split(";")[0])
        try:
            spec.validate_response(mock_request, mock_response)
        except (PathNotFound, OperationNotFound):
            return             # not an operation of the API (a route that does not exist): nothing to hold it to
        _passed.add(key)
    documented = operation["responses"][str(resp.status)]      # documented under its own status, not a default
    _declared(documented, method, path, resp)
    if resp.status >= 400 and content_type.startswith("application/json") and "x-error-codes" in documented:
        code = json.loads(body)["error"]["code"]
        assert code in ANY_REQUEST or code in documented["x-error-codes"], (
            f"{method} {template} answered {resp.status} {code}, which its x-error-codes do not list: "
            f"{documented['x-error-codes']}")
    checked["responses"] += 1


def _declared(documented: dict, method: str, path: str, resp) -> None:
    """The headers an answer carries that clients act on are in the spec's response."""
    for header in SENT_HEADERS:
        if header in resp.headers:
            assert header in documented.get("headers", {}), (
                f"{method} {path} {resp.status} sends {header}, which the spec does not declare")


def _template(served: dict, method: str, path: str) -> str | None:
    """The spec's path that routes this request as the service does: a literal path before a templated one,
    with or without the trailing slash."""
    if id(served) not in _routes:
        _routes[id(served)] = [(re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(t.rstrip("/")))), t)
                               for t in sorted(served["paths"], key=lambda t: t.count("{"))]
    path = path.rstrip("/")
    return next((t for pattern, t in _routes[id(served)]
                 if method.lower() in served["paths"][t] and pattern.fullmatch(path)), None)


def _operation(served: dict, method: str, path: str) -> dict | None:
    template = _template(served, method, path)
    return served["paths"][template][method.lower()] if template else None


def install() -> None:
    """Patch TestClient so every request's response is checked before the test sees it."""
    original = TestClient._request

    async def _request(self, method, path, **kwargs):
        resp = await original(self, method, path, **kwargs)
        await check(self, original, method, path, kwargs, resp)
        return resp

    TestClient._request = _request
