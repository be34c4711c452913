"""The one middleware every request meets, since each layer costs every request: its id and token
(security.admission), its If-Match and If-None-Match (conditional), and every error it raises answered as JSON
(errors.answer_error), the 412s and 422s of its conditions among them; and its id in the response's
X-Request-ID (a streaming response, prepared by its handler, takes logs.request_id_header() when made: an
on_response_prepare signal for it cost 6% of bench-api's throughput)."""
from __future__ import annotations

import asyncio

from aiohttp import web

from . import conditional, security
from .errors import answer_error
from .logs import REQUEST_ID


def front_door(tokens: list[str]):
    admit = security.admission(tokens)

    @web.middleware
    async def front(request: web.Request, handler) -> web.StreamResponse:
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
