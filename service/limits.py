"""A cap on concurrent connections, so that slow or idle clients (slowloris) cannot take every file descriptor
and leave the others unanswered: past the cap the oldest connection that has no request in progress (idle,
still sending its headers, or waiting for its body) is closed to make room; when every connection is busy, the new one is answered
503 at once."""
from __future__ import annotations

import json

from aiohttp import web

_BODY = json.dumps({"error": {"status": 503, "code": "too_many_connections",
                              "message": "the service has as many connections as it takes; try again"}}).encode()
BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
        b"Connection: close\r\nContent-Length: " + str(len(_BODY)).encode() + b"\r\n\r\n" + _BODY)
# Connections whose request waits for its body: idle as far as the cap is concerned (a stalled body is
# slowloris by other means).
WAITING_FOR_BODY: set = set()                  # emptied by the reads themselves


def cap_connections(server: web.Server, limit: int) -> None:
    """Answer connections beyond `limit` with 503 (the server is the runner's, after setup)."""
    made = server.connection_made

    def connection_made(handler, transport) -> None:
        made(handler, transport)
        if len(server.connections) > limit:
            idle = next((h for h in server.connections if h is not handler
                         and (h._current_request is None or h in WAITING_FOR_BODY)), None)
            if idle is not None:
                idle.force_close()
            else:
                transport.write(BUSY)
                transport.close()
    server.connection_made = connection_made
