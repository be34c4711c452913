"""GET /events: what it takes (filters, where to resume) and what each event holds."""
from __future__ import annotations

import re

from marshmallow import Schema, ValidationError, fields

from .params import MXID_PATTERN, TokenQuerySchema

CAMERA_EVENTS = ("camera_added", "camera_state", "stream_activated", "stream_deactivated", "config", "control",
                 "ir", "nn_deployed", "nn_removed")
GATEWAY_EVENTS = ("gateway_started", "gateway_stopped")
EVENT_TYPES = (*GATEWAY_EVENTS, *CAMERA_EVENTS, "reset")
EVENT_ID = re.compile(r"([0-9a-f]{32}):([0-9]{1,18})")
EVENT_ID_PATTERN = f"^{EVENT_ID.pattern}$"


class CommaList(fields.String):
    """A comma-separated list in a query string, each item checked by `item`; loads as a frozenset."""

    def __init__(self, item, **kwargs):
        super().__init__(**kwargs)
        self.item = item

    def _deserialize(self, value, attr, data, **kwargs):
        items = [v.strip() for v in super()._deserialize(value, attr, data, **kwargs).split(",")]
        bad = [v for v in items if not self.item(v)]
        if bad:
            raise ValidationError(f"Not valid: {', '.join(repr(b) for b in bad)}.")
        return frozenset(items)


def parse_event_id(text: str) -> tuple[str, int]:
    found = EVENT_ID.fullmatch(text.strip())
    if found is None:
        raise ValidationError("An event id is `<boot id>:<sequence>`, as the events' `id` gives it.")
    return found[1], int(found[2])


class EventIdField(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        return parse_event_id(super()._deserialize(value, attr, data, **kwargs))


class EventsQuerySchema(TokenQuerySchema):
    mxid = CommaList(lambda v: re.fullmatch(MXID_PATTERN.strip("^$"), v) is not None, metadata={
        "description": "Only these cameras' events (comma-separated mxids); the gateway's own events and "
                       "`reset` always come"})
    type = CommaList(lambda v: v in EVENT_TYPES, metadata={
        "description": f"Only events of these types (comma-separated): {', '.join(EVENT_TYPES)}; `reset` always "
                       "comes"})
    last_event_id = EventIdField(metadata={"pattern": EVENT_ID_PATTERN,
        "description": "Resume after this event (for clients that cannot send the Last-Event-ID header, which "
                       "wins when both are given)"})


class EventSchema(Schema):
    """The data of one event (the SSE `data:` line; `id:` and `event:` repeat its id and type)."""
    id = fields.String(required=True, metadata={
        "description": "`<boot id>:<sequence>`: the sequence orders every event of this run of the service",
        "example": "3f1c0a9e8b2d4c6f9a7e5d3b1c0f2e4a:42"})
    seq = fields.Integer(required=True)
    boot_id = fields.String(required=True, metadata={"description": "As GET /gateway gives it: new on every start"})
    type = fields.String(required=True, metadata={"enum": list(EVENT_TYPES)})
    mxid = fields.String(required=True, allow_none=True, metadata={"description": "null for the gateway's events"})
    revision = fields.Integer(required=True, allow_none=True, metadata={
        "description": "The camera's state revision after the change (its ETag); null for the gateway's events"})
    time = fields.DateTime(required=True)
    data = fields.Dict(required=True, metadata={"description": (
        "The new value: camera_added the camera (as GET /cameras/{mxid}/); camera_state `state`, `last_error`, "
        "`state_since`, `reconnects`; stream_activated, stream_deactivated and nn_removed `stream`; config "
        "`stream` and `config`; control `stream` and `control` (as set); ir `ir`; nn_deployed `stream` and "
        "`nn`; gateway_started the gateway (as GET /gateway); reset `reason`")})
