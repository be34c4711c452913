"""Frames as backends hand them over: numpy planes, their pixel format and the sensor metadata."""
from __future__ import annotations

import threading
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


class FrameSlot:
    """The latest item of a stream, for any number of waiting readers: a slow reader skips items, never queues
    them, so memory stays flat whatever the readers do."""

    def __init__(self):
        self._changed = threading.Condition()
        self._item = None
        self._sequence = -1
        self._closed = False

    @property
    def sequence(self) -> int:
        return self._sequence

    def publish(self, item) -> None:
        with self._changed:
            self._item, self._sequence = item, self._sequence + 1
            self._changed.notify_all()

    def close(self) -> None:
        """No item will come: wake every reader (wait_after then answers None at once)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    def wait_after(self, sequence: int, timeout: float):
        """Blocking: (sequence, item) of the first item published after `sequence`, or None on timeout or once
        the slot is closed."""
        with self._changed:
            sequence = min(sequence, self._sequence)     # a reader from before a restart waits for the next
            if self._changed.wait_for(lambda: self._sequence > sequence or self._closed, timeout) \
                    and self._sequence > sequence:
                return self._sequence, self._item
            return None
