"""Conditional requests on a camera's state (RFC 9110 §13): its revision is the strong ETag `"<revision>"` of
every camera-scoped answer that carries X-State-Revision. A write with If-Match applies only to a state at one
of the revisions named, decided by the camera's actor in mailbox order (actors/messages.py Write.check), else
412 `revision_mismatch` and nothing changes; a GET with If-None-Match naming the current revision is a 304.

A tag is read leniently: a bare revision (`17`, as hand-written clients send it) counts as `"17"`; anything else
that is no entity tag names no revision, so an If-Match with it is a 412 that says what the revision is (never
a write applied against a condition the service could not read)."""
from __future__ import annotations

import re
from functools import lru_cache
from types import MappingProxyType

from aiohttp import web

from actors.errors import RevisionMismatch

from .errors import ApiError

IF_MATCH = web.RequestKey[frozenset[int] | None]("if_match")      # the revisions a write's If-Match names (None: any)
_TAG = re.compile(r'\s*(W/)?"([^"]*)"\s*|\s*()([0-9]+)\s*')
_READS = ("GET", "HEAD")


def etag(revision: int) -> str:
    return f'"{revision}"'


def _tags(value: str) -> list[tuple[bool, str]] | None:
    """The entity tags of a header as (weak, opaque-tag) pairs; None for "*"."""
    if value.strip() == "*":
        return None
    tags = []
    for part in value.split(","):
        found = _TAG.fullmatch(part)
        if found is not None:
            tags.append((found[1] is not None, found[2] if found[2] is not None else found[4]))
    return tags


def _revisions(tags: list[tuple[bool, str]], weak_too: bool) -> frozenset[int]:
    """The revisions named (If-Match compares strongly: a weak tag matches nothing)."""
    return frozenset(int(tag) for weak, tag in tags if tag.isdigit() and (weak_too or not weak))


def wanted(request: web.Request) -> bool:
    """Whether a request carries If-Match or If-None-Match (the common case costs two lookups)."""
    headers = request.headers
    return "If-Match" in headers or "If-None-Match" in headers


async def conditional(request: web.Request, handler) -> web.StreamResponse:
    """A request with If-Match or If-None-Match (service/front.py): a write carries its If-Match to the actor,
    a read answers 304 or 412 by the camera's revision."""
    if_match, if_none_match = request.headers.get("If-Match"), request.headers.get("If-None-Match")
    matching = _tags(if_match) if if_match is not None else None
    none_matching = _tags(if_none_match) if if_none_match is not None else None
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
        raise ApiError("revision_mismatch", str(exc), headers=response_headers(exc.revision),
                       revision=exc.revision) from None
    if if_none_match is not None and (none_matching is None or current in _revisions(none_matching, True)):
        return web.Response(status=304, headers=response_headers(current))
    return response


@lru_cache(maxsize=256)
def response_headers(revision: int) -> MappingProxyType:
    """The headers every answer about a camera's state carries: its revision, and the same as an ETag (made
    once a revision: GET control is the call a fleet controller polls)."""
    return MappingProxyType({"X-State-Revision": str(revision), "ETag": etag(revision)})
