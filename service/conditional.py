"""Conditional requests on a camera's state (RFC 9110 §13): its revision is the strong ETag `"<revision>"` of
every camera-scoped answer that carries X-State-Revision. A write with If-Match applies only to a state at one
of the revisions named, decided by the camera's actor in mailbox order (actors/messages.py Write.check), else
412 `revision_mismatch` and nothing changes; a GET with If-None-Match naming the current revision is a 304."""
from __future__ import annotations

import re

from aiohttp import web

from actors.errors import RevisionMismatch

from .errors import ApiError, validation_error

IF_MATCH = "if_match"             # request key: the revisions a write's If-Match names (None: any)
_TAG = re.compile(r'\s*(W/)?"([^"]*)"\s*')
_READS = ("GET", "HEAD")


def etag(revision: int) -> str:
    return f'"{revision}"'


def _tags(header: str, value: str) -> list[tuple[bool, str]] | None:
    """The entity tags of a header as (weak, opaque-tag) pairs; None for "*"."""
    if value.strip() == "*":
        return None
    tags = []
    for part in value.split(","):
        found = _TAG.fullmatch(part)
        if found is None:
            raise validation_error({header: ['Entity tags are quoted, as the ETag header gives them: "17", '
                                             'a comma-separated list of them, or *.']},
                                   f"the {header} header is not valid")
        tags.append((found[1] is not None, found[2]))
    return tags


def _revisions(tags: list[tuple[bool, str]], weak_too: bool) -> frozenset[int]:
    """The revisions named (If-Match compares strongly: a weak tag matches nothing)."""
    return frozenset(int(tag) for weak, tag in tags if tag.isdigit() and (weak_too or not weak))


@web.middleware
async def conditional_middleware(request: web.Request, handler) -> web.StreamResponse:
    if_match, if_none_match = request.headers.get("If-Match"), request.headers.get("If-None-Match")
    if if_match is None and if_none_match is None:        # the common case costs two lookups
        return await handler(request)
    matching = _tags("If-Match", if_match) if if_match is not None else None
    none_matching = _tags("If-None-Match", if_none_match) if if_none_match is not None else None
    if matching is not None:
        request[IF_MATCH] = _revisions(matching, weak_too=False)
    try:
        response = await handler(request)
        revision = response.headers.get("X-State-Revision")
        if request.method not in _READS or response.status != 200 or revision is None:
            return response
        current = int(revision)
        if matching is not None and current not in request[IF_MATCH]:      # a read with If-Match: as a write
            raise RevisionMismatch(f"the state is at revision {current}, not the one If-Match names; read it "
                                   "again", current)
    except RevisionMismatch as exc:
        raise ApiError(412, "revision_mismatch", str(exc), headers=response_headers(exc.revision),
                       revision=exc.revision) from None
    if if_none_match is not None and (none_matching is None or current in _revisions(none_matching, True)):
        return web.Response(status=304, headers=response_headers(current))
    return response


def response_headers(revision: int) -> dict:
    """The headers every answer about a camera's state carries: its revision, and the same as an ETag."""
    return {"X-State-Revision": str(revision), "ETag": etag(revision)}
