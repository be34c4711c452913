"""Camera descriptions and stream lists."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from .facts import COLOR, MONO, OTHER

CAMERA_STATES = ("booting", "connected", "disconnected", "shut_down", "wedged")


class SensorSchema(Schema):
    socket = fields.String(required=True, metadata={"example": "CAM_A"})
    sensor_name = fields.String(required=True, metadata={"example": "IMX378"})
    type = fields.String(required=True, validate=validate.OneOf((COLOR, MONO, OTHER)))
    autofocus = fields.Boolean(required=True)


class StereoPairSchema(Schema):
    left = fields.String(required=True, metadata={"example": "CAM_B"})
    right = fields.String(required=True, metadata={"example": "CAM_C"})
    stream = fields.String(required=True, metadata={"description": "The depth stream of this pair",
                                                     "example": "DEPTH_B_C"})


class CameraSchema(Schema):
    mxid = fields.String(required=True, metadata={"example": "14442C10D13EABCE00"})
    name = fields.String(required=True, metadata={"description": "Product name", "example": "OAK-D"})
    state = fields.String(required=True, validate=validate.OneOf(CAMERA_STATES))
    state_since = fields.DateTime(required=True, metadata={"description": "When the camera entered its state"})
    last_error = fields.String(required=True, allow_none=True,
                               metadata={"description": "The latest device error, null if there was none"})
    reconnects = fields.Integer(required=True, metadata={"description": "Times the camera came back after a loss"})
    protocol = fields.String(required=True, validate=validate.OneOf(("usb", "poe")))
    sensors = fields.List(fields.Nested(SensorSchema), required=True)
    stereo_pairs = fields.List(fields.Nested(StereoPairSchema), required=True)
    streams = fields.List(fields.String(), required=True, metadata={"description": "Names of the camera's streams"})
    ir = fields.Boolean(required=True, metadata={"description": "Whether it has IR illumination (see …/ir)"})


class StreamSchema(Schema):
    name = fields.String(required=True, metadata={"example": "CAM_A"})
    active = fields.Boolean(required=True)
