"""The one error shape of the whole API."""
from __future__ import annotations

from marshmallow import Schema, fields


class ErrorDetailSchema(Schema):
    status = fields.Integer(required=True, metadata={"example": 404})
    code = fields.String(required=True, metadata={"example": "camera_not_found"})
    message = fields.String(required=True, metadata={"example": "no camera with mxid 14442C10D13EABCE00"})
    fields_ = fields.Dict(data_key="fields", keys=fields.String(), values=fields.Raw(), metadata={
        "description": "Validation errors only: messages by field (nested for nested fields)"})
    revision = fields.Integer(metadata={"description": "412 only: the camera's current state revision (also the "
                                                       "ETag and X-State-Revision headers)"})
    request_id = fields.String(metadata={"description": "500 only: the id under which the error was logged"})


class ErrorSchema(Schema):
    error = fields.Nested(ErrorDetailSchema, required=True)
