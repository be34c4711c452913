"""The interface both backends implement. Methods marked blocking run on the actor's worker thread."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Mapping

from .errors import DeviceError, DeviceTimeout  # noqa: F401 (backends raise them)
from .frames import EncodedPacket, Frame, FrameMeta
from .model import CameraInfo, StreamState


PREVIEW_TIMEOUT = 3.0       # s: a preview must arrive within this
RAW, JPEG = "raw", "jpeg"   # what of a stream crosses the link on demand (Device.want): raw frames, the camera's JPEGs


class Device(ABC):
    info: CameraInfo
    rebuild_allowance = 0.0     # s a configure may take beyond the device deadline: a rebuild that reboots it

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

    def capture_preview(self, stream: str) -> Frame:
        """Blocking: a preview frame of an active stream with a preview_size, taken after this call."""
        output = self.output(stream)
        frame = output.preview(PREVIEW_TIMEOUT) if output is not None else None
        if frame is None:
            raise DeviceTimeout(f"{stream} delivered no preview within {PREVIEW_TIMEOUT:g} s")
        return frame

    on_demand = False       # whether raw frames and the camera's JPEGs reach the host only while `want` names them

    def want(self, wanted: frozenset[tuple[str, str]]) -> None:
        """Blocking: what host consumers need now, as (stream, RAW) for its raw frames (`FrameSource.wait_after`)
        and (stream, JPEG) for the camera's JPEGs (`FrameSource.jpeg_after`); the rest need not leave the camera.
        Kept across reopens and rebuilds. Only where `on_demand`."""

    @abstractmethod
    def output(self, stream: str) -> FrameSource | None:
        """The video output of a running stream (None when it does not run): frames the device delivers on
        its own, read by any number of viewers without calling into the device."""

    @abstractmethod
    def set_ir(self, ir: Mapping) -> None:
        """Blocking: set the IR dot projector's and flood light's intensities (0..1), on a camera with IR."""

    @abstractmethod
    def stats(self) -> dict:
        """Blocking: chip_temperature (average, css, mss, upa, dss in °C), cmx_memory_usage and ddr_memory_usage
        (total, used, remaining bytes), leon_cpu_usage (css, mss, 0..1)."""

    @abstractmethod
    def calibration(self):
        """Blocking: the device's calibration, as depthai's CalibrationHandler (`readCalibration()`)."""

    def healthy(self) -> bool:
        """False once the device is known to be gone (asked by the actor's health job)."""
        return True


class FrameSource(ABC):
    """A running stream as a source of frames, and of its encodings and network results: filled by the device
    (a reader thread on a camera, the clock on the simulator), closed when the stream stops. A slow reader
    skips frames; nothing queues."""

    h264 = False        # whether the device encodes this stream's H.264 itself (then read `encoded_after`)
    jpeg = False        # whether it encodes its MJPEG at the video's default quality (then read `jpeg_after`)

    def jpeg_after(self, sequence: int, timeout: float) -> tuple[int, EncodedPacket] | None:
        """Blocking, on a video thread: (number, JPEG with its frame number and time) of the camera's first JPEG after
        number `sequence`, or None on timeout or once closed. Only when `jpeg` is true."""
        raise NotImplementedError

    def encoded_after(self, sequence: int, timeout: float) -> list[tuple[int, EncodedPacket]] | None:
        """Blocking, on a video thread: (number, packet) of the camera's H.264 packets after number `sequence`
        that are still held, or None on timeout or once closed. Only when `h264` is true."""
        raise NotImplementedError

    @abstractmethod
    def wait_after(self, sequence: int, timeout: float) -> Frame | None:
        """Blocking, on a video thread: the first frame with a sequence number above `sequence` (a number from
        before a restart waits for the next frame), or None on timeout or once the output is closed."""

    @abstractmethod
    def preview(self, timeout: float) -> Frame | None:
        """Blocking, on a request's thread: a preview frame taken after this call (the whole frame cut to
        preview_size's shape at its centre and scaled to it, as a camera's resize mode CROP makes it), or None
        on timeout, once closed, or for a stream without preview_size."""

    @abstractmethod
    def detections_after(self, sequence: int, timeout: float) -> tuple[int, dict] | None:
        """Blocking, on a request's thread: (number, message) of the stream's neural network's first result
        after number `sequence` (a message of schemas/nn.py's DetectionsMessageSchema), or None on timeout, once
        closed, or while the stream has no network."""

    @property
    @abstractmethod
    def closed(self) -> bool:
        """The stream stopped: no frame will come from this output again."""

    @abstractmethod
    def meta(self) -> FrameMeta | None:
        """Not blocking: what the latest frame was taken with, if any is known."""

    @abstractmethod
    def counts(self) -> tuple[int, int]:
        """Not blocking: frames received since the stream started, and frames lost on the way."""


class Backend(ABC):
    @abstractmethod
    def discover(self) -> list[Device]:
        """Blocking: the devices that can be opened now, the same object each time for the same camera."""


class FaultInjection(ABC):
    """A backend whose cameras can be unplugged, replugged and given faults through /sim (the simulator, and
    the DepthAI backend on its test stand-in). `device(mxid)` has unplug(), replug(), inject(), release(),
    `plugged` and `faults` (failing_opens, latency, hang_next, refused_fps); and, for tests, what the device side runs:
    `running` (stream name -> an object with its `config`), `sensor_configs` and `sensor_controls` (sensor
    socket -> the config it last started with, the control last applied to it)."""

    @abstractmethod
    def device(self, mxid: str):
        """The camera's fault-injection handle, or None."""
