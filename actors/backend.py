"""The interface both backends implement. Methods marked blocking run on the actor's worker thread."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Mapping

from .errors import DeviceError  # noqa: F401 (backends raise it)
from .frames import Frame, FrameMeta
from .model import CameraInfo, StreamState


class Device(ABC):
    info: CameraInfo

    @abstractmethod
    def open(self) -> None:
        """Blocking: connect to the device."""

    @abstractmethod
    def close(self) -> None:
        """Blocking: release the device; safe to call twice."""

    @abstractmethod
    def configure(self, desired: Mapping[str, StreamState]) -> None:
        """Blocking: run exactly the active streams of `desired` (every stream of the camera), each with its
        config and control; the inactive ones' configs say what the device may prepare to switch to.
        ConfigRejected when the device will not build a configuration."""

    @abstractmethod
    def set_control(self, stream: str, control: dict) -> None:
        """Blocking: apply a control to the sensor(s) of an active stream at once."""

    @abstractmethod
    def capture(self, stream: str) -> Frame:
        """Blocking: a still frame of an active stream, taken after this call, at the stream's still size."""

    @abstractmethod
    def next_frame(self, stream: str, after: int, timeout: float) -> Frame:
        """Blocking, on a video thread (not the actor's): the video output's first frame with a sequence
        number above `after`, waiting for it as needed. DeviceError when the stream or device is gone,
        DeviceTimeout when no frame came within `timeout`."""

    @abstractmethod
    def frame_meta(self, stream: str) -> FrameMeta | None:
        """Not blocking: what the latest frame of an active stream was taken with, if any."""

    def healthy(self) -> bool:
        """Not blocking: false once the device is known to be gone (polled by the fleet)."""
        return True


class Backend(ABC):
    @abstractmethod
    def discover(self) -> list[Device]:
        """Blocking: the devices that can be opened now, the same object each time for the same camera."""


class FaultInjection(ABC):
    """A backend whose cameras can be unplugged, replugged and given faults through /sim (the simulator, and
    the DepthAI backend on its test stand-in). `device(mxid)` has unplug(), replug(), inject(), release(),
    `plugged` and `faults` (failing_opens, latency, hang_next)."""

    @abstractmethod
    def device(self, mxid: str):
        """The camera's fault-injection handle, or None."""
