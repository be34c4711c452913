"""Merging a partial config or control into the current one, and checking it against what the sensor can do.

Shapes, types and ranges are checked before this by the schemas; what is checked here depends on the
camera: the sensor's resolutions, frame rates, sizes and autofocus.
"""
from __future__ import annotations

from .model import COLOR, OTHER, StreamSpec

SIZE_FIELDS = ("still_size", "preview_size", "video_size")


class CapabilityError(Exception):
    """A value the sensor cannot do; `fields` maps each offending field to messages."""

    def __init__(self, fields: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items()))
        self.fields = fields


def _resolution_label(stream: StreamSpec, key) -> str:
    return f"{key[0]}x{key[1]}" if stream.config_kind == OTHER else str(key)


def merge_config(stream: StreamSpec, current: dict, changes: dict) -> dict:
    """The config after applying `changes`, or CapabilityError.

    When the resolution changes, sizes that were the whole frame follow the new resolution unless the
    update sets them, so that changing only the resolution is enough.
    """
    merged = {**current, **changes}
    resolutions = stream.resolutions()
    key = tuple(merged["resolution"]) if stream.config_kind == OTHER else merged["resolution"]
    if key not in resolutions:
        can = ", ".join(_resolution_label(stream, r) for r in resolutions)
        raise CapabilityError({"resolution": [f"{stream.name} cannot run at {_resolution_label(stream, key)}; "
                                              f"it can run at: {can}."]})
    errors: dict[str, list[str]] = {}
    width, height = stream.size_of(merged["resolution"])
    if merged["resolution"] != current["resolution"]:
        old_size = list(stream.size_of(current["resolution"]))
        for name in SIZE_FIELDS:
            if name in merged and name not in changes and merged[name] == old_size:
                merged[name] = [width, height]
    mode = resolutions[key]
    if not mode.min_fps <= merged["fps"] <= mode.max_fps:     # Camera.build's own check (R4)
        errors["fps"] = [f"at {_resolution_label(stream, key)} {stream.name} runs at {mode.min_fps:g} to "
                         f"{mode.max_fps:g} fps."]
    for name in SIZE_FIELDS:
        if name in merged:
            w, h = merged[name]
            if not (0 < w <= width and 0 < h <= height):
                errors[name] = [f"must be from 1x1 up to the resolution, {width}x{height}."]
            elif stream.config_kind == COLOR and (w % 2 or h % 2):
                # YUV 4:2:0 has one colour sample per 2x2 pixels: odd sizes cannot be encoded.
                errors[name] = [f"a colour stream's sizes must be even; {w}x{h} is not."]
    if "sensor_crop" in merged and not errors:
        # The crop window is as large as the larger of the still and video sizes and must lie inside the frame.
        win_w = max(merged["still_size"][0], merged["video_size"][0])
        win_h = max(merged["still_size"][1], merged["video_size"][1])
        x, y = merged["sensor_crop"]
        max_x, max_y = 1 - win_w / width, 1 - win_h / height
        if x > max_x + 1e-9 or y > max_y + 1e-9:
            errors["sensor_crop"] = [f"a {win_w}x{win_h} window at ({x:g}, {y:g}) leaves the {width}x{height} frame; "
                                     f"x may be 0 to {max_x:.4g}, y 0 to {max_y:.4g}."]
    if errors:
        raise CapabilityError(errors)
    return merged


def merge_control(stream: StreamSpec, current: dict, changes: dict) -> dict:
    """The control after applying `changes`, or CapabilityError. `focus` merges field by field."""
    merged = {**current, **changes}
    if "focus" in changes:
        focus = changes["focus"]
        if not stream.autofocus and focus is not None:
            raise CapabilityError({"focus": [f"{stream.name} has a fixed-focus sensor; focus must be null."]})
        if stream.autofocus:
            if focus is None:
                raise CapabilityError({"focus": [f"{stream.name} has an autofocus sensor; focus must be an object."]})
            merged["focus"] = {**current["focus"], **focus}
    return merged
