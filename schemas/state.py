"""The shape of a saved state file; each stream's config and control are then checked by the request schemas."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from .fields import LaxBoolean, LaxInteger
from .ir import IRSchema


class SavedStreamSchema(Schema):
    active = LaxBoolean(required=True)
    config = fields.Dict(keys=fields.String(), required=True)
    control = fields.Dict(keys=fields.String(), required=True)
    nn = fields.Dict(keys=fields.String(), allow_none=True, load_default=None)


class StateFileSchema(Schema):
    version = LaxInteger(required=True)
    mxid = fields.String()
    revision = LaxInteger(load_default=0, validate=validate.Range(min=0))
    streams = fields.Dict(keys=fields.String(), values=fields.Dict(), required=True)
    shut_down = LaxBoolean(load_default=False)
    ir = fields.Nested(IRSchema, allow_none=True, load_default=None)
