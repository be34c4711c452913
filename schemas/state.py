"""The shape of a saved state file; each stream's config and control are then checked by the request schemas."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from .fields import StrictBoolean, StrictInteger


class SavedStreamSchema(Schema):
    active = StrictBoolean(required=True)
    config = fields.Dict(keys=fields.String(), required=True)
    control = fields.Dict(keys=fields.String(), required=True)


class StateFileSchema(Schema):
    version = StrictInteger(required=True)
    mxid = fields.String()
    revision = StrictInteger(load_default=0, validate=validate.Range(min=0))
    streams = fields.Dict(keys=fields.String(), values=fields.Dict(), required=True)
