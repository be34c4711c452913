"""What GET /gateway answers: who this gateway is."""
from __future__ import annotations

from marshmallow import Schema, fields


class GatewaySchema(Schema):
    id = fields.String(required=True, metadata={
        "description": "This gateway's id: made once and kept in the state directory, so it stays the same across "
                       "restarts and upgrades", "example": "3f1c0a9e8b2d4c6f9a7e5d3b1c0f2e4a"})
    hostname = fields.String(required=True)
    version = fields.String(required=True, metadata={"description": "oak-camera-service's version"})
    depthai_version = fields.String(required=True, allow_none=True, metadata={
        "description": "The depthai library's version (null if it is not installed)"})
    boot_id = fields.String(required=True, metadata={
        "description": "New on every start of the service: a different one means the service restarted"})
    started_at = fields.DateTime(required=True, metadata={"description": "When the service started (UTC)"})
    cameras = fields.Integer(required=True, metadata={"description": "Cameras the service has found"})
