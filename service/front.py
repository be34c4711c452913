"""The front door every request meets: its id and token (security.admission), its If-Match and If-None-Match
(conditional), and every error it raises answered as JSON (errors.answer_error), the 412s and 422s of its
conditions among them; and its id in the response's X-Request-ID (a streaming response, prepared by its
handler, takes logs.request_id_header() when made: an on_response_prepare signal for it cost 6% of bench-api's
throughput).

It wraps each route's handler rather than being an aiohttp middleware: with any middleware aiohttp adds its own
(`_fix_request_current_app`) and calls through both on every request, which cost a sixth of the CPU a GET
control took beyond a bare handler (make bench-api). A request no route takes meets the last route (`Anything`,
`no_route`), so that its 404 or 405 goes through the same door."""
from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable

from aiohttp import HttpVersion11, web

from . import conditional, security
from .errors import answer_error
from .logs import REQUEST_ID

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
NO_ROUTE = "no-route"       # the name of the last route's resource (metrics counts it as "(no route)")


def front_door(tokens: list[str]) -> Callable[[Handler], Handler]:
    """What wraps a handler (service/app.py _routes)."""
    admit = security.admission(tokens)

    def door(handler):
        async def front(request: web.Request) -> web.StreamResponse:
            response = admit(request)
            if response is None:
                try:
                    if conditional.wanted(request):
                        response = await conditional.conditional(request, handler)
                    else:
                        response = await handler(request)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 (every error becomes JSON; the unknown ones are logged as bugs)
                    response = answer_error(request, exc)
                    if response.headers.get("Connection") == "close":
                        response = await _send_and_close(request, response)
            if not response.prepared:            # a streaming response was given its id when it was made
                response.headers["X-Request-ID"] = REQUEST_ID.get()
            return response
        return front
    return door


async def expect(request: web.Request) -> None:
    """A request's Expect, before its handler runs: 100-continue is answered as aiohttp does; any other
    expectation is ignored (RFC 9110 §10.1.1 allows it), so the request meets the door (its token, a JSON
    answer) rather than aiohttp's plain-text 417."""
    if request.version == HttpVersion11 and request.headers.get("Expect", "").lower() == "100-continue":
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0      # the answer's own size starts after it (as aiohttp's does)


class Anything(web.PlainResource):
    """The last resource: it matches every request target the router looks at, "*" (OPTIONS *) too, which no
    path pattern matches. (A target with no path at all, a CONNECT's, never reaches the router: aiohttp answers
    it a plain 404.)"""

    def __init__(self) -> None:
        super().__init__("/", name=NO_ROUTE)

    def _match(self, path: str) -> dict[str, str]:
        return {}

    def raw_match(self, path: str) -> bool:
        return False


def no_route(resources) -> Handler:
    """The handler of the last route, which takes every request the `resources` did not: a 405 naming the
    methods the path has, or a 404. Only the resources whose paths have as many segments as the path can match
    it, so a client trying paths that do not exist costs a few matches each; one with a variable that may match
    a "/" (its own pattern) is always tried."""
    by_segments: dict[int | None, list] = {}
    for resource in resources:
        info = resource.get_info()
        spans = "pattern" in info and info["pattern"].fullmatch(
            info["formatter"].format_map(defaultdict(lambda: "a/b"))) is not None
        by_segments.setdefault(None if spans else resource.canonical.count("/"), []).append(resource)

    async def no_route(request: web.Request) -> web.StreamResponse:
        allowed: set[str] = set()
        for resource in (*by_segments.get(request.rel_url.path_safe.count("/"), ()), *by_segments.get(None, ())):
            allowed |= (await resource.resolve(request))[1]
        if allowed:
            raise web.HTTPMethodNotAllowed(request.method, allowed)
        raise web.HTTPNotFound()
    return no_route


async def _send_and_close(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """An answer to a body abandoned part-way (stalled, undecodable): sent, then its connection closed at once.
    Left to aiohttp, the connection would go on reading the rest of the body for its lingering time (10 s).
    A client that hung up first is one that closed its connection (a 499)."""
    response.headers["X-Request-ID"] = REQUEST_ID.get()
    try:
        await response.prepare(request)
        await response.write_eof()
    except ConnectionResetError as exc:
        return answer_error(request, exc)
    request.protocol.force_close()           # the transport sends what it holds, then closes
    return response
