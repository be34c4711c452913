"""Fault injection of the simulator."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from .fields import LaxBoolean, LaxFloat, LaxInteger


class FaultsSchema(Schema):
    failing_opens = LaxInteger(validate=validate.Range(0, 1000), metadata={
        "description": "How many of the camera's next opens (connects) fail"})
    latency_ms = LaxInteger(validate=validate.Range(0, 60000), metadata={
        "description": "Delay added to each of the camera's operations from now on, in milliseconds"})
    hang_next = LaxBoolean(metadata={
        "description": "true makes the camera's next operation hang: it is answered 504 at the device deadline "
                       "and the camera is reopened; the hung call ends on unplug, replug, or after 60 s"})
    refused_fps = LaxFloat(validate=validate.Range(0, 120), metadata={
        "description": "A frame rate the camera refuses to run a sensor at, as a real camera refuses a pipeline "
                       "it cannot run: an activation or config write that asks for it is answered 422 "
                       "not_supported and changes nothing; 0: none"})


class SimCameraSchema(FaultsSchema):
    plugged = fields.Boolean(required=True)
