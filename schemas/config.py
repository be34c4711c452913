"""The three config shapes. Which one a stream uses follows from its sensor; depth streams use the mono shape."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from .facts import COLOR, COLOR_RESOLUTIONS, MONO, MONO_RESOLUTIONS, OTHER

from .fields import LaxFloat, LaxInteger, pair

def _fps() -> LaxFloat:
    return LaxFloat(required=True, validate=validate.Range(min=0, min_inclusive=False), metadata={
        "exclusiveMinimum": True,
        "description": "Frames per second; the sensor's range for the resolution applies (a 422 says it)."})


def _size(what: str, even: bool = False) -> fields.List:
    rule = "; both even (YUV 4:2:0 has one colour sample per 2x2 pixels)" if even else ""
    return pair(LaxInteger(validate=validate.Range(min=1)), required=True,
                metadata={"description": f"{what} as [width, height], no larger than the resolution{rule}"})


def _enum(table) -> fields.String:
    sizes = ", ".join(f"{k} {w}x{h}" for k, (w, h) in table.items())
    return fields.String(required=True, validate=validate.OneOf(list(table)), metadata={
        "description": f"Sensor resolution: {sizes}. Only the ones the sensor has are accepted."})


class ColorCameraConfigSchema(Schema):
    """Config of a colour sensor. When only the resolution changes, sizes that were the whole frame follow it."""
    resolution = _enum(COLOR_RESOLUTIONS)
    still_size = _size("Size of still images", even=True)
    preview_size = _size("Size of the preview output", even=True)
    video_size = _size("Size of the video output", even=True)
    sensor_crop = pair(LaxFloat(validate=validate.Range(0.0, 1.0)), required=True, metadata={
        "description": "Top-left corner [x, y] of the crop window, as fractions of the frame; the window "
                       "(the larger of still and video size) must fit inside the frame"})
    fps = _fps()


class MonoCameraConfigSchema(Schema):
    """Config of a mono sensor, and of a depth stream, where it applies to both sensors of the pair."""
    resolution = _enum(MONO_RESOLUTIONS)
    fps = _fps()


class CameraConfigSchema(Schema):
    """Config of a sensor that is neither colour nor mono."""
    resolution = _size("Sensor resolution")
    still_size = _size("Size of still images")
    preview_size = _size("Size of the preview output")
    video_size = _size("Size of the video output")
    fps = _fps()


CONFIG_SCHEMAS = {COLOR: ColorCameraConfigSchema, MONO: MonoCameraConfigSchema, OTHER: CameraConfigSchema}
