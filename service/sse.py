"""GET /events: the gateway's events as Server-Sent Events (aiohttp-sse), resumable with Last-Event-ID."""
from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp_apigami import docs, querystring_schema
from aiohttp_sse import EventSourceResponse
from marshmallow import ValidationError

from schemas.events import EVENT_ID_PATTERN, EventSchema, EventsQuerySchema, parse_event_id

from . import openapi
from .errors import validation_error
from .events import EVENTS, HISTORY, QUEUE, SEP
from .inputs import load
from .logs import request_id_header

KEEPALIVE = 15.0          # s between keep-alive comments, so proxies and clients see the stream is alive
SEND_TIMEOUT = 30.0       # s a client may leave an event unread in full buffers before it is dropped
LOOK = 1.0                # s between looks at whether the client is still there, while nothing happens
_query = EventsQuerySchema()


@docs(tags=["service"], summary="Watch Events",
      description="Server-Sent Events (`text/event-stream`), one per change: `id:` `<boot id>:<sequence>`, "
                  "`event:` the type, `data:` an Event as JSON (its camera's mxid, state revision after the "
                  "change, time and the new value). A client that reconnects with `Last-Event-ID` (an "
                  f"EventSource does so itself) gets every event it missed, from a history of the latest {HISTORY}; "
                  "one whose event the history no longer holds, or that is of an earlier run of the service, "
                  f"gets a `reset` event first and lists again. A client that falls {QUEUE} events behind gets a "
                  f"`reset` instead of them. A keep-alive comment comes every {KEEPALIVE:g} s; the gateway's stop "
                  "is a `gateway_stopped` event, then the stream ends.",
      parameters=[{"name": "Last-Event-ID", "in": "header", "required": False,
                   "schema": {"type": "string", "pattern": EVENT_ID_PATTERN},
                   "description": "Resume after this event: `<boot id>:<sequence>`"}],
      responses={200: {"description": "The events, endless",
                       "content": {"text/event-stream": {"schema": EventSchema}}}, **openapi.errors("validation_error")})
@querystring_schema(EventsQuerySchema)
async def events(request: web.Request) -> web.StreamResponse:
    query = load(_query, dict(request.query), what="query")
    after = query.get("last_event_id")
    if "Last-Event-ID" in request.headers:
        try:
            after = parse_event_id(request.headers["Last-Event-ID"])
        except ValidationError as exc:
            raise validation_error({"Last-Event-ID": exc.messages}, "the Last-Event-ID header is not valid") from None
    subscription = request.app[EVENTS].subscribe(after, query.get("mxid"), query.get("type"))
    response = EventSourceResponse(ping_interval=KEEPALIVE, send_timeout=SEND_TIMEOUT, sep=SEP,
                                   headers={"X-Accel-Buffering": "no", **request_id_header()})     # proxies: pass each event on at once
    try:
        await response.prepare(request)
        while True:
            taken = await subscription.take(LOOK)
            if taken:
                # Everything queued in one write: one wakeup and one send a batch, not one an event.
                await _send(request, response, b"".join(event.frame for event in taken))
            elif subscription.closed:
                break                         # the gateway stops: its gateway_stopped was the last event
            elif request.transport is None or request.transport.is_closing() or not response.is_connected():
                break                         # the client left
    except (ConnectionError, TimeoutError):
        pass                                  # the client left, or stopped reading for SEND_TIMEOUT
    finally:
        subscription.close()
        if response.prepared:
            response.stop_streaming()
    return response


async def _send(request: web.Request, response: EventSourceResponse, frames: bytes) -> None:
    """Events already framed, as EventSourceResponse.send writes one: a client that leaves them unread in full
    buffers for SEND_TIMEOUT is cut off."""
    try:
        async with asyncio.timeout(SEND_TIMEOUT):
            await response.write(frames)
    except TimeoutError:
        if (transport := request.transport) is not None:
            transport.abort()             # a stalled client never drains the buffer: a close would wait on it
        raise


def add_routes(add) -> None:
    add("GET", "/events", events, head=False)
