"""Path and query parameters."""
from __future__ import annotations

from marshmallow import Schema, fields, pre_load, validate

from .facts import FORMATS

from .fields import LaxBoolean

MXID_PATTERN = r"^[A-Z0-9]+$"
STREAM_PATTERN = r"^(CAM_[A-H]|DEPTH_[A-H]_[A-H])$"


class FullMatch(validate.Regexp):
    """A pattern the whole value must match: `$` alone also matches before a final newline ("ABC\n")."""

    def __call__(self, value):
        if not isinstance(value, str) or self.regex.fullmatch(value) is None:
            raise validate.ValidationError(self._format_error(value))
        return value


class CameraPathSchema(Schema):
    mxid = fields.String(required=True, validate=FullMatch(MXID_PATTERN),
                         metadata={"description": "The camera's mxid, pattern [A-Z0-9]+"})


class StreamPathSchema(CameraPathSchema):
    stream_name = fields.String(required=True, validate=FullMatch(STREAM_PATTERN), metadata={
        "description": "CAM_X for the sensor on socket X, DEPTH_X_Y for depth from the stereo pair X-Y"})


class QueryBoolean(LaxBoolean):
    """A boolean in a query string: true/false (also 1/0)."""

    def _deserialize(self, value, attr, data, **kwargs):
        lowered = str(value).lower()
        if lowered not in ("true", "false", "1", "0"):
            raise self.make_error("invalid")
        return lowered in ("true", "1")


class StrictQueryInteger(fields.Integer):
    """A whole number in a query string: digits only, so "1.5", "1e3" and " 5" are not integers."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not value.lstrip("-").isdigit():
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class TokenQuerySchema(Schema):
    """The access token in the query, for clients that cannot set a header (<img> and <video> tags)."""
    access_token = fields.String(load_only=True, metadata={
        "description": "With tokens on: the token, for clients that cannot send an Authorization header"})


class StillQuerySchema(TokenQuerySchema):
    @pre_load
    def _empty_is_null(self, data, **kwargs):
        """`format=` (empty) means no format given, as null does in the seed."""
        return {k: (None if k == "format" and v == "" else v) for k, v in data.items()}

    format = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(FORMATS), metadata={
        "description": "Image format: jpeg (default) or png", "default": "jpeg"})
    depth_mm = QueryBoolean(load_default=False, metadata={
        "description": "Depth streams only: a lossless 16-bit greyscale PNG whose pixels are depth in "
                       "millimetres (0 = no measurement), instead of the 8-bit picture where nearer is "
                       "lighter. Implies png; with format=jpeg it is a 422.", "default": False})


class VideoQuerySchema(TokenQuerySchema):
    fps = fields.Float(validate=validate.Range(min=0, min_inclusive=False, max=120), metadata={
        "exclusiveMinimum": True,
        "description": "At most this many frames a second (default: the stream's rate; more is capped to it)"})
    quality = StrictQueryInteger(load_default=80, validate=validate.Range(1, 100), metadata={
        "description": "JPEG quality, 1 to 100", "default": 80})
    frames = StrictQueryInteger(validate=validate.Range(1, 1_000_000), metadata={
        "description": "End the response after this many frames (default: it goes on while the stream is "
                       "active)"})
    width = StrictQueryInteger(validate=validate.Range(16, 8000), metadata={
        "description": "Scale the picture down to this width in pixels, keeping its aspect (default: full "
                       "size; at most the stream's width)"})


class RefreshQuerySchema(TokenQuerySchema):
    boot = QueryBoolean(load_default=False, metadata={
        "description": "Accepted for the original API's clients; cameras found are always booted"})
