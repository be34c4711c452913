"""What GET /cameras/{mxid}/stats answers: the device's own figures, and what the service counted."""
from __future__ import annotations

from marshmallow import Schema, fields


class ChipTemperatureSchema(Schema):
    average = fields.Float(required=True, metadata={"description": "°C, the average of the blocks"})
    css = fields.Float(required=True)
    mss = fields.Float(required=True)
    upa = fields.Float(required=True)
    dss = fields.Float(required=True)


class MemorySchema(Schema):
    total = fields.Integer(required=True, metadata={"description": "bytes"})
    used = fields.Integer(required=True)
    remaining = fields.Integer(required=True)


class CpuUsageSchema(Schema):
    css = fields.Float(required=True, metadata={"description": "LEON CSS usage, 0..1"})
    mss = fields.Float(required=True, metadata={"description": "LEON MSS usage, 0..1"})


class StreamCountsSchema(Schema):
    received = fields.Integer(required=True, metadata={"description": "frames the gateway received"})
    dropped = fields.Integer(required=True, metadata={"description": "frames lost on the way (gaps in the "
                                                                     "camera's frame numbers)"})


class CameraStatsSchema(Schema):
    chip_temperature = fields.Nested(ChipTemperatureSchema, required=True)
    cmx_memory_usage = fields.Nested(MemorySchema, required=True)
    ddr_memory_usage = fields.Nested(MemorySchema, required=True)
    leon_cpu_usage = fields.Nested(CpuUsageSchema, required=True)
    connected_seconds = fields.Float(required=True, metadata={"description": "how long the camera has been "
                                                                             "connected"})
    streams = fields.Dict(keys=fields.String(), values=fields.Nested(StreamCountsSchema), required=True,
                          metadata={"description": "per active stream, since it started"})
