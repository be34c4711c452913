"""The shape of a saved state file; each stream's config and control are then checked by the request schemas,
as a request's are (SavedStateReader, which the state store is given)."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from .config import CONFIG_SCHEMAS
from .control import SensorControlSchema
from .fields import LaxBoolean, LaxInteger
from .ir import IRSchema
from .nn import NNSchema


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


class SavedStateReader:
    """A saved state file's parts, checked as requests are; ValueError says what does not fit."""

    def document(self, raw: dict) -> dict:
        return _checked(StateFileSchema(), raw, unknown="exclude")

    def stream(self, entry: dict, config_kind: str) -> dict:
        """A saved stream: active, config, control and nn (the network as saved, checked by network())."""
        entry = _checked(SavedStreamSchema(), entry)
        return {**entry, "config": _checked(CONFIG_SCHEMAS[config_kind](), entry["config"]),
                "control": _checked(SensorControlSchema(), entry["control"])}

    def network(self, saved: dict) -> dict:
        return _checked(NNSchema(), saved)


def _checked(schema: Schema, data, **options) -> dict:
    try:
        return schema.load(data, **options)
    except ValidationError as exc:
        raise ValueError(exc.messages) from None
