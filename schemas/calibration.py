"""What GET /cameras/{mxid}/calibration answers: the device's calibration for each stream at its configured
size, the sensors' positions relative to each other, and the stereo baselines."""
from __future__ import annotations

from marshmallow import Schema, fields

_MATRIX = fields.List(fields.List(fields.Float()), required=True, metadata={
    "description": "3x3 intrinsic matrix [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] in pixels (OpenCV's camera matrix)"})


class ImageCalibrationSchema(Schema):
    width = fields.Integer(required=True)
    height = fields.Integer(required=True)
    intrinsics = _MATRIX


class StreamCalibrationSchema(Schema):
    socket = fields.String(required=True, metadata={"description": "the sensor whose view the stream's frames "
                                                                   "show (for depth: the left sensor's)"})
    width = fields.Integer(required=True, metadata={"description": "the frame's width at the configured resolution"})
    height = fields.Integer(required=True)
    intrinsics = _MATRIX
    rectified = fields.Boolean(required=True, metadata={
        "description": "depth: the frame is the rectified left view, undistorted, drawn with the right sensor's "
                       "intrinsics"})
    distortion_model = fields.String(required=True, metadata={
        "description": "depthai's CameraModel: Perspective (OpenCV's model), Fisheye, Equirectangular, "
                       "RadialDivision"})
    distortion = fields.List(fields.Float(), required=True, metadata={
        "description": "14 coefficients in OpenCV's order: k1, k2, p1, p2, k3, k4, k5, k6, s1, s2, s3, s4, τx, τy "
                       "(zeros for a rectified depth frame)"})
    still = fields.Nested(ImageCalibrationSchema, metadata={"description": "colour: the still, a window of the "
                                                                          "frame at sensor_crop"})
    video = fields.Nested(ImageCalibrationSchema, metadata={"description": "colour: the video window"})
    preview = fields.Nested(ImageCalibrationSchema, metadata={
        "description": "the preview: the frame scaled to cover preview_size and cut at its centre"})


class ExtrinsicsSchema(Schema):
    rotation = fields.List(fields.List(fields.Float()), required=True, metadata={"description": "3x3"})
    translation = fields.List(fields.Float(), required=True, metadata={"description": "x, y, z in mm"})


class StereoPairCalibrationSchema(Schema):
    left = fields.String(required=True)
    right = fields.String(required=True)
    baseline = fields.Float(required=True, metadata={"description": "mm between the two sensors"})


class CalibrationSchema(Schema):
    streams = fields.Dict(keys=fields.String(), values=fields.Nested(StreamCalibrationSchema), required=True,
                          metadata={"description": "per stream the camera has (active or not), at its configured "
                                                   "size; a stream whose sensor the calibration lacks is left out"})
    extrinsics = fields.Dict(keys=fields.String(), values=fields.Dict(
        keys=fields.String(), values=fields.Nested(ExtrinsicsSchema)), required=True, metadata={
        "description": "extrinsics[src][dst] maps a point from sensor src's frame to dst's: p_dst = R p_src + t "
                       "(x right, y down, z forward; mm)"})
    stereo_pairs = fields.List(fields.Nested(StereoPairCalibrationSchema), required=True)
