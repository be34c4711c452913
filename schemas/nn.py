"""A neural network on a stream: the config posted with the model, what GET …/nn answers, and the messages of
the …/nn WebSocket."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema

from .fields import LaxFloat, LaxInteger, pair

NN_TYPES = ("Generic", "YOLO", "MobileNet")
_unit = validate.Range(0.0, 1.0)


# The original API's nested form ({"type", "num_inference_threads", "nn_config": {...}}, which Robopipe Studio
# posts) names our flat fields so: nn_config's field -> ours.
NESTED = {"confidence_threshold": "confidence_threshold", "num_classes": "num_classes",
          "coordinate_size": "coordinates", "anchors": "anchors", "anchor_masks": "anchor_masks",
          "iou_threshold": "iou_threshold"}
YOLO_ONLY = ("num_classes", "coordinates", "anchors", "anchor_masks", "iou_threshold")


class NNConfigSchema(Schema):
    """The config posted with a model: flat, or the original API's form with the decoder's fields nested in
    `nn_config`; both mean the same, and the config is kept (and shown under `config`) flat."""
    type = fields.String(required=True, validate=validate.OneOf(NN_TYPES), metadata={
        "description": "YOLO and MobileNet (SSD) are decoded into detections on the camera; Generic networks "
                       "send their output tensors"})
    confidence_threshold = LaxFloat(load_default=0.5, validate=_unit, metadata={
        "description": "Detections below it are dropped"})
    labels = fields.List(fields.String(validate=validate.Length(max=100)), load_default=list,
                         validate=validate.Length(max=1000), metadata={
        "description": "Class names by class index: a detection's label_name (its index as a string where the "
                       "list has none)"})
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
    num_inference_threads = LaxInteger(load_default=2, validate=validate.Range(1, 2), metadata={
        "description": "Threads the camera runs the network on (the original API's field, and its default)"})

    @pre_load
    def _flatten(self, data, **_):
        """The original's `nn_config` object (or null) as our flat fields; a field given both ways is a 422."""
        if not isinstance(data, dict) or "nn_config" not in data:
            return data
        nested, flat = data["nn_config"], {k: v for k, v in data.items() if k != "nn_config"}
        if nested is None:
            return flat
        if not isinstance(nested, dict):
            raise ValidationError("An object of the decoder's fields, or null.", "nn_config")
        unknown = sorted(set(nested) - set(NESTED))
        if unknown:
            raise ValidationError({"nn_config": {k: ["Unknown field."] for k in unknown}})
        twice = sorted(k for k in nested if NESTED[k] in flat)
        if twice:
            raise ValidationError({"nn_config": {k: ["Given beside nn_config too; give it once."] for k in twice}})
        return {**flat, **{NESTED[k]: v for k, v in nested.items() if v is not None}}

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
    platforms = fields.List(fields.String(validate=validate.OneOf(("RVC2", "RVC4"))), metadata={
        "description": "The chips it runs on, as depthai's NNArchive.getSupportedPlatforms() says: RVC2 (OAK) "
                       "for an OpenVINO blob, bare or in an NN archive; RVC4 (OAK4) for an NN archive holding a "
                       ".dlc model"})
    input_type = fields.String(metadata={
        "description": "The frame type the network reads (depthai's ImgFrame.Type): BGR888p on RVC2, on RVC4 "
                       "the archive's dai_type, else BGR888i"})
    heads = fields.List(fields.String(), metadata={
        "description": "The parsers an NN archive's config.json declares (YOLO, SSD, …); empty for a bare blob"})


class NNSchema(Schema):
    config = fields.Nested(NNConfigSchema, required=True)
    model = fields.Nested(NNModelSchema, required=True)


class DecoderConfigSchema(Schema):
    """The original API's `nn_config`: YOLO's decoder fields, or MobileNet's threshold."""
    confidence_threshold = fields.Float(required=True)
    num_classes = fields.Integer()
    coordinate_size = fields.Integer()
    anchors = fields.List(fields.Float())
    anchor_masks = fields.Dict(keys=fields.String(), values=fields.List(fields.Integer()))
    iou_threshold = fields.Float()


