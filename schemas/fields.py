"""Fields as the original API's pydantic (lax mode) read them, which the clients in use rely on (a range slider
posts "5000"): numbers also as numeric strings, integers also as integral floats ("5000", 5000.0, "5000.0"),
booleans also as the strings and 0/1 pydantic accepts. Still refused: a fraction for an integer, a boolean for
a number, a string that is no number, and values that are not finite. The OpenAPI spec keeps the real types."""
from __future__ import annotations

import math

from marshmallow import fields, validate

TRUE = frozenset({"true", "1", "yes", "on", "t", "y"})
FALSE = frozenset({"false", "0", "no", "off", "f", "n"})


def _number(field: fields.Field, value) -> float | int:
    """A JSON number, or a string of one; never a boolean."""
    if isinstance(value, bool):
        raise field.make_error("invalid")
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text) if text.lstrip("+-").isdigit() else float(text)
        except ValueError:
            raise field.make_error("invalid") from None
    if not isinstance(value, (int, float)) or (isinstance(value, float) and not math.isfinite(value)):
        raise field.make_error("invalid")
    return value


class LaxInteger(fields.Integer):
    def _validated(self, value):
        number = _number(self, value)
        if isinstance(number, float):
            if not number.is_integer():
                raise self.make_error("invalid")
            number = int(number)
        return super()._validated(number)


class LaxFloat(fields.Float):
    def _validated(self, value):
        return super()._validated(_number(self, value))


class LaxBoolean(fields.Boolean):
    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in TRUE | FALSE:
            return value.strip().lower() in TRUE
        raise self.make_error("invalid")


def pair(field: fields.Field, **kwargs) -> fields.List:
    """A two-element JSON array, such as [width, height] or [x, y]."""
    return fields.List(field, validate=validate.Length(equal=2), **kwargs)
