"""A neural network on a stream: the config posted with the model, what GET …/nn answers, and the messages of
the …/nn WebSocket."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from .fields import LaxFloat, LaxInteger, pair

NN_TYPES = ("Generic", "YOLO", "MobileNet")
_unit = validate.Range(0.0, 1.0)


class NNConfigSchema(Schema):
    type = fields.String(required=True, validate=validate.OneOf(NN_TYPES), metadata={
        "description": "YOLO and MobileNet (SSD) are decoded into detections on the camera; Generic networks "
                       "send their output tensors"})
    confidence_threshold = LaxFloat(load_default=0.5, validate=_unit, metadata={
        "description": "Detections below it are dropped"})
    labels = fields.List(fields.String(validate=validate.Length(max=100)), load_default=list,
                         validate=validate.Length(max=1000), metadata={
        "description": "Class names by class index; a detection's label is its name, or its index as a string "
                       "where the list has none"})
    num_classes = LaxInteger(validate=validate.Range(1, 1000), metadata={"description": "YOLO: classes"})
    coordinates = LaxInteger(load_default=4, validate=validate.Range(4, 4), metadata={
        "description": "YOLO: box coordinates per anchor"})
    anchors = fields.List(LaxFloat(validate=validate.Range(0, 10000)), load_default=list,
                          validate=validate.Length(max=64), metadata={"description": "YOLO: anchor sizes, w, h pairs"})
    anchor_masks = fields.Dict(keys=fields.String(validate=validate.Length(1, 32)),
                               values=fields.List(LaxInteger(validate=validate.Range(0, 31)),
                                                  validate=validate.Length(max=32)),
                               load_default=dict, validate=validate.Length(max=8), metadata={
        "description": "YOLO: the anchors each output uses, by output name (side{N})"})
    iou_threshold = LaxFloat(load_default=0.5, validate=_unit, metadata={
        "description": "YOLO: overlap above which the weaker of two boxes is dropped"})

    @validates_schema
    def _yolo(self, data, **_):
        if data.get("type") == "YOLO" and "num_classes" not in data:
            raise ValidationError("YOLO needs num_classes.", "num_classes")
        if len(data.get("anchors") or []) % 2:
            raise ValidationError("anchors are (width, height) pairs: an even count.", "anchors")


class NNModelSchema(Schema):
    sha256 = fields.String(required=True, validate=validate.Regexp("^[0-9a-f]{64}$"), metadata={
        "description": "The model file's SHA-256, its name on disk"})
    size = fields.Integer(required=True, metadata={"description": "bytes"})
    filename = fields.String(required=True, metadata={"description": "The name it was uploaded under"})
    format = fields.String(required=True, validate=validate.OneOf(("blob", "nn_archive")))
    input = pair(fields.Integer(), required=True, metadata={
        "description": "The network's input [width, height]: the centre of the frame at that shape, scaled"})
    outputs = fields.Dict(keys=fields.String(), values=fields.List(fields.Integer()), required=True, metadata={
        "description": "Its output layers and their shapes"})


class NNSchema(Schema):
    config = fields.Nested(NNConfigSchema, required=True)
    model = fields.Nested(NNModelSchema, required=True)


class NNUploadSchema(Schema):
    """The multipart/form-data body of POST …/nn (documentation: the handler reads the parts itself)."""
    model = fields.Raw(required=True, metadata={"type": "string", "format": "binary", "description":
                       "An OpenVINO blob compiled for RVC2, or an NN archive (.tar.xz) holding one"})
    config = fields.String(required=True, metadata={"description": "NNConfig as JSON"})


class SpatialSchema(Schema):
    x = fields.Float(required=True, metadata={"description": "mm, right of the optical axis"})
    y = fields.Float(required=True, metadata={"description": "mm, below the optical axis"})
    z = fields.Float(required=True, metadata={"description": "mm, distance along the axis"})


class DetectionSchema(Schema):
    label = fields.String(required=True)
    class_id = fields.Integer(required=True)
    confidence = fields.Float(required=True)
    coords = fields.List(fields.Float(), required=True, metadata={
        "description": "[xmin, ymin, xmax, ymax], 0..1 of the network's input (the centre of the frame at its "
                       "shape, as the preview at the same shape shows it)"})
    frame_coords = fields.List(fields.Float(), required=True, metadata={
        "description": "The same box as fractions of the whole frame (the stream's resolution), where an overlay "
                       "on the video draws it"})
    spatial_coords = fields.Nested(SpatialSchema, metadata={"description": "On depth streams"})


class DetectionsMessageSchema(Schema):
    detections = fields.List(fields.Nested(DetectionSchema), metadata={"description": "YOLO and MobileNet"})
    outputs = fields.Dict(keys=fields.String(), values=fields.Raw(), metadata={
        "description": "Generic: each output layer as {shape, data}: its values flat while the message's "
                       "65536 values last (layers by name in order; at most 2 MiB of JSON), else null"})
    timestamp = fields.Float(required=True, metadata={"description": "s, the frame's device time"})
    sequence = fields.Integer(required=True, metadata={"description": "The frame's number"})
