"""Logging for journald: to stdout, plain text or one JSON object per line, with the request id on every line
written while a request is handled."""
from __future__ import annotations

import contextvars
import itertools
import json
import logging
import re
import sys
import uuid

from aiohttp import web

REQUEST_ID = contextvars.ContextVar("request_id", default="-")


_PREFIX = uuid.uuid4().hex[:8]       # this process's; a counter makes the rest (no system call a request)
_COUNTER = itertools.count(1)


def new_request_id(request: web.Request) -> str:
    """The client's X-Request-ID when it sent a sane one, else a new id."""
    given = request.headers.get("X-Request-ID", "")
    return given if 0 < len(given) <= 64 and given.isprintable() else f"{_PREFIX}-{next(_COUNTER):x}"


def request_id_header() -> dict[str, str]:
    """For a streaming response, made and prepared by its handler: the id its log lines carry."""
    return {"X-Request-ID": REQUEST_ID.get()}


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record), "level": record.levelname, "logger": record.name,
                 "message": record.getMessage(), "request_id": getattr(record, "request_id", "-")}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def setup(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


# What aiohttp quotes of a request it cannot parse may hold a token: a ?access_token= value, a whole
# `Authorization:` line, or a header's value alone ("Bearer ..." when that line is too long).
_SECRETS = re.compile(r"(access_token=)[^&\s'\"]*|(authorization:\s*)[^\n]*|(bearer\s+)[^\s'\"]+", re.IGNORECASE)


def _redacted(text: str) -> str:
    return _SECRETS.sub(lambda m: m.group(m.lastindex) + "REDACTED", text)


class _BadRequests(logging.Filter):
    """aiohttp logs every request it cannot parse (a NUL in a header, a line too long, an unknown method, a body
    its Content-Encoding does not decode) as an error with a traceback: a client's mistake, not ours. One
    warning line instead, with the tokens it quotes redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        from aiohttp.http_exceptions import HttpProcessingError
        from aiohttp.web_protocol import RequestPayloadError
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, (HttpProcessingError, RequestPayloadError)):
            record.msg = _redacted(f"{record.getMessage()}: {type(exc).__name__}: {getattr(exc, 'message', '') or exc}")
            record.args, record.exc_info, record.exc_text = (), None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


BAD_REQUESTS = _BadRequests()


def quiet_bad_requests() -> None:
    logging.getLogger("aiohttp.server").addFilter(BAD_REQUESTS)       # adding it twice keeps one
