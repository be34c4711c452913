"""Frames as backends hand them over: numpy planes, their pixel format and the sensor metadata."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

YUV420, GRAY8, DEPTH16 = "yuv420", "gray8", "depth16"


@dataclass(frozen=True)
class FrameMeta:
    """What the frame was taken with; auto exposure and auto white balance report through this."""
    exposure_time: int          # µs
    sensitivity_iso: int
    color_temperature: int      # K


@dataclass(frozen=True)
class Frame:
    format: str                  # YUV420 (planes Y, U, V), GRAY8 (Y) or DEPTH16 (millimetres, 0 = unknown)
    planes: tuple[np.ndarray, ...]
    timestamp: float             # seconds, monotonic
    sequence: int
    meta: FrameMeta | None = None

    @property
    def width(self) -> int:
        return self.planes[0].shape[1]

    @property
    def height(self) -> int:
        return self.planes[0].shape[0]
