"""The DepthAI v3 backend: real OAK cameras over USB or PoE.

One pipeline per device, built from the active streams: a Camera node per sensor with one output at the
stream's resolution (NV12 for colour, GRAY8 for mono), StereoDepth for depth streams, and output queues that
keep only the latest frame. Controls go through each Camera's inputControl queue. Stills are encoded on the
host from the YUV planes: the host encoder handles JPEG and PNG alike, at any quality, and the 8-bit depth
picture needs the host anyway; the device's MJPEG encoder would only pay off for continuous video.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from functools import wraps

import depthai as dai

from .backend import Backend, Device
from .depthai_convert import control_to_dai, frame_from_dai, frame_meta, protocol_of, sensor_from_features, \
    stereo_pairs
from .errors import DeviceError, DeviceTimeout
from .frames import Frame, FrameMeta, FrameSlot
from .model import COLOR, DEPTH, MONO, CameraInfo, streams_of

log = logging.getLogger(__name__)

FIRST_FRAME_TIMEOUT = 8.0     # s: a rebuilt pipeline must deliver a frame of each stream within this
CAPTURE_TIMEOUT = 3.0         # s: a still must arrive within this


def _xlink(fn):
    """depthai raises RuntimeError for XLink failures (a pulled cable, a crashed device): report DeviceError."""
    @wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except RuntimeError as exc:
            raise DeviceError(str(exc)) from exc
    return call


@dataclass
class _Running:
    """A stream on the device: a reader thread moves its frames from the output queue into a slot that any
    number of readers (stills, video) wait on; frames are converted only when somebody takes one."""
    config: dict
    queue: dai.MessageQueue                       # the stream's frames, latest only
    controls: list = field(default_factory=list)  # inputControl queues of its sensors
    slot: FrameSlot = field(default_factory=FrameSlot)
    stopped: threading.Event = field(default_factory=threading.Event)

    def start(self, name: str) -> None:
        threading.Thread(target=self._read, name=f"frames-{name}", daemon=True).start()

    def _read(self) -> None:
        while not self.stopped.is_set():
            try:
                img = self.queue.get(timedelta(seconds=0.5))
            except RuntimeError:          # the queue closed: the pipeline stopped or the device went away
                return
            if img is not None:
                self.slot.publish(img)

    def wait(self, after: int, timeout: float, what: str) -> tuple[int, dai.ImgFrame]:
        got = self.slot.wait_after(after, timeout)
        if got is None:
            raise DeviceTimeout(f"{what} delivered no frame within {timeout:g} s")
        return got


class DepthAIDevice(Device):
    def __init__(self, device_info: dai.DeviceInfo):
        self._device_info = device_info
        self._device: dai.Device | None = None
        self._pipeline: dai.Pipeline | None = None
        self._running: dict[str, _Running] = {}
        self._connect()
        device = self._device
        sensors = tuple(sensor_from_features(f) for f in device.getConnectedCameraFeatures())
        name = device.getProductName() or device.getDeviceName() or "OAK"
        self.info = CameraInfo(mxid=device_info.getDeviceId(), name=str(name), protocol=protocol_of(device_info),
                               sensors=sensors, stereo_pairs=stereo_pairs(device.getAvailableStereoPairs()))
        self.specs = streams_of(self.info)

    @_xlink
    def _connect(self) -> None:
        self._device = dai.Device(self._device_info)

    def healthy(self) -> bool:
        return self._device is not None and not self._device.isClosed()

    def open(self) -> None:
        if not self.healthy():
            self._connect()

    def close(self) -> None:
        self._stop_pipeline()
        if self._device is not None:
            try:
                self._device.close()
            except RuntimeError as exc:
                log.debug("closing %s: %s", self.info.mxid, exc)
            self._device = None

    def _stop_pipeline(self) -> None:
        for running in self._running.values():
            running.stopped.set()
        if self._pipeline is not None:
            try:
                self._pipeline.stop()
            except RuntimeError as exc:
                log.debug("stopping the pipeline of %s: %s", self.info.mxid, exc)
        self._pipeline, self._running = None, {}

    @_xlink
    def configure(self, active: dict[str, tuple[dict, dict]]) -> None:
        self._stop_pipeline()
        if not active:
            return
        pipeline = dai.Pipeline(self._device)
        running = {name: self._build(pipeline, name, config) for name, (config, _) in active.items()}
        pipeline.start()
        self._pipeline, self._running = pipeline, running
        for name, (_, control) in active.items():
            running[name].start(name)
            self.set_control(name, control)
        for name, stream in running.items():
            stream.wait(-1, FIRST_FRAME_TIMEOUT, name)

    def _build(self, pipeline: dai.Pipeline, name: str, config: dict) -> _Running:
        spec = self.specs[name]
        size = spec.size_of(config["resolution"])
        fps = float(config["fps"])
        cameras = [pipeline.create(dai.node.Camera).build(dai.CameraBoardSocket.__members__[s.socket],
                                                          sensorResolution=size, sensorFps=fps)
                   for s in spec.sensors]
        if spec.kind == DEPTH:
            left, right = (c.requestOutput(size, type=dai.ImgFrame.Type.GRAY8, fps=fps) for c in cameras)
            output = pipeline.create(dai.node.StereoDepth).build(left, right).depth
        else:
            kind = dai.ImgFrame.Type.GRAY8 if spec.kind == MONO else dai.ImgFrame.Type.NV12
            output = cameras[0].requestOutput(size, type=kind, fps=fps)
        return _Running(config, output.createOutputQueue(maxSize=1, blocking=False),
                        [c.inputControl.createInputQueue() for c in cameras])

    @_xlink
    def set_control(self, stream: str, control: dict) -> None:
        message = control_to_dai(control)
        for queue in self._stream(stream).controls:
            queue.send(message)

    @_xlink
    def capture(self, stream: str) -> Frame:
        running = self._stream(stream)
        _, img = running.wait(running.slot.sequence, CAPTURE_TIMEOUT, stream)   # a frame after the request
        frame = frame_from_dai(img)
        return crop_still(frame, running.config) if self.specs[stream].kind == COLOR else frame

    @_xlink
    def next_frame(self, stream: str, after: int, timeout: float) -> Frame:
        running = self._stream(stream)
        sequence, img = running.wait(after, timeout, stream)
        frame = frame_from_dai(img)
        return Frame(frame.format, frame.planes, frame.timestamp, sequence, frame.meta)

    def frame_meta(self, stream: str) -> FrameMeta | None:
        running = self._running.get(stream)
        latest = running.slot.wait_after(-1, 0) if running is not None else None
        if latest is None or latest[1].getType() == dai.ImgFrame.Type.RAW16:
            return None
        return frame_meta(latest[1])

    def _stream(self, name: str) -> _Running:
        running = self._running.get(name)
        if running is None:
            raise DeviceError(f"{name} is not running on the device")
        return running


def crop_still(frame: Frame, config: dict) -> Frame:
    """The still window (still_size at sensor_crop) of a full colour frame, as the simulator cuts it."""
    width, height = frame.width, frame.height
    w, h = config["still_size"]
    if (w, h) == (width, height):
        return frame
    x = int(config["sensor_crop"][0] * width) & ~1
    y = int(config["sensor_crop"][1] * height) & ~1
    luma, u, v = frame.planes
    planes = (luma[y:y + h, x:x + w].copy(), u[y // 2:(y + h + 1) // 2, x // 2:(x + w + 1) // 2].copy(),
              v[y // 2:(y + h + 1) // 2, x // 2:(x + w + 1) // 2].copy())
    return Frame(frame.format, planes, frame.timestamp, frame.sequence, frame.meta)


class DepthAIBackend(Backend):
    def __init__(self):
        self._devices: dict[str, DepthAIDevice] = {}

    def discover(self) -> list[Device]:
        """Devices that are available now: new ones, and known ones that came back (open ones are not listed)."""
        found = []
        for info in dai.Device.getAllAvailableDevices():
            mxid = info.getDeviceId()
            if mxid not in self._devices:
                try:
                    self._devices[mxid] = DepthAIDevice(info)
                except (RuntimeError, DeviceError) as exc:
                    log.warning("camera %s found but could not be opened: %s", mxid, exc)
                    continue
            found.append(self._devices[mxid])
        return found
