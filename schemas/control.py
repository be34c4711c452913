"""SensorControl: the seed's fields and ranges. GET answers every field; POST takes any subset (partial load)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from .fields import LaxBoolean, LaxFloat, LaxInteger

WHITE_BALANCE_MODES = ("AUTO", "CLOUDY_DAYLIGHT", "DAYLIGHT", "FLUORESCENT", "INCANDESCENT", "OFF", "SHADE",
                       "TWILIGHT", "WARM_FLUORESCENT")
FOCUS_MODES = ("OFF", "AUTO", "MACRO", "CONTINUOUS_VIDEO", "CONTINUOUS_PICTURE", "EDOF")


def _int(low: int, high: int, about: str = "", **kwargs) -> LaxInteger:
    return LaxInteger(required=True, validate=validate.Range(low, high),
                         metadata={"description": f"{about}Value must be between {low} and {high}".strip()}, **kwargs)


class FocusSchema(Schema):
    auto_focus_mode = fields.String(required=True, validate=validate.OneOf(FOCUS_MODES),
                                    metadata={"default": "CONTINUOUS_VIDEO"})
    auto_focus_trigger = LaxBoolean(required=True, metadata={
        "default": False, "description": "true starts one autofocus run (with auto_focus_mode AUTO or MACRO)"})
    lens_position = LaxFloat(required=True, validate=validate.Range(0.0, 1.0), metadata={
        "default": 0.0, "description": "Lens position with auto_focus_mode OFF: 0.0 (far) to 1.0 (near)"})


class SensorControlSchema(Schema):
    """The whole control of a stream. With auto exposure or auto white balance on, GET and POST report the
    exposure time, ISO and colour temperature (`manual_whitebalance`) that the stream's latest frame was taken
    with; the values posted are kept for when the automatic mode is turned off."""

    exposure_time = _int(1, 33000, "Exposure time in microseconds. Ignored if auto_exposure_enable is set to "
                                   "true. ")
    sensitivity_iso = _int(100, 5000)
    auto_exposure_enable = LaxBoolean(required=True)
    auto_exposure_compensation = _int(-9, 9)
    auto_exposure_limit = _int(1, 33000, "Maximum exposure time limit for auto-exposure in microseconds. ")
    auto_exposure_lock = LaxBoolean(required=True)
    contrast = _int(-10, 10)
    brightness = _int(-10, 10)
    saturation = _int(-10, 10)
    chroma_denoise = _int(0, 4)
    luma_denoise = _int(0, 4)
    auto_whitebalance_lock = LaxBoolean(required=True)
    auto_whitebalance_mode = fields.String(required=True, validate=validate.OneOf(WHITE_BALANCE_MODES),
                                           metadata={"default": "AUTO",
                                                     "description": "OFF uses manual_whitebalance"})
    manual_whitebalance = _int(1000, 12000, "Colour temperature in kelvin, used when auto_whitebalance_mode "
                                            "is OFF. ")
    focus = fields.Nested(FocusSchema, required=True, allow_none=True, metadata={
        "description": "null for a fixed-focus sensor; an object for a sensor with autofocus. In an update, "
                       "any subset of its fields."})
