"""Strict fields: JSON types are not coerced ("5" is not an integer, 1 is not a boolean, 2.0 is not an integer)."""
from __future__ import annotations

from marshmallow import fields, validate


def _reject(field: fields.Field, value, ok: bool):
    if not ok:
        raise field.make_error("invalid")


class StrictInteger(fields.Integer):
    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)

    def _validated(self, value):
        _reject(self, value, isinstance(value, int) and not isinstance(value, bool))
        return super()._validated(value)


class StrictFloat(fields.Float):
    """A JSON number (integer or not), never a string or a boolean."""

    def _validated(self, value):
        _reject(self, value, isinstance(value, (int, float)) and not isinstance(value, bool))
        return super()._validated(value)


class StrictBoolean(fields.Boolean):
    def _deserialize(self, value, attr, data, **kwargs):
        _reject(self, value, isinstance(value, bool))
        return value


def pair(field: fields.Field, **kwargs) -> fields.List:
    """A two-element JSON array, such as [width, height] or [x, y]."""
    return fields.List(field, validate=validate.Length(equal=2), **kwargs)
