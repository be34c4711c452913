"""Frames as backends hand them over: numpy planes, their pixel format and the sensor metadata."""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Mapping

import numpy as np

YUV420, GRAY8, DEPTH16 = "yuv420", "gray8", "depth16"


@dataclass(frozen=True)
class FrameMeta:
    """What the frame was taken with; auto exposure and auto white balance report through this."""
    exposure_time: int          # µs
    sensitivity_iso: int
    color_temperature: int      # K
    lens_position: float | None = None      # 0..1, where the sensor has a lens motor


@dataclass(frozen=True)
class Frame:
    format: str                  # YUV420 (planes Y, U, V), GRAY8 (Y) or DEPTH16 (millimetres, 0 = unknown)
    planes: tuple[np.ndarray, ...]
    # When the frame was taken, in seconds of the host's monotonic clock (depthai's getTimestamp: the device's
    # clock synced to the host's steady clock); the camera's network results carry the same time for it.
    timestamp: float
    sequence: int                # the camera's frame number: the same in every output of the frame
    meta: FrameMeta | None = None
    device_timestamp: float | None = None   # seconds of the device's own clock (getTimestampDevice)

    @property
    def width(self) -> int:
        return self.planes[0].shape[1]

    @property
    def height(self) -> int:
        return self.planes[0].shape[0]


def wall_clock(timestamp: float) -> float:
    """A time of the host's monotonic clock as Unix time (the wall clock now, less how long ago it was)."""
    return time.time() - (time.monotonic() - timestamp)


@dataclass(frozen=True)
class EncodedPacket:
    """One encoded frame: an H.264 access unit in Annex B (start codes), or a JPEG (always a keyframe)."""
    data: bytes
    keyframe: bool
    timestamp: float             # seconds, monotonic
    sequence: int                # the camera's frame number: a gap means frames were lost on the way
    width: int
    height: int


class FrameSlot:
    """The latest item of a stream, for any number of waiting readers: a slow reader skips items, never queues
    them, so memory stays flat whatever the readers do."""

    def __init__(self, keep: int = 1):
        self._changed = threading.Condition()
        self._items: deque = deque(maxlen=keep)      # (sequence, item), the newest last
        self._sequence = -1
        self._closed = False

    @property
    def sequence(self) -> int:
        return self._sequence

    def publish(self, item) -> None:
        with self._changed:
            self._sequence += 1
            self._items.append((self._sequence, item))
            self._changed.notify_all()

    def close(self) -> None:
        """No item will come: wake every reader (wait_after then answers None at once)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    def _wait(self, sequence: int, timeout: float) -> bool:
        """With the lock held: whether an item after `sequence` came within `timeout` (False once closed)."""
        return self._changed.wait_for(lambda: self._sequence > sequence or self._closed, timeout) \
            and self._sequence > sequence

    def wait_after(self, sequence: int, timeout: float):
        """Blocking: (sequence, item) of the first item published after `sequence`, or None on timeout or once
        the slot is closed."""
        with self._changed:
            sequence = min(sequence, self._sequence)     # a reader from before a restart waits for the next
            return self._items[-1] if self._wait(sequence, timeout) else None


class PacketRing(FrameSlot):
    """The latest `size` packets of an encoded stream, for any number of readers. Unlike frames, encoded
    packets depend on each other: each reader gets every packet after the one it read last, as long as the
    ring still holds them; one that fell further behind gets what is left, and starts again at a keyframe."""

    def __init__(self, size: int = 64):
        super().__init__(keep=size)

    def wait_after(self, sequence: int, timeout: float) -> list | None:
        """Blocking: the (sequence, packet) pairs held after `sequence`, or None on timeout or once the ring is
        closed. A new reader (-1), or one from before a restart, starts with the next packet: the past is not
        sent in a burst."""
        with self._changed:
            sequence = self._sequence if sequence < 0 else min(sequence, self._sequence)
            if not self._wait(sequence, timeout):
                return None
            return [(n, item) for n, item in self._items if n > sequence]


def centre_crop(frame: tuple[int, int], out: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int, int, int]]:
    """How a camera output of size `out` is made from a frame with resize mode CROP: the frame scaled to cover
    `out`, keeping its shape, and the centre cut out. The scaled frame's size and the window x, y, w, h in it."""
    (fw, fh), (w, h) = frame, out
    scale = max(w / fw, h / fh)
    sw, sh = max(w, round(fw * scale)), max(h, round(fh * scale))
    return (sw, sh), (((sw - w) // 2) & ~1, ((sh - h) // 2) & ~1, w, h)


def window_origin(config: Mapping, size: tuple[int, int]) -> tuple[int, int]:
    """Where a colour stream's still or video window starts in a frame of `size`: at sensor_crop, on even
    pixels."""
    return int(config["sensor_crop"][0] * size[0]) & ~1, int(config["sensor_crop"][1] * size[1]) & ~1
