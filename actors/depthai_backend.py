"""The DepthAI v3 backend: real OAK cameras over USB or PoE, keeping depthai's rules (docs/depthai-rules.md).

The pipeline holds the streams the camera can switch between (see `plan`): a Camera node per sensor at the
sensor mode its streams need, one output per stream (NV12 colour, GRAY8 mono, StereoDepth depth), each behind a
Gate and read into a latest-only queue; beside it, behind gates of their own, the preview (R15) and a video_size
window cut by an ImageManip (R17), and a stream's neural network (R16). One reader thread per device takes every
queue's messages at once (MessageQueue.getAny). Activating a stream opens its gate and starts its
sensors (R11); deactivating closes the gate and stops the sensors that feed nothing active. Only a change of
what the pipeline is made of rebuilds, and since `Pipeline.stop()` closes the device and a device runs one
pipeline (R1), a rebuild reopens the device: that is a camera reboot, a gate is a message.

Stills and other MJPEG video are encoded on the host from the YUV planes: JPEG and PNG at any quality and size per
viewer, and the 8-bit depth picture needs the host anyway. WebSocket H.264 comes from the camera's own
VideoEncoder for the streams that fit its limits (R13), and so does MJPEG at the default quality; the host
only packs the H.264 into fragmented MP4 and passes the JPEGs on.

Every method runs on the actor's worker thread; viewers read a stream's output (`_Stream`) on their own. A call the actor abandoned
after its deadline may return later: each open starts a new generation, and such a call finds its generation
gone and leaves the device to the new one.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import wraps
from typing import Callable, Mapping

import depthai

from .backend import JPEG, RAW, Backend, Device, FrameSource
from .depthai_convert import control_to_dai, frame_from_dai, frame_meta, nn_message, protocol_of, sensor_from_features, \
    stereo_pairs
from .errors import ConfigRejected, DeviceError, DeviceTimeout
from .frames import EncodedPacket, Frame, FrameMeta, FrameSlot, PacketRing, window_origin
from .model import COLOR, DEPTH, MONO, RVC2, RVC4, CameraInfo, StreamSpec, stereo_source, streams_of
from .nn import load_blob

log = logging.getLogger(__name__)

FIRST_FRAME_TIMEOUT = 8.0     # s: a stream that was switched on must deliver a frame within this
CAPTURE_TIMEOUT = 3.0         # s: a still must arrive within this
READ_PERIOD = 0.5             # s: how often the device's reader looks up from its queues
REBOOT_POLL = 0.1             # s: how often a rebuild looks for its rebooted camera
QueueException = depthai.MessageQueue.QueueException   # a closed queue; not a RuntimeError (R2)
# The camera's H.264 encoder (R13): widths a multiple of 32 and at most 4096, at most 3 encodes at once, and
# 248 million pixels a second for all of them. A stream beyond that is encoded on the host.
H264_WIDTH_STEP, H264_MAX_WIDTH, H264_MAX_ENCODERS, H264_MAX_PIXEL_RATE = 32, 4096, 3, 248e6
# Its MJPEG side: up to 16384 wide, sharing the encoder with H.264, and 361 million pixels a second as Luxonis
# measured it (luxonis/depthai-python PR #548; the VideoEncoder page says 500). These are RVC2's limits.
MJPEG_MAX_WIDTH, MJPEG_MAX_PIXEL_RATE = 16384, 361e6
CAMERA_JPEG_QUALITY = 80      # the MJPEG the camera encodes: the video's default quality
ENCODED_QUEUE = 30            # encoded frames the device may hold for the host: a second at 30 fps


# A closed or unplugged device fails every call with one of these (src/device/DeviceBase.cpp rethrows an RPC's
# failure as "Device already closed or disconnected"; XLink's own errors name X_LINK). Anything else is the
# device refusing a request, not a lost device: an unsupported call, a pipeline it will not run.
LOST_TEXTS = ("X_LINK", "closed or disconnected", "Communication exception")
# How long a rebooted camera takes to be listed again after a rebuild closed it, at most: a USB device
# re-enumerates within seconds, a PoE one boots over the network (R19). A rebuild waits for it.
REBOOT_WAIT = {"usb": 5.0, "poe": 15.0}
# The emitters fire on the left camera's strobe, aligned to the start of its exposure (R14).
STROBE = "CAM_B"


def means_lost(exc: Exception) -> bool:
    return isinstance(exc, QueueException) or any(text in str(exc) for text in LOST_TEXTS)


def _device_errors(fn):
    """depthai reports a pulled cable or a crashed device as RuntimeError, and a closed queue as
    QueueException (R2): both are a DeviceError, and the device is then known to be lost."""
    @wraps(fn)
    def call(self, *args, **kwargs):
        generation = self._generation
        try:
            return fn(self, *args, **kwargs)
        except (RuntimeError, QueueException) as exc:
            if generation == self._generation:      # a call from before a reopen says nothing of the new one
                self._lost.set()
            raise DeviceError(str(exc) or type(exc).__name__) from exc
    return call


def plan(specs: Mapping[str, StreamSpec], desired: Mapping) -> dict[str, dict]:
    """The streams a pipeline holds, with their configs: every active stream, then every sensor stream, then
    one depth stream (the active one, else the first stereo pair's), each only if the sensor modes it needs
    agree with those already chosen (a sensor runs one mode).

    One StereoDepth node at most: RVC2 has one stereo engine's worth of memory to spare beside three sensors,
    and on the OAK-D-LR any two of its three pairs share a sensor, so only one depth stream is active at once.
    """
    chosen: dict[str, dict] = {}
    modes: dict[str, tuple] = {}       # socket -> (sensor size, fps)

    def take(name: str) -> None:
        config = desired[name].config
        need = {s: (size, float(config["fps"])) for s, size in sensor_sizes(specs[name], config).items()}
        if name not in chosen and all(modes.get(s, want) == want for s, want in need.items()):
            modes.update(need)
            chosen[name] = dict(config)

    for name, stream in desired.items():
        if stream.active:
            take(name)
    for name in desired:
        if specs[name].kind != DEPTH:
            take(name)
    if not any(specs[n].kind == DEPTH for n in chosen):
        for name in desired:
            if specs[name].kind == DEPTH:
                take(name)
                break
    return chosen


def sensor_sizes(spec: StreamSpec, config: Mapping) -> dict[str, tuple[int, int]]:
    """The sensor resolution each sensor of a stream runs at for this config."""
    size = spec.size_of(config["resolution"])
    if spec.kind == DEPTH:       # stereo inputs at most STEREO_MAX_WIDTH wide, scaled from a larger mode (R5)
        return {s.socket: stereo_source(s, size).size for s in spec.sensors}
    return {spec.sensors[0].socket: tuple(size)}


@dataclass
class _Tally:
    """Frames of one way across the link: how many came, and the gaps in the camera's frame numbers."""
    received: int = 0
    dropped: int = 0
    last: int = -1

    def count(self, number: int) -> None:
        if self.last >= 0 and number > self.last + 1:
            self.dropped += number - self.last - 1
        self.received, self.last = self.received + 1, number


@dataclass(eq=False)
class _Stream(FrameSource):
    """A stream in the pipeline. The device's reader moves frames from the output queue into a slot that any
    number of readers (stills, video) wait on, while its gate is open; frames are converted only when taken,
    on the taker's thread."""
    config: dict
    sockets: tuple[str, ...]
    queue: object                                 # raw frames: the raw gate's output queue, latest only
    gates: tuple                                  # the stream's gates (its work on the camera), inputControl queues
    encoded_queue: object = None                  # the camera's H.264 of the stream, when it encodes it
    jpeg_queue: object = None                     # the camera's MJPEG of the stream, when it encodes it
    preview_queue: object = None                  # the camera's preview_size output, behind its own gate
    preview_gate: object = None
    nn: Mapping | None = None                     # the network on the stream, and its results' queue
    nn_queue: object = None
    frame: tuple[int, int] = (0, 0)               # the stream's frame size, which the network's view is cut from
    video_queue: object = None                    # the video_size window, cut on the camera, behind its own gate
    video_gate: object = None
    raw_gate: object = None                       # the gate in front of `queue`: open only for a host consumer
    jpeg_gate: object = None                      # the gate in front of the camera's MJPEG: open only for a viewer
    is_open: bool = False
    wanted: bool = False                          # a host consumer (video encoded on the gateway) wants raw frames
    jpeg_wanted: bool = False                     # a viewer of the camera's MJPEG wants its JPEGs
    latest: object = None                         # the latest frame or encoded frame, for what it was taken with
    tally: dict = field(default_factory=lambda: {"raw": _Tally(), "h264": _Tally()})    # frames that crossed, by way
    slot: FrameSlot = field(default_factory=FrameSlot)
    packets: PacketRing = field(default_factory=PacketRing)
    jpegs: FrameSlot = field(default_factory=FrameSlot)
    previews: FrameSlot = field(default_factory=FrameSlot)
    videos: FrameSlot = field(default_factory=FrameSlot)
    results: FrameSlot = field(default_factory=FrameSlot)
    stopped: threading.Event = field(default_factory=threading.Event)

    @property
    def h264(self) -> bool:
        return self.encoded_queue is not None

    @property
    def jpeg(self) -> bool:
        return self.jpeg_queue is not None

    def jpeg_after(self, sequence: int, timeout: float):
        return self.jpegs.wait_after(sequence, timeout)

    def routes(self, name: str) -> dict[str, tuple[object, Callable]]:
        """The stream's host queues, each with what takes its messages (the device's reader calls it)."""
        routes = {f"{name}/raw": (self.queue, self._publish_frame),
                  f"{name}/h264": (self.encoded_queue, self._publish_packet),
                  f"{name}/mjpeg": (self.jpeg_queue, self._publish_jpeg),
                  f"{name}/preview": (self.preview_queue, self.previews.publish),
                  f"{name}/video": (self.video_queue, self.videos.publish),
                  f"{name}/nn": (self.nn_queue, self._publish_result)}
        return {key: route for key, route in routes.items() if route[0] is not None}

    def _publish_result(self, message) -> None:
        self.results.publish(nn_message(message, self.nn, self.frame))

    def detections_after(self, sequence: int, timeout: float) -> tuple[int, dict] | None:
        if self.nn_queue is None:
            self.stopped.wait(timeout)
            return None
        return self.results.wait_after(sequence, timeout)

    def send_gates(self, message) -> None:
        for gate in (*self.gates, self.raw_gate, self.preview_gate, self.video_gate, self.jpeg_gate):
            if gate is not None:
                gate.send(message)

    @property
    def video_raw_gate(self):
        """The gate of the raw frames the gateway encodes video from: the window's when there is one."""
        return self.video_gate if self.video_queue is not None else self.raw_gate

    def frames_after(self, slot: FrameSlot, gate, timeout: float, what: str) -> tuple[int, object]:
        """A frame taken after this call, through a gate that is closed unless a host consumer holds it open:
        opened for two messages, since the first is the frame that waited in the gate's input, taken before
        (its input holds one message: include/depthai/pipeline/node/Gate.hpp); it closes by itself. The host
        queue holds one message, so a slow reader may see the second only: the frame is known by when it
        was taken (getTimestamp, on the host's monotonic clock)."""
        asked = time.monotonic()
        mark = slot.sequence
        if gate is self.video_raw_gate and self.wanted:
            return self.wait(mark, timeout, what, slot)
        deadline = asked + timeout
        gate.send(depthai.GateControl.openGate(2))
        got = self.wait(mark, timeout, what, slot)
        if got[1].getTimestamp().total_seconds() < asked:         # the frame that waited in the gate
            got = self.wait(got[0], max(0.0, deadline - time.monotonic()), what, slot)
        return got

    def _publish_frame(self, img) -> None:
        self.tally["raw"].count(img.getSequenceNum())
        self.latest = img
        self.slot.publish(img)

    def restart_counts(self) -> None:
        """Frames held back by a closed gate are not lost ones."""
        for tally in self.tally.values():
            tally.last = -1

    def counts(self) -> tuple[int, int]:
        """The way more frames took: the camera's H.264 where it encodes the stream (every frame crosses), raw
        frames while consumers take them."""
        tally = max(self.tally.values(), key=lambda t: t.received)
        return tally.received, tally.dropped

    def _publish_packet(self, encoded) -> None:
        self.tally["h264"].count(encoded.getSequenceNum())
        self.latest = encoded
        self.packets.publish(EncodedPacket(
            bytes(encoded.getData()), encoded.getFrameType() == depthai.EncodedFrame.FrameType.I,
            encoded.getTimestamp().total_seconds(), encoded.getSequenceNum(), encoded.getWidth(),
            encoded.getHeight()))

    def _publish_jpeg(self, encoded) -> None:
        self.latest = encoded
        self.jpegs.publish(EncodedPacket(bytes(encoded.getData()), True, encoded.getTimestamp().total_seconds(),
                                         encoded.getSequenceNum(), encoded.getWidth(), encoded.getHeight()))

    def encoded_after(self, sequence: int, timeout: float):
        return self.packets.wait_after(sequence, timeout)

    # Its video output: read by viewers on their own threads; nothing here calls into the device.
    def wait_after(self, sequence: int, timeout: float) -> Frame | None:
        got = (self.videos if self.video_queue is not None else self.slot).wait_after(sequence, timeout)
        if got is None:
            return None
        frame = frame_from_dai(got[1])
        return replace(frame, sequence=got[0])

    def preview(self, timeout: float) -> Frame | None:
        """Previews cross the link only when asked for (`DepthAIDevice.capture_preview`): this waits for one
        asked for by someone else."""
        got = self.previews.wait_after(self.previews.sequence, timeout) if self.preview_queue is not None else None
        return frame_from_dai(got[1]) if got is not None else None

    @property
    def closed(self) -> bool:
        return self.slot.closed

    def meta(self) -> FrameMeta | None:
        """From the latest frame that crossed, raw or encoded by the camera (an EncodedFrame keeps its frame's
        exposure, ISO, colour temperature and lens position)."""
        latest = self.latest
        if latest is None or isinstance(latest, depthai.ImgFrame) and latest.getType() == depthai.ImgFrame.Type.RAW16:
            return None
        return frame_meta(latest)

    def wait(self, after: int, timeout: float, what: str, slot: FrameSlot | None = None) -> tuple[int, object]:
        slot = self.slot if slot is None else slot
        got = slot.wait_after(after, timeout)
        if got is None and slot.closed:
            raise DeviceError(f"{what} stopped")         # a rebuild or a close: its readers learn at once
        if got is None:
            raise DeviceTimeout(f"{what} delivered no frame within {timeout:g} s")
        return got


def _read(dai, routes: dict[str, tuple[_Stream, object, Callable]], lost: threading.Event) -> None:
    """The device's one reader: every host queue of its pipeline at once (MessageQueue.getAny), each message
    handed to what takes it, until the pipeline stops. A queue that closes while the pipeline runs means the
    device went away (R2, R3): getAny then answers nothing at once, or raises if another queue had a message."""
    queues = {key: queue for key, (_, queue, _) in routes.items()}
    stopped = next(iter(routes.values()))[0].stopped        # set for every stream at once (_stop_pipeline)
    while not stopped.is_set():
        try:
            got = dai.MessageQueue.getAny(queues, timedelta(seconds=READ_PERIOD))
            closed = not got and any(queue.isClosed() for queue in queues.values())
        except (RuntimeError, QueueException):
            closed = True
        if closed:
            if not stopped.is_set():
                lost.set()
            return
        for key, message in got.items():
            stream, _, publish = routes[key]
            if message is not None and stream.is_open:   # a frame that slipped through a closing gate is dropped
                publish(message)


class DepthAIDevice(Device):
    camera_h264 = True          # video (H.264, default MJPEG) from the camera's encoder where it fits (R13)
    on_demand = True            # raw frames and the camera's JPEGs cross the link only for a consumer (R22)

    def __init__(self, dai, device, device_info):
        """`device` is open: discovery opened it to read what the camera has."""
        self.rebuild_allowance = REBOOT_WAIT[protocol_of(device_info)]      # a configure may reboot it
        self._rebooting_since = float("-inf")      # when this backend last closed it while it ran
        self._dai = dai
        self._device = device
        self._generation = 0
        self._lost = threading.Event()      # set by readers and failed calls; health never asks depthai (R8)
        self._pipeline = None
        self._ran_pipeline = False          # a device runs one pipeline in its life (R1)
        self._streams: dict[str, _Stream] = {}
        self._controls: dict[str, object] = {}    # socket -> its Camera's inputControl queue
        self._streaming: dict[str, bool] = {}     # socket -> whether the sensor streams
        self._feeding: frozenset = frozenset()    # sockets whose sensor feeds an active stream
        self._queues: list = []                   # the running pipeline's host output queues
        self._ir_lit = False                      # whether the emitters were told to shine since the open
        self._wanted: frozenset = frozenset()     # (stream, RAW or JPEG) that host consumers want (want)
        sensors = tuple(sensor_from_features(f) for f in device.getConnectedCameraFeatures())
        name = device.getProductName() or device.getDeviceName() or "OAK"
        self.info = CameraInfo(mxid=device_info.getDeviceId(), name=str(name), protocol=protocol_of(device_info),
                               sensors=sensors, stereo_pairs=stereo_pairs(device.getAvailableStereoPairs()),
                               ir=bool(device.getIrDrivers()), platform=platform_of(device))
        self.specs = streams_of(self.info)

    @classmethod
    def open_new(cls, dai, device_info) -> "DepthAIDevice":
        """Open a camera found by discovery; a set-up that fails closes it again, or it would stay BOOTED and
        never be listed again (R9)."""
        device = _connect(dai, device_info)
        try:
            return cls(dai, device, device_info)
        except Exception:
            _close_quietly(device)
            raise

    def healthy(self) -> bool:
        return self._device is not None and not self._lost.is_set()

    @_device_errors
    def open(self) -> None:
        if not self.healthy():
            self._reopen()

    def _reopen(self) -> None:
        """Close and open again. A camera moved to another port or address is only found under its new
        DeviceInfo (R7); one that is not listed is not waited for (opening a missing device takes ~10 s, R8),
        except one this backend closed while it ran (a rebuild, a shut down): it reboots, and is listed again
        once it has."""
        self._generation += 1
        self.close()
        deadline = self._rebooting_since + self.rebuild_allowance
        while not (found := [i for i in self._dai.Device.getAllAvailableDevices() if i.getDeviceId() == self.info.mxid]) \
                and time.monotonic() < deadline:
            time.sleep(REBOOT_POLL)
        if not found:
            raise DeviceError(f"X_LINK_DEVICE_NOT_FOUND: {self.info.mxid} is disconnected (not among the "
                              "available devices)")
        self._device = _connect(self._dai, found[0])
        self._ir_lit = False                # the emitters boot off (R14)
        self._lost.clear()
        self._ran_pipeline = False

    def close(self) -> None:
        if self.healthy():                  # closed while it ran: it reboots before it is listed again
            self._rebooting_since = time.monotonic()
        self._stop_pipeline()
        device, self._device = self._device, None
        if device is not None:
            _close_quietly(device)

    def _stop_pipeline(self) -> None:
        for stream in self._streams.values():
            stream.stopped.set()
            stream.slot.close()
            stream.packets.close()
            stream.jpegs.close()
            stream.previews.close()
            stream.videos.close()
            stream.results.close()
        pipeline, self._pipeline = self._pipeline, None
        self._streams, self._controls, self._streaming, self._feeding, self._queues = {}, {}, {}, frozenset(), []
        if pipeline is not None:
            try:
                pipeline.stop()          # this closes the device too (R1)
            except (RuntimeError, QueueException) as exc:
                log.debug("stopping the pipeline of %s: %s", self.info.mxid, exc)

    @_device_errors
    def configure(self, desired: Mapping) -> None:
        generation = self._generation
        active = {n for n, s in desired.items() if s.active}
        if self._pipeline is None or any(self._streams.get(n) is None or self._streams[n].config != desired[n].config
                                         or self._streams[n].nn != desired[n].nn for n in active):
            self._rebuild(desired, generation)
        self._switch(desired, active)

    def _rebuild(self, desired: Mapping, generation: int) -> None:
        """Build and start a pipeline holding `plan(desired)`, all gates closed."""
        if self._ran_pipeline:                 # a new pipeline needs a freshly opened device (R1)
            self._reopen()
            generation = self._generation
        dai, device = self._dai, self._device
        if device is None:
            raise DeviceError("device is not open")
        holds = plan(self.specs, desired)
        active_only = {n: c for n, c in holds.items() if desired[n].active}
        # The switchable extras are a convenience: if the camera refuses them, build what is active alone.
        for attempt in ((holds, active_only) if active_only != holds else (holds,)):
            pipeline = dai.Pipeline(device)
            # No AutoCalibration node (depthai adds one to a camera with a stereo pair, ON_START: extra ISP
            # outputs and a recalibration at every rebuild).
            pipeline.setAutoCalibrationMode(dai.Pipeline.AutoCalibrationMode.OFF)
            try:
                streams, controls = self._build(pipeline, attempt, {n: desired[n].nn for n in attempt})
                break
            except (RuntimeError, ValueError) as exc:
                if means_lost(exc):
                    raise
                error = exc
        else:
            raise ConfigRejected(f"the camera refused the configuration: {error}") from error
        self._check(generation)
        try:
            pipeline.start()          # the device's own checks run here ("Device … error: …")
        except RuntimeError as exc:
            self._ran_pipeline = True         # the device is spent either way: the next build reopens it
            if means_lost(exc):
                raise
            raise ConfigRejected(f"the camera refused to start the configuration: {exc}") from exc
        self._ran_pipeline = True
        self._pipeline, self._streams, self._controls = pipeline, streams, controls
        self._streaming = {socket: True for socket in controls}        # sensors start streaming
        routes = {key: (stream, *route) for name, stream in streams.items()
                  for key, route in stream.routes(name).items()}
        self._queues = [queue for _, queue, _ in routes.values()]
        if routes:
            threading.Thread(target=_read, args=(self._dai, routes, self._lost), name=f"frames-{self.info.mxid}",
                             daemon=True).start()

    def _build(self, pipeline, holds: dict[str, dict], networks: dict[str, Mapping | None]):
        dai = self._dai
        cameras: dict[str, object] = {}
        streams: dict[str, _Stream] = {}
        encoders = []                                   # (codec, width, height, fps) of the camera's encodes
        for name, config in holds.items():
            spec = self.specs[name]
            fps = float(config["fps"])
            for socket, size in sensor_sizes(spec, config).items():
                if socket not in cameras:
                    cameras[socket] = pipeline.create(dai.node.Camera).build(
                        dai.CameraBoardSocket.__members__[socket], sensorResolution=size, sensorFps=fps)
            size = tuple(spec.size_of(config["resolution"]))
            work: list = []         # the gates in front of what the camera does for the stream (R24)
            if spec.kind == DEPTH:
                # StereoDepth works only on what its gated inputs pass: nothing while the stream is inactive.
                left, right = (self._gate(pipeline, cameras[s.socket].requestOutput(
                    size, type=dai.ImgFrame.Type.GRAY8, fps=fps), work).output for s in spec.sensors)
                # Preset DENSITY leaves decimation at 1: depth comes out at the input size (DEFAULT halves it, R6).
                stereo = pipeline.create(dai.node.StereoDepth).build(
                    left, right, presetMode=dai.node.StereoDepth.PresetMode.DENSITY)
                # Depth in the rectified left sensor's view, as GET …/calibration describes it (the default,
                # AUTO, leaves the choice to the firmware).
                stereo.setDepthAlign(dai.StereoDepthConfig.AlgorithmControl.DepthAlign.RECTIFIED_LEFT)
                output = stereo.depth
                source, depth = cameras[spec.sensors[0].socket], stereo          # a network sees the left sensor
            else:
                kind = dai.ImgFrame.Type.GRAY8 if spec.kind == MONO else dai.ImgFrame.Type.NV12
                output = cameras[spec.sensors[0].socket].requestOutput(size, type=kind, fps=fps)
                source, depth = cameras[spec.sensors[0].socket], None
            # Raw frames reach the gateway only through this gate, opened while a host consumer needs them: a
            # still, video encoded on the gateway (R22). What the camera encodes passes a gate of its own.
            raw_gate = self._gate(pipeline, output)
            preview = preview_gate = None
            if "preview_size" in config:     # the camera scales it (resize mode CROP: the centre, R15)
                preview_gate = self._gate(pipeline, cameras[spec.sensors[0].socket].requestOutput(
                    tuple(config["preview_size"]), type=kind, resizeMode=dai.ImgResizeMode.CROP, fps=fps))
                preview = preview_gate.output.createOutputQueue(maxSize=1, blocking=False)
            video = video_gate = None
            video_size, video_source = size, None
            window = spec.kind == COLOR and tuple(config["video_size"]) != size
            if spec.kind != DEPTH and (self.camera_h264 or window):
                video_source = self._gate(pipeline, output, work).output     # open while the stream is active
            if window:
                # The video_size window at sensor_crop, cut on the camera by an ImageManip (R17) behind the
                # stream's gate; stills keep the whole frame.
                video_size = tuple(config["video_size"])
                video_source = self._window(pipeline, video_source, config, size)
                video_gate = self._gate(pipeline, video_source)
                video = video_gate.output.createOutputQueue(maxSize=1, blocking=False)
            encoded = jpegs = jpeg_gate = None
            rvc2 = self.info.platform == RVC2
            if self.camera_h264 and spec.kind != DEPTH:
                if not rvc2 or encoder_fits("h264", video_size, fps, encoders):
                    encoders.append(("h264", *video_size, fps))
                    encoded = self._encoder(pipeline, video_source, fps, "H264_BASELINE", ENCODED_QUEUE)
                if not rvc2 or encoder_fits("mjpeg", video_size, fps, encoders):
                    encoders.append(("mjpeg", *video_size, fps))
                    # Beside the H.264 (which counts the frames and tells their exposure), its JPEGs cross the
                    # link only while a viewer passes them on (a few MB/s at 1080p30): the encoder works behind
                    # a gate of its own. Without, they are what tells the exposure, and always cross.
                    if encoded is not None:
                        jpeg_gate = self._gate(pipeline, video_source)
                    jpegs = self._encoder(pipeline, jpeg_gate.output if jpeg_gate is not None else video_source,
                                          fps, "MJPEG", 1)
            running = _Stream(dict(config), tuple(s.socket for s in spec.sensors),
                              raw_gate.output.createOutputQueue(maxSize=1, blocking=False),
                              (), encoded, jpegs, preview,
                              preview_gate and preview_gate.inputControl.createInputQueue(), video_queue=video,
                              video_gate=video_gate and video_gate.inputControl.createInputQueue(),
                              raw_gate=raw_gate.inputControl.createInputQueue(),
                              jpeg_gate=jpeg_gate and jpeg_gate.inputControl.createInputQueue())
            if networks.get(name) is not None:
                running.nn, running.frame = networks[name], size
                running.nn_queue = self._network(pipeline, source, depth, running.nn, fps, work)
            running.gates = tuple(gate.inputControl.createInputQueue() for gate in work)
            streams[name] = running
        controls = {socket: camera.inputControl.createInputQueue() for socket, camera in cameras.items()}
        return streams, controls

    def _network(self, pipeline, camera, stereo, nn: Mapping, fps: float, work: list):
        """The stream's neural network, fed by its camera at the network's input size and shape (the centre of
        the frame, resize mode CROP) as planar BGR; a spatial one on depth streams. Its results' queue (R16)."""
        dai, config = self._dai, nn["config"]
        # An archive built for RVC4 (a .dlc) goes to the camera whole, by depthai's own setNNArchive, which on a
        # DetectionNetwork gives its parser the archive's heads too; an RVC2 model as the blob it holds (R16, R23).
        rvc4 = RVC4 in nn["model"].get("platforms", ())
        try:
            model = dai.NNArchive(str(nn["path"])) if rvc4 else load_blob(nn["path"], nn["model"]["format"], dai)
        except (RuntimeError, OSError) as exc:
            raise ConfigRejected(f"the model file cannot be loaded: {exc}") from exc
        kind = config["type"]
        node = pipeline.create(dai.node.NeuralNetwork if kind == "Generic" else
                               dai.node.SpatialDetectionNetwork if stereo is not None else dai.node.DetectionNetwork)
        if rvc4:
            node.setNNArchive(model)      # throws for a head its parser cannot take: a refused configuration
        else:
            node.setBlob(model)           # throws on a camera of another platform (NeuralNetwork::setBlob)
        node.setNumInferenceThreads(int(config.get("num_inference_threads", 2)))
        if kind != "Generic":
            node.setConfidenceThreshold(float(config["confidence_threshold"]))
            parser = node.detectionParser
            parser.setNNFamily(dai.DetectionNetworkType.YOLO if kind == "YOLO" else dai.DetectionNetworkType.MOBILENET)
            if config["labels"]:
                parser.setClasses(list(config["labels"]))
            if kind == "YOLO":
                parser.setNumClasses(int(config["num_classes"]))
                parser.setCoordinateSize(int(config["coordinates"]))
                parser.setAnchors([float(a) for a in config["anchors"]])
                parser.setAnchorMasks({k: [int(i) for i in v] for k, v in config["anchor_masks"].items()})
                parser.setIouThreshold(float(config["iou_threshold"]))
            if stereo is not None:
                # Depth aligned to the network's input, as SpatialDetectionNetwork.build does on RVC4 (an
                # ImageAlign fed the network's passthrough); RVC2's build aligns the StereoDepth itself, which
                # would move the depth stream's own view. Unaligned, each result logs a warning (R24).
                align = pipeline.create(dai.node.ImageAlign)
                stereo.depth.link(align.input)
                node.passthrough.link(align.inputAlignTo)
                align.outputAligned.link(node.inputDepth)
        # RVC2 networks read planar BGR, RVC4 ones interleaved unless their archive names a daiType (what
        # NeuralNetwork.cpp requests on each); the model check says which (R25).
        layout = dai.ImgFrame.Type.__members__.get(nn["model"].get("input_type", ""),
                                                   dai.ImgFrame.Type.BGR888p if self.info.platform == RVC2 else
                                                   dai.ImgFrame.Type.BGR888i)
        self._gate(pipeline, camera.requestOutput(tuple(nn["model"]["input"]), type=layout,
                                                  resizeMode=dai.ImgResizeMode.CROP, fps=fps), work).output.link(node.input)
        node.input.setBlocking(False)          # a busy network skips frames, never holds up the camera
        return node.out.createOutputQueue(maxSize=1, blocking=False)

    def _window(self, pipeline, source, config: Mapping, size: tuple[int, int]):
        """An ImageManip cutting the video_size window at sensor_crop out of the frames of `source` (R17)."""
        w, h = config["video_size"]
        x, y = window_origin(config, size)
        manip = pipeline.create(self._dai.node.ImageManip)
        manip.initialConfig.addCrop(x, y, w, h)
        manip.setMaxOutputFrameSize(manip_frame_bytes(w, h))     # the default holds 1 MiB (R17)
        source.link(manip.inputImage)
        return manip.out

    def _gate(self, pipeline, source, work: list | None = None):
        """A Gate node, closed, in front of an output: what follows it receives frames only while it is open.
        `work` collects the gates an activation opens."""
        gate = pipeline.create(self._dai.node.Gate)
        gate.initialConfig.open = False
        source.link(gate.input)
        if work is not None:
            work.append(gate)
        return gate

    def _encoder(self, pipeline, source, fps: float, profile: str, queue_size: int):
        """A VideoEncoder behind a stream's gate; its output queue (R13)."""
        dai = self._dai
        encoder = pipeline.create(dai.node.VideoEncoder).build(source)
        encoder.setDefaultProfilePreset(fps, dai.VideoEncoderProperties.Profile.__members__[profile])
        if profile == "MJPEG":
            encoder.setQuality(CAMERA_JPEG_QUALITY)
        else:
            encoder.setKeyframeFrequency(max(1, round(fps)))     # a joining viewer waits a second at most
        encoder.input.setBlocking(False)      # a busy encoder skips frames, never holds up the stream
        return encoder.out.createOutputQueue(maxSize=queue_size, blocking=False)

    def _switch(self, desired: Mapping, active: set[str]) -> None:
        """Open the gates of the active streams and close the rest; start the sensors that feed an active
        stream and stop the others (R11). A stream switched on answers once its first frame has arrived.
        Works on the pipeline it started with: a call released after its deadline only reaches the queues of
        the device a reopen closed, never those of the new one."""
        dai, streams, controls = self._dai, self._streams, self._controls
        turned_on = [n for n in active if not streams[n].is_open]
        feeding = {s for n in active for s in streams[n].sockets}
        for name in turned_on:
            message = control_to_dai(desired[name].control)
            for socket in streams[name].sockets:
                controls[socket].send(message)
        for name, stream in streams.items():
            if stream.is_open and name not in active:
                stream.is_open = stream.wanted = stream.jpeg_wanted = False
                stream.send_gates(dai.GateControl.closeGate())
        self._feeding = frozenset(feeding)
        self._stream_sensors()
        marks = {}
        for name in turned_on:
            stream = streams[name]
            marks[name] = stream.slot.sequence
            stream.is_open, stream.wanted = True, (name, RAW) in self._wanted
            stream.jpeg_wanted = stream.jpeg_gate is not None and (name, JPEG) in self._wanted
            stream.restart_counts()
            for gate in stream.gates:
                gate.send(dai.GateControl.openGate())
            if stream.wanted and stream.video_gate is not None:
                stream.video_gate.send(dai.GateControl.openGate())
            if stream.jpeg_wanted:
                stream.jpeg_gate.send(dai.GateControl.openGate())
            # The first frame answers the activation: the raw gate lets one through unless video is encoded
            # on the gateway from these frames.
            keep_open = stream.wanted and stream.video_raw_gate is stream.raw_gate
            stream.raw_gate.send(dai.GateControl.openGate() if keep_open else dai.GateControl.openGate(1))
        for name in turned_on:
            streams[name].wait(marks[name], FIRST_FRAME_TIMEOUT, name)

    def _stream_sensors(self) -> None:
        """Start the sensors that feed an active stream and stop the others (R11). While the IR shines on a
        mono sensor's stream, the left camera streams too, its frames going nowhere: its strobe is what fires
        the emitters (R14)."""
        kinds = {s.socket: s.kind for s in self.info.sensors}
        wanted = set(self._feeding)
        if self._ir_lit and any(kinds.get(s) == MONO for s in wanted):
            wanted.add(STROBE)
        for socket, queue in self._controls.items():
            want = socket in wanted
            if self._streaming.get(socket) != want:
                message = self._dai.CameraControl()
                message.setStartStreaming() if want else message.setStopStreaming()
                queue.send(message)
                self._streaming[socket] = want

    @_device_errors
    def want(self, wanted: frozenset) -> None:
        """Raw frames wanted by host consumers (video encoded on the gateway) and the camera's JPEGs wanted by
        viewers: their gates open for as long as they are (R22); the wish outlives a rebuild."""
        self._wanted = frozenset(wanted)
        gate = self._dai.GateControl
        for name, stream in self._streams.items():
            want = stream.is_open and (name, RAW) in wanted
            if want != stream.wanted:
                stream.wanted = want
                stream.video_raw_gate.send(gate.openGate() if want else gate.closeGate())
            want = stream.is_open and stream.jpeg_gate is not None and (name, JPEG) in wanted
            if want != stream.jpeg_wanted:
                stream.jpeg_wanted = want
                stream.jpeg_gate.send(gate.openGate() if want else gate.closeGate())

    def _check(self, generation: int) -> None:
        if generation != self._generation:
            raise DeviceError("the device was reopened while this call was held up")

    @_device_errors
    def set_control(self, stream: str, control: dict) -> None:
        message, controls = control_to_dai(control), self._controls
        for socket in self._stream(stream).sockets:
            controls[socket].send(message)

    @_device_errors
    def capture(self, stream: str) -> Frame:
        running = self._stream(stream)
        _, img = running.frames_after(running.slot, running.raw_gate, CAPTURE_TIMEOUT, stream)
        frame = frame_from_dai(img)
        return crop_window(frame, running.config) if self.specs[stream].kind == COLOR else frame

    @_device_errors
    def capture_preview(self, stream: str) -> Frame:
        running = self._stream(stream)
        if running.preview_queue is None:
            raise ConfigRejected(f"{stream} has no preview output")
        _, img = running.frames_after(running.previews, running.preview_gate, CAPTURE_TIMEOUT, f"{stream}'s preview")
        return frame_from_dai(img)

    def _rpc_device(self):
        """The device, for a call that is an RPC: none once it is known lost. A running pipeline whose link
        went is stopped by its own host nodes, which close its queues and then the device (R1, R2), and an
        RPC of a closed device dereferences the RPC client the close dropped: on a camera, a crash of the
        service (R20). A closed queue is looked at here too, not only through the reader, which may not have
        woken yet."""
        if self._device is None:
            raise DeviceError("device is not open")
        if self._lost.is_set() or any(queue.isClosed() for queue in self._queues):
            self._lost.set()
            raise DeviceError("the device was lost (its queues closed): it is not called again until reopened")
        return self._device

    @_device_errors
    def set_ir(self, ir: Mapping) -> None:
        """The emitters boot off: the actor sends the IR with every (re)open (R14)."""
        device = self._rpc_device()
        if not (device.setIrLaserDotProjectorIntensity(float(ir["dot_projector"]))
                and device.setIrFloodLightIntensity(float(ir["flood_light"]))):
            raise ConfigRejected("the camera's IR driver refused the intensity")
        self._ir_lit = ir["dot_projector"] > 0 or ir["flood_light"] > 0
        self._stream_sensors()

    @_device_errors
    def stats(self) -> dict:
        device = self._rpc_device()
        memory = lambda m: {"total": m.total, "used": m.used, "remaining": m.remaining}  # noqa: E731
        try:        # each figure is an RPC of its own (src/device/DeviceBase.cpp): any one may be refused
            t = device.getChipTemperature()
            return {"chip_temperature": {"average": t.average, "css": t.css, "mss": t.mss, "upa": t.upa, "dss": t.dss},
                    "cmx_memory_usage": memory(device.getCmxMemoryUsage()),
                    "ddr_memory_usage": memory(device.getDdrMemoryUsage()),
                    "leon_cpu_usage": {"css": device.getLeonCssCpuUsage().average,
                                       "mss": device.getLeonMssCpuUsage().average}}
        except RuntimeError as exc:
            if means_lost(exc):
                raise
            raise ConfigRejected(f"the camera does not report its figures: {exc}") from exc

    @_device_errors
    def calibration(self):
        device = self._rpc_device()
        return device.readCalibration()

    def output(self, stream: str) -> FrameSource | None:
        running = self._streams.get(stream)
        return running if running is not None and running.is_open else None

    def _stream(self, name: str) -> _Stream:
        running = self._streams.get(name)
        if running is None or not running.is_open:
            raise DeviceError(f"{name} is not running on the device")
        return running


def manip_frame_bytes(width: int, height: int) -> int:
    """The pool size an ImageManip needs for NV12 frames of this size, and skips a frame its pool cannot hold
    (R17): rows padded to 128 bytes, the Y plane to 32 lines and the UV plane to 16, each plane to 4 KiB
    (src/pipeline/utilities/ImageManip/ImageManipImpl.cpp `getAlignedOutputFrameSize`)."""
    def up(value: int, step: int) -> int:
        return -(-value // step) * step
    stride = up(width, 128)
    return up(stride * up(height, 32), 4096) + up(stride * up(height // 2, 16), 4096)


def platform_of(device) -> str:
    """RVC2 (OAK) or RVC4 (OAK4): `Device.getPlatform()`."""
    return device.getPlatform().name


def encoder_fits(codec: str, size: tuple[int, int], fps: float, encoders: list[tuple[str, int, int, float]]) -> bool:
    """Whether an RVC2 camera's encoder can take one more stream of this codec, size and rate (R13): H.264 and
    MJPEG share it, each pixel rate counted against its codec's limit."""
    width, height = size
    limit = {"h264": H264_MAX_PIXEL_RATE, "mjpeg": MJPEG_MAX_PIXEL_RATE}
    load = sum(w * h * f / limit[c] for c, w, h, f in encoders) + width * height * fps / limit[codec]
    if codec == "mjpeg":
        return width <= MJPEG_MAX_WIDTH and load <= 1
    return (width % H264_WIDTH_STEP == 0 and width <= H264_MAX_WIDTH and load <= 1
            and sum(c == "h264" for c, *_ in encoders) < H264_MAX_ENCODERS)


def _connect(dai, device_info):
    """Open a device and leave reconnecting to the actor, which restores the camera's state (R3)."""
    try:
        device = dai.Device(device_info)
    except RuntimeError as exc:
        raise DeviceError(str(exc)) from exc
    try:
        device.setMaxReconnectionAttempts(0)
    except Exception:
        _close_quietly(device)
        raise
    return device


def _close_quietly(device) -> None:
    try:
        device.close()
    except (RuntimeError, QueueException) as exc:
        log.debug("closing a device: %s", exc)


def crop_window(frame: Frame, config: dict) -> Frame:
    """The still window (still_size at sensor_crop) of a full colour frame, as the simulator cuts it."""
    width, height = frame.width, frame.height
    w, h = config["still_size"]
    if (w, h) == (width, height):
        return frame
    x, y = window_origin(config, (width, height))
    luma, u, v = frame.planes
    planes = (luma[y:y + h, x:x + w].copy(), u[y // 2:(y + h + 1) // 2, x // 2:(x + w + 1) // 2].copy(),
              v[y // 2:(y + h + 1) // 2, x // 2:(x + w + 1) // 2].copy())
    return replace(frame, planes=planes)


class DepthAIBackend(Backend):
    """`dai` is depthai itself, or a stand-in for its device layer in tests."""

    def __init__(self, dai=depthai, camera_h264: bool = True, reboot_wait: Mapping[str, float] = REBOOT_WAIT):
        self.dai = dai
        self.camera_h264 = camera_h264
        self.reboot_wait = reboot_wait
        self._devices: dict[str, DepthAIDevice] = {}

    def discover(self) -> list[Device]:
        """Devices that are available now: new ones, and known ones that came back. Open devices are BOOTED and
        not listed (R9)."""
        found = []
        for info in self.dai.Device.getAllAvailableDevices():
            mxid = info.getDeviceId()
            if mxid not in self._devices:
                try:
                    self._devices[mxid] = DepthAIDevice.open_new(self.dai, info)
                    self._devices[mxid].camera_h264 = self.camera_h264
                    self._devices[mxid].rebuild_allowance = self.reboot_wait[protocol_of(info)]
                except (RuntimeError, DeviceError) as exc:
                    log.warning("camera %s found but could not be opened: %s", mxid, exc)
                    continue
            found.append(self._devices[mxid])
        return found