class NNViewSchema(NNSchema):
    """What GET and POST …/nn answer: the original API's NNConfig at the top level (`type`,
    `num_inference_threads`, `nn_config`: what Robopipe Studio reads), beside the config and the model."""
    type = fields.String(required=True, validate=validate.OneOf(NN_TYPES))
    num_inference_threads = fields.Integer(required=True)
    nn_config = fields.Nested(DecoderConfigSchema, required=True, allow_none=True, metadata={
        "description": "null for Generic networks; MobileNet's confidence_threshold; YOLO's decoder fields "
                       "(coordinate_size is config's `coordinates`)"})


def view(nn) -> dict:
    """A deployed network {config, model} as NNViewSchema has it."""
    config = nn["config"]
    kind = config["type"]
    nested = None if kind == "Generic" else {
        theirs: config[ours] for theirs, ours in NESTED.items() if kind == "YOLO" or ours not in YOLO_ONLY}
    return NNViewSchema().dump({"config": config, "model": nn["model"], "type": kind, "nn_config": nested,
                                "num_inference_threads": config.get("num_inference_threads", 2)})


class NNUploadSchema(Schema):
    """The multipart/form-data body of POST …/nn (documentation: the handler reads the parts itself)."""
    model = fields.Raw(required=True, metadata={"type": "string", "format": "binary", "description":
                       "An OpenVINO blob compiled for RVC2, or an NN archive (.tar.xz) holding one"})
    config = fields.String(required=True, metadata={
        "description": "NNConfig as JSON: flat, or with the decoder's fields nested in nn_config"})


class SpatialSchema(Schema):
    x = fields.Float(required=True, metadata={"description": "mm, right of the optical axis"})
    y = fields.Float(required=True, metadata={"description": "mm, below the optical axis"})
    z = fields.Float(required=True, metadata={"description": "mm, distance along the axis"})


class DetectionSchema(Schema):
    label = fields.Integer(required=True, metadata={
        "description": "The class index (as the original API sent it: Robopipe Studio indexes its labels with it)"})
    label_name = fields.String(required=True, metadata={
        "description": "The class's name: config's labels[label], else the index as a string"})
    class_id = fields.Integer(required=True, metadata={"description": "The class index, as label"})
    confidence = fields.Float(required=True)
    coords = fields.List(fields.Float(), required=True, metadata={
        "description": "[xmin, ymin, xmax, ymax], 0..1 of the network's input (the centre of the frame at its "
                       "shape, as the preview at the same shape shows it)"})
    frame_coords = fields.List(fields.Float(), required=True, metadata={
        "description": "The same box as fractions of the whole frame (the stream's resolution), where an overlay "
                       "on the video draws it"})
    spatial_coords = fields.Nested(SpatialSchema, metadata={"description": "On depth streams"})


class _MessageSchema(Schema):
    timestamp = fields.Float(required=True, metadata={"description": "s, the frame's device time"})
    sequence = fields.Integer(required=True, metadata={"description": "The frame's number"})


class DetectionsMessageSchema(_MessageSchema):
    """A YOLO or MobileNet network's result for one frame."""
    detections = fields.List(fields.Nested(DetectionSchema), required=True)


class TensorsMessageSchema(_MessageSchema):
    """A Generic network's result for one frame."""
    detections = fields.List(fields.Float(), required=True, metadata={
        "description": "The values of the network's first output layer (the first of the model's outputs, "
                       "which are by name), flat, as the original API sent them; empty when that layer alone is "
                       "over the message's 65536 values"})
    outputs = fields.Dict(keys=fields.String(), values=fields.Raw(), required=True, metadata={
        "description": "Each output layer as {shape, data}: its values flat while the message's 65536 values "
                       "last (`detections` first, then the layers by name in order; at most 2 MiB of JSON), "
                       "else null"})


RESULTS_MESSAGE = {"anyOf": [DetectionsMessageSchema, TensorsMessageSchema]}
