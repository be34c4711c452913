"""Access control: bearer tokens, and CORS for an allow-list of browser origins."""
from __future__ import annotations

import hmac

from aiohttp import web

from .errors import error_response
from .openapi import FRAME_HEADERS
from .logs import REQUEST_ID, new_request_id

# The headers a page on another origin may read (a browser hides the rest).
EXPOSED = ", ".join(("X-State-Revision", "ETag", "X-Request-ID", "Retry-After", *FRAME_HEADERS))

OPEN_PATHS = frozenset({"/healthz", "/healthz/", "/readyz", "/readyz/"})   # what a load balancer probes without a token


def admission(tokens: list[str]):
    """The first check every request meets (service/front.py): it gets its request id (for its log lines and
    its response), and, when `tokens` are set, it must carry one: `Authorization: Bearer <token>`, or
    ?access_token=<token> for an <img> tag or a page, which cannot set headers. Tokens are compared in
    constant time. The check answers the 401, or None to let the request in."""
    secrets = [t.encode() for t in tokens]

    def admit(request: web.Request) -> web.Response | None:
        REQUEST_ID.set(new_request_id(request))   # each request runs in its own task: the value stays with it
        if not secrets:
            return None
        header = request.headers.get("Authorization")
        if header is not None and header[:7].lower() == "bearer ":
            given = header[7:].strip()
        else:
            given = request.query.get("access_token", "")
        given_bytes, matched = given.encode("utf-8", "surrogateescape"), False     # any bytes a client sent
        for secret in secrets:        # every token is compared: the time taken tells nothing of which matched
            matched |= hmac.compare_digest(given_bytes, secret)
        if matched or request.path in OPEN_PATHS or _preflight(request):
            return None
        return error_response(401, "unauthorized", "the token is not valid" if given else
                              "a valid bearer token is required (Authorization: Bearer <token>)",
                              headers={"WWW-Authenticate": 'Bearer realm="oak-camera-service"'})
    return admit


def _preflight(request: web.Request) -> bool:
    """A browser's CORS preflight: it carries no credentials, so it passes without a token (no other OPTIONS
    does: it would tell a stranger which paths exist and what they take)."""
    return request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers


def setup_cors(app: web.Application, origins: list[str]) -> None:
    """CORS for the origins listed ("*" for any); other origins get no CORS headers, so browsers refuse them.
    Preflights are answered by a middleware; the headers of every other response (streaming ones too) are
    added just before it is sent."""
    allowed = frozenset(origins)

    def permitted(request: web.Request) -> str | None:
        origin = request.headers.get("Origin")
        return origin if origin is not None and ("*" in allowed or origin in allowed) else None

    @web.middleware
    async def preflight(request: web.Request, handler) -> web.StreamResponse:
        if _preflight(request) and permitted(request):
            return web.Response(status=204, headers={
                "X-Request-ID": new_request_id(request),
                "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
                "Access-Control-Allow-Headers": "Authorization, Content-Type, X-Request-ID, If-Match, If-None-Match, "
                                                "Last-Event-ID",
                "Access-Control-Max-Age": "600"})
        return await handler(request)

    async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
        origin = permitted(request)
        if origin is not None:
            response.headers.update({"Access-Control-Allow-Origin": origin, "Vary": "Origin",
                                     "Access-Control-Expose-Headers": EXPOSED})

    app.middlewares.append(preflight)
    app.on_response_prepare.append(add_headers)
