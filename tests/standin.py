"""A stand-in for depthai's device layer: the devices, pipelines, nodes and queues the DepthAI backend drives,
keeping the stand-in column of docs/depthai-rules.md, so the backend can be tested end to end without a camera.

Only what needs a device is imitated (Device, Pipeline, the Camera, StereoDepth and Gate nodes, their
outputs and queues); every message and description is depthai's own object (CameraControl, GateControl,
ImgFrame, CameraFeatures, CameraSensorConfig, StereoPair, DeviceInfo, MessageQueue.QueueException), reached
through this module's fall-through to depthai, and the video window is cut by depthai's own ImageManip, run
on the host. The cameras are the simulator's models (actors/sensors.py),
and their pictures the simulator's scene, rendered as the sensor's controls say, so a test can read the
same picture on both backends.

A `Bus` is the gateway's USB/Ethernet: it holds `Board`s (the cameras), can unplug one, replug it on another
port, and make calls slow or hang. Each board counts device opens, pipelines started, gate and streaming
commands and autofocus triggers.
"""
from __future__ import annotations

import math
import threading
import time
from collections import Counter
from datetime import timedelta
from types import SimpleNamespace

import depthai as real
import numpy as np
import simplejpeg

from actors.depthai_convert import frame_from_dai
from actors.fmp4 import H264Encoder
from actors.model import COLOR, COLOR_RESOLUTIONS, MONO_RESOLUTIONS, default_control, depth_stream_name, streams_of
from actors.simulated import detector, scene
from actors.simulated.calibration import calibration
from actors.simulated.device import Faults as SimFaults
from actors.simulated.models import camera_info

QueueException = real.MessageQueue.QueueException
Command = real.CameraControl.Command
Preset = real.node.StereoDepth.PresetMode
RVC2_STEREO_MAX_WIDTH = 1280
DECIMATING_PRESETS = {Preset.DEFAULT, Preset.FACE, Preset.HIGH_DETAIL, Preset.ROBOTICS}   # factor 2 (R6)
HANG_LIMIT = 60.0
H264_MAX_ENCODERS, H264_MAX_PIXEL_RATE = 3, 248e6      # the camera's H.264 encoder; widths a multiple of 32 (R13)
# Its MJPEG side, sharing the encoder: 361 million pixels a second as Luxonis measured it on RVC2
# (luxonis/depthai-python PR #548), not the 500 of the VideoEncoder page's "Limitations".
MJPEG_MAX_PIXEL_RATE = 361e6
# Closing a lost device waits for its crash dump: DEFAULT_CRASHDUMP_TIMEOUT_MS (9 s) plus the XLink watchdog's
# timeout, ~10.5 s on USB and ~13 s on TCP (src/device/DeviceBase.cpp getCrashdumpTimeout), R8.
CLOSE_HOLD = {"usb": 10.5, "poe": 13.0}
# A closed device reboots before it is listed again: XLinkConnection::close waits only for an UNBOOTED USB
# device, and a BOOTED one is not listed (src/xlink/XLinkConnection.cpp); a USB device re-enumerates, a PoE
# one comes back over the network later. Short here, so the suite stays quick; bench/activation.py sets the
# lengths a camera takes (Bus.reboot).
REBOOT = {"usb": 0.2, "poe": 0.5}
# The emitters fire on the left camera's strobe, aligned to the start of its exposure: dark while it does not
# stream (DeviceBase.hpp, setIrLaserDotProjectorIntensity and setIrFloodLightIntensity: "The duty cycle is
# controlled by the `left` camera STROBE"), R14.
STROBE = "CAM_B"
# Every RPC of a lost device fails so, a RuntimeError and never one of depthai's XLinkError classes: the RPC
# client rethrows whatever its XLink stream raised as std::system_error(io_error, "Device already closed or
# disconnected"), whose what() appends the errno's text (src/device/DeviceBase.cpp, the rpcClient in init2). The
# XLinkReadError/XLinkWriteError of the host nodes' streams end in their threads and close the queues (R2).
LOST = "Device already closed or disconnected: Input/output error"
# What the link carries towards the host, bytes a second. USB3: "USB3 downlink should be about 2.5 Gbps" (Luxonis'
# USB deployment guide); GigE: 797 Mbps downlink measured by oak_bandwidth_test.py (Luxonis' "Low Latency"
# page); USB2: the 480 Mbit/s bus carries at most 13 bulk packets of 512 bytes a microframe (USB 2.0
# specification, 5.8.4), an upper bound. Every message an output queue takes crosses it, in turn.
LINK_RATE = {"usb2": 13 * 512 * 8000, "usb3": 2.5e9 / 8, "gige": 797e6 / 8}
INF = float("inf")


class Faults(SimFaults):
    def __init__(self):
        super().__init__()
        self.failing_setups = 0      # opens after which reading the camera's features fails (R9)
        self.hold_close = False      # a close of a lost device waits for release() (crash-dump wait, R8)


class Board:
    """One camera on the bus."""

    def __init__(self, bus: "Bus", model: str, index: int):
        self.bus = bus
        self.model = model
        self.info = camera_info(model, index)
        self.specs = streams_of(self.info)
        self.ir = {"dot_projector": 0.0, "flood_light": 0.0}      # what the IR drivers were last told
        self.plugged = True
        self.port = index + 1
        self.booted = False
        self.rebooted_at = 0.0                        # when its last close happened: not listed for a while
        self.device: Device | None = None
        self.counts: Counter = Counter()
        self.faults = Faults()
        self.sensor_controls: dict[str, dict] = {}    # socket -> the control the sensor last received
        self.sensor_configs: dict[str, dict] = {}     # socket -> the mode the sensor last started with
        self.streaming: dict[str, bool] = {}
        self.changed = threading.Condition()          # notified when what flows changes
        self._unhang = threading.Event()
        self._closing = threading.Event()             # clear while a close is held up
        self._closing.set()
        self.close_hold_expired = False
        self.link = "gige" if self.info.protocol == "poe" else "usb3"     # a test may plug it into USB2
        self.platform = "RVC2"                        # a test may make it an OAK4 (RVC4) before it is found
        self.link_free_at = 0.0                       # when the link has sent what it was given
        self.link_bytes: Counter = Counter()          # (stream, "raw" | "h264" | "mjpeg" | "nn") -> bytes that crossed
        self.link_messages: Counter = Counter()       # the same, in messages
        self._link_lock = threading.Lock()

    # What a test sees ----------------------------------------------------------------------------
    @property
    def mxid(self) -> str:
        return self.info.mxid

    @property
    def path(self) -> str:
        return f"192.168.1.{100 + self.port}" if self.info.protocol == "poe" else f"1.{self.port}"

    def lit(self, emitter: str) -> float:
        """How bright an emitter is now: as last told while the left camera's sensor streams and strobes it,
        else dark."""
        return self.ir[emitter] if self.streaming.get(STROBE, False) else 0.0

    @property
    def running(self) -> dict[str, SimpleNamespace]:
        """The streams delivering frames (gate open, sensors streaming), as {name: .config}."""
        pipeline = self.device.pipeline if self.device is not None and not self.device.closed else None
        if pipeline is None or not pipeline.running:
            return {}
        found = {}
        # Gates in front of a StereoDepth or a network pass their work, not a stream of their own.
        inner = {id(o) for n in pipeline.nodes if isinstance(n, StereoNode) for o in (n.left, n.right)}
        inner |= {id(n.input.source) for n in pipeline.nodes if isinstance(n, NeuralNetworkNode)}
        for gate in (n for n in pipeline.nodes if isinstance(n, GateNode) and id(n.output) not in inner):
            source = gate.input.source
            if gate.opened and source is not None and source.flowing():
                found.setdefault(source.stream_name(), SimpleNamespace(config=source.config()))  # its main output
        return found

    def crossing(self, stream: str, kind: str = "raw") -> bool:
        """Whether raw frames of `stream` (ImgFrames; or what `kind` names, as `Output.carries`) may cross the
        link now: a host queue of them whose gates let the next frame through."""
        pipeline = self.device.pipeline if self.device is not None and not self.device.closed else None
        if pipeline is None or not pipeline.running:
            return False
        for queue in pipeline.queues:
            output = queue.output
            if output.carries() == kind and output.stream_name() == stream and output.flowing():
                lo, hi = output.window()
                if hi >= max(lo, queue.sequence + 1):        # a frame it has not taken yet may pass
                    return True
        return False

    def working(self) -> set[str]:
        """The kinds of node that are at work now: frames reach them (StereoDepth, ImageManip, networks), what
        runs on the camera whatever gates stand after it."""
        pipeline = self.device.pipeline if self.device is not None and not self.device.closed else None
        if pipeline is None or not pipeline.running:
            return set()
        found = set()
        for node in pipeline.nodes:
            inputs = {StereoNode: ("left", "right"), ImageManipNode: ("inputImage",)}.get(type(node), ("input",))
            if isinstance(node, (StereoNode, ImageManipNode, NeuralNetworkNode)):
                feeds = [node.left, node.right] if isinstance(node, StereoNode) else \
                    [getattr(node, name).source for name in inputs]
                if all(feed is not None and feed.working() for feed in feeds):
                    found.add(type(node).__name__)
        return found

    def cross(self, stream: str, message) -> float:
        """A message crosses the link towards the host: when it has arrived, at the link's rate, after what
        was sent before it."""
        if isinstance(message, real.EncodedFrame):
            kind = "mjpeg" if message.getProfile() == real.EncodedFrame.Profile.JPEG else "h264"
        else:
            kind = "raw" if isinstance(message, real.ImgFrame) else "nn"
        size = len(message.getData()) if kind != "nn" else 512
        with self._link_lock:
            self.link_bytes[stream, kind] += size
            self.link_messages[stream, kind] += 1
            start = max(time.monotonic(), self.link_free_at)
            self.link_free_at = start + size / LINK_RATE[self.link]
            return self.link_free_at

    # Faults --------------------------------------------------------------------------------------
    def unplug(self) -> None:
        self.plugged = False
        if self.device is not None:
            self.device.link_lost()
        self._unhang.set()              # a hung call fails now; a held-up close stays held until release()

    def replug(self) -> None:
        """Plugged back, on another port: the old DeviceInfo no longer reaches it (R7)."""
        self.port += 10
        self.plugged = True
        if self.device is not None and not self.device.closed:
            self.device.reconnected_by_itself()
        self.release()

    def inject(self, **faults) -> None:
        self.faults.inject(**faults)

    def release(self) -> None:
        self._unhang.set()
        self._closing.set()

    def wait_for_close(self) -> None:
        """Wait for a held-up close of this board's device; `close_hold_expired` tells that it never came."""
        if not self._closing.wait(CLOSE_HOLD[self.info.protocol]):
            self.close_hold_expired = True

    def operate(self, opening: bool = False) -> None:
        """A call that reaches the device: slow, hung or failing as injected."""
        hang, self.faults.hang_next = self.faults.hang_next, False
        if hang:
            self._unhang.clear()
        if self.faults.latency:
            time.sleep(self.faults.latency)
        if hang:
            self._unhang.wait(HANG_LIMIT)
        if not self.plugged:
            raise RuntimeError(LOST)
        if opening and self.faults.failing_opens > 0:
            self.faults.failing_opens -= 1
            raise RuntimeError("X_LINK_DEVICE_NOT_FOUND: Failed to boot the device (injected)")

    # What the board is ---------------------------------------------------------------------------
    def device_info(self) -> real.DeviceInfo:
        protocol = real.XLinkProtocol.X_LINK_TCP_IP if self.info.protocol == "poe" else real.XLinkProtocol.X_LINK_USB_VSC
        platform = real.XLinkPlatform.X_LINK_RVC4 if self.platform == "RVC4" else real.XLinkPlatform.X_LINK_MYRIAD_X
        return real.DeviceInfo(self.path, self.mxid, real.XLinkDeviceState.X_LINK_UNBOOTED, protocol, platform,
                               real.XLinkError_t.X_LINK_SUCCESS)

    def features(self) -> list:
        found = []
        for sensor in self.info.sensors:
            f = real.CameraFeatures()
            f.socket = real.CameraBoardSocket.__members__[sensor.socket]
            f.sensorName = sensor.name
            kind = real.CameraSensorType.COLOR if sensor.kind == COLOR else real.CameraSensorType.MONO
            f.supportedTypes = [kind]
            f.hasAutofocus = sensor.autofocus
            f.width, f.height = max((m.size for m in sensor.modes), key=lambda s: s[0] * s[1])
            configs = []
            for mode in sensor.modes:
                c = real.CameraSensorConfig()
                c.width, c.height, c.minFps, c.maxFps, c.type = mode.width, mode.height, mode.min_fps, mode.max_fps, kind
                configs.append(c)
            f.configs = configs
            found.append(f)
        return found

    def stereo_pairs(self) -> list:
        pairs = []
        for left, right in self.info.stereo_pairs:
            pair = real.StereoPair()
            pair.left, pair.right = (real.CameraBoardSocket.__members__[s] for s in (left, right))
            pairs.append(pair)
        return pairs

    def control_of(self, socket: str) -> dict:
        """What the sensor runs: the controls it received, over the defaults it booted with."""
        return self.sensor_controls.get(socket) or default_control(self.specs[socket])

    def receive_control(self, socket: str, c: real.CameraControl) -> None:
        """Read a CameraControl as the sensor does: each field whose command is set."""
        if c.getCommand(Command.STOP_STREAM) or c.getCommand(Command.START_STREAM):
            self.counts["streaming"] += 1
            with self.changed:
                self.streaming[socket] = c.getCommand(Command.START_STREAM)
                self.changed.notify_all()
        if c.getCommand(Command.AF_TRIGGER):
            self.counts["af_triggers"] += 1
        fields = {
            Command.EXPOSURE_COMPENSATION: ("auto_exposure_compensation", c.expCompensation),
            Command.CONTRAST: ("contrast", c.contrast), Command.BRIGHTNESS: ("brightness", c.brightness),
            Command.SATURATION: ("saturation", c.saturation), Command.CHROMA_DENOISE: ("chroma_denoise", c.chromaDenoise),
            Command.LUMA_DENOISE: ("luma_denoise", c.lumaDenoise), Command.AE_LOCK: ("auto_exposure_lock", c.aeLockMode),
            Command.AWB_LOCK: ("auto_whitebalance_lock", c.awbLockMode),
        }
        changes = {name: value for command, (name, value) in fields.items() if c.getCommand(command)}
        if c.aeMaxExposureTimeUs:
            changes["auto_exposure_limit"] = c.aeMaxExposureTimeUs
        if c.getCommand(Command.AE_AUTO):
            changes["auto_exposure_enable"] = True
        if c.getCommand(Command.AE_MANUAL):
            changes.update(auto_exposure_enable=False, exposure_time=int(c.getExposureTime().total_seconds() * 1e6),
                           sensitivity_iso=c.getSensitivity())
        if c.getCommand(Command.AWB_MODE):
            changes["auto_whitebalance_mode"] = c.awbMode.name
        if c.getCommand(Command.WB_COLOR_TEMP):
            changes.update(auto_whitebalance_mode="OFF", manual_whitebalance=c.wbColorTemp)
        if c.getCommand(Command.AF_MODE):
            focus = dict(self.control_of(socket)["focus"] or {})
            focus.update(auto_focus_mode=c.autoFocusMode.name, auto_focus_trigger=c.getCommand(Command.AF_TRIGGER))
            if c.getCommand(Command.MOVE_LENS_RAW):
                focus["lens_position"] = round(c.getLensPositionRaw(), 6)
            changes["focus"] = focus
        if changes:
            self.sensor_controls[socket] = {**self.control_of(socket), **changes}


class Bus:
    """The cameras plugged into the gateway; `dai` is the stand-in module the backend is given."""

    def __init__(self, models: list[str]):
        counts: Counter = Counter()
        self.boards: list[Board] = []
        self.reboot = dict(REBOOT)              # seconds a closed device is not listed, by protocol
        for model in models:
            self.boards.append(Board(self, model, counts[model]))
            counts[model] += 1
        self.dai = Standin(self)

    def board(self, mxid: str) -> Board | None:
        return next((b for b in self.boards if b.mxid == mxid), None)

    def available(self) -> list:
        """What getAllAvailableDevices lists: plugged boards that no one has booted (R9)."""
        now = time.monotonic()
        return [b.device_info() for b in self.boards if b.plugged and not b.booted
                and now >= b.rebooted_at + self.reboot[b.info.protocol]]


class Standin:
    """The module the backend sees as `dai`: Device, Pipeline and node from here, the rest from depthai."""

    def __init__(self, bus: Bus):
        self.Device = type("Device", (Device,), {"bus": bus})
        self.Pipeline = Pipeline
        self.node = SimpleNamespace(Camera=CameraNode, StereoDepth=StereoNode, Gate=GateNode,
                                    VideoEncoder=VideoEncoderNode, ImageManip=ImageManipNode,
                                    NeuralNetwork=NeuralNetworkNode, ImageAlign=ImageAlignNode,
                                    DetectionNetwork=DetectionNetworkNode,
                                    SpatialDetectionNetwork=SpatialDetectionNetworkNode)
        self.MessageQueue = SimpleNamespace(getAny=OutputQueue.getAny, QueueException=QueueException)

    def __getattr__(self, name):
        return getattr(real, name)


class Device:
    bus: Bus

    @classmethod
    def getAllAvailableDevices(cls) -> list:
        return cls.bus.available()

    def __init__(self, info: real.DeviceInfo):
        board = self.bus.board(info.getDeviceId())
        if board is None:
            raise RuntimeError(f"X_LINK_DEVICE_NOT_FOUND: no device {info.getDeviceId()}")
        if not board.plugged:
            board.counts["missing_opens"] += 1     # depthai searches ~10 s for it before giving up (R8)
        board.operate(opening=True)
        if info.name != board.path or time.monotonic() < board.rebooted_at + self.bus.reboot[board.info.protocol]:
            raise RuntimeError(f"X_LINK_DEVICE_NOT_FOUND: no device at {info.name}")
        if board.booted:
            raise RuntimeError("X_LINK_DEVICE_ALREADY_IN_USE: the device is booted by another host")
        board.booted, board.device = True, self
        board.counts["opens"] += 1
        board.sensor_controls, board.streaming = {}, {}
        board.ir = {"dot_projector": 0.0, "flood_light": 0.0}      # the emitters boot off (R14)
        self.board = board
        self.closed = False
        self.reconnecting = False
        self.max_reconnection_attempts = 1          # depthai's default (R3)
        self.rpc_client = True                      # dropped by a close, depthai's own included
        self.pipeline: Pipeline | None = None
        self.ran_pipeline = False
        self.booted = time.monotonic()              # the device's clock starts at its boot

    def _alive(self) -> None:
        if not self.rpc_client:
            raise AssertionError(
                "an RPC of a device depthai has closed: on a camera the process crashes, as closing drops the RPC "
                "client and the call dereferences it (src/device/DeviceBase.cpp, closeImpl: rpcClient = nullptr)")
        if self.closed:
            raise RuntimeError(LOST)

    def getConnectedCameraFeatures(self) -> list:
        self._alive()
        if self.board.faults.failing_setups > 0:
            self.board.faults.failing_setups -= 1
            raise RuntimeError("X_LINK_ERROR: reading the camera's features failed (injected)")
        return self.board.features()

    def getAvailableStereoPairs(self) -> list:
        try:
            self._alive()
        except RuntimeError:      # it reads the calibration, and answers no pairs on any failure
            return []             # (DeviceBase::getAvailableStereoPairs)
        return self.board.stereo_pairs()

    def readCalibration(self) -> real.CalibrationHandler:
        """The board's EEPROM: the simulator's calibration of the model, as depthai's own handler."""
        self._alive()
        return calibration(self.board.model)

    def getProductName(self) -> str:
        self._alive()             # read from the EEPROM, an RPC (DeviceBase::getProductName)
        return self.board.info.name

    def getPlatform(self) -> real.Platform:
        return real.Platform.__members__[self.board.platform]

    def getIrDrivers(self) -> list:
        self._alive()             # an RPC (DeviceBase::getIrDrivers)
        return [("LM3644", 2, 0x63)] if self.board.info.ir else []

    def setIrLaserDotProjectorIntensity(self, intensity: float, mask: int = -1) -> bool:
        return self._set_ir("dot_projector", intensity)

    def setIrFloodLightIntensity(self, intensity: float, mask: int = -1) -> bool:
        return self._set_ir("flood_light", intensity)

    def _set_ir(self, which: str, intensity: float) -> bool:
        self._alive()
        self.board.operate()
        if not self.board.info.ir:
            return False                    # depthai answers false on a device without IR drivers
        self.board.ir[which] = float(intensity)
        return True

    def getChipTemperature(self) -> real.ChipTemperature:
        self._alive()
        t = real.ChipTemperature()
        t.average, t.css, t.mss, t.upa, t.dss = 41.5, 42.1, 41.7, 41.0, 41.2
        t.average += 0.01 * (self.board.counts["pipelines"] + time.monotonic() % 10)
        return t

    def getCmxMemoryUsage(self) -> real.MemoryInfo:
        return self._memory(2_621_440, 780_000)

    def getDdrMemoryUsage(self) -> real.MemoryInfo:
        return self._memory(512 * 2**20, 176 * 2**20)

    def _memory(self, total: int, used: int) -> real.MemoryInfo:
        self._alive()
        m = real.MemoryInfo()
        m.total, m.used, m.remaining = total, used, total - used
        return m

    def getLeonCssCpuUsage(self) -> real.CpuUsage:
        return self._cpu(0.21)

    def getLeonMssCpuUsage(self) -> real.CpuUsage:
        return self._cpu(0.09)

    def _cpu(self, average: float) -> real.CpuUsage:
        self._alive()
        usage = real.CpuUsage()
        usage.average = average + 0.01 * (time.monotonic() % 3)
        return usage

    def getDeviceName(self) -> str:
        self._alive()             # read from the EEPROM, an RPC (DeviceBase::getDeviceName)
        return self.board.info.name

    def getDeviceId(self) -> str:
        return self.board.mxid

    def setMaxReconnectionAttempts(self, attempts: int, callback=None) -> None:
        self.max_reconnection_attempts = attempts

    def isClosed(self) -> bool:
        self.board.wait_for_close()                   # waits on the mutex a held-up close has (R8)
        return self.closed

    def close(self) -> None:
        self.board.wait_for_close()
        self._shut()
        self.rpc_client = False

    def _shut(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.pipeline is not None:
            self.pipeline.close_queues()
        if self.board.device is self:
            self.board.booted, self.board.device = False, None
            self.board.rebooted_at = time.monotonic()

    def link_lost(self) -> None:
        """The cable was pulled. With reconnection off the device closes and its queues with it, its close
        maybe held up by the crash-dump wait; with depthai's default it keeps trying, looking open while no
        frame comes (R3)."""
        if self.max_reconnection_attempts > 0:
            self.reconnecting = True
            return
        if self.board.faults.hold_close:
            self.board.faults.hold_close = False
            self.board._closing.clear()
        self._shut()
        # A running pipeline's host nodes fail on the lost link and stop it, which closes the device as close()
        # does (src/pipeline/ThreadedNode.cpp start, PipelineImpl::stop). With none, depthai's monitor closes
        # only the connection, and every RPC fails with LOST (src/device/DeviceBase.cpp monitorCallback).
        if self.pipeline is not None and self.pipeline.running:
            self.rpc_client = False

    def reconnected_by_itself(self) -> None:
        """depthai's own reconnect: the same pipeline runs again, on the controls the sensors boot with."""
        if self.reconnecting:
            self.reconnecting = False
            self.board.port -= 10             # it found the board where it was
            self.board.sensor_controls = {}
            with self.board.changed:
                self.board.changed.notify_all()


class Pipeline:
    def __init__(self, device: Device):
        device._alive()
        if device.ran_pipeline:
            raise RuntimeError("Pipeline is already running")        # R1 (src/device/DeviceBase.cpp startPipeline)
        self.device = device
        self.nodes: list = []
        self.queues: list = []
        self.running = False
        # depthai 3.12 adds an AutoCalibration node to a pipeline on a camera with a stereo pair unless told not
        # to (Pipeline::getAutoCalibrationMode() is ON_START by default): a recalibration at every start.
        self.auto_calibration = self.AutoCalibrationMode.ON_START

    AutoCalibrationMode = real.Pipeline.AutoCalibrationMode

    def setAutoCalibrationMode(self, mode) -> None:
        self.auto_calibration = mode

    def getAutoCalibrationMode(self):
        return self.auto_calibration

    def create(self, node_class):
        node = node_class(self)
        self.nodes.append(node)
        return node

    def start(self) -> None:
        device, board = self.device, self.device.board
        device._alive()
        if device.ran_pipeline:
            raise RuntimeError("Pipeline is already running")        # R1 (src/device/DeviceBase.cpp startPipeline)
        board.operate()
        refused = board.faults.refused_fps      # the device's own checks: the pipeline never runs
        if refused and any(getattr(node, "fps", None) == refused for node in self.nodes):
            device.ran_pipeline = True
            raise RuntimeError(f"Device {board.mxid} error: the pipeline needs more memory than the device has")
        device.ran_pipeline, device.pipeline, self.running = True, self, True
        board.counts["pipelines"] += 1
        if self.auto_calibration != self.AutoCalibrationMode.OFF and board.info.stereo_pairs:
            board.counts["recalibrations"] += 1
        now = time.monotonic()
        with board.changed:
            for node in self.nodes:
                node.start(now)
            board.changed.notify_all()
        encodes = [(n.mjpeg, *n.input_size(), n.fps) for n in self.nodes if isinstance(n, VideoEncoderNode)]
        h264 = [(w, h, fps) for mjpeg, w, h, fps in encodes if not mjpeg]
        load = sum(w * h * fps / (MJPEG_MAX_PIXEL_RATE if mjpeg else H264_MAX_PIXEL_RATE) for mjpeg, w, h, fps in encodes)
        rvc2 = board.platform == "RVC2"          # the encoder limits measured and documented are RVC2's
        if rvc2 and (len(h264) > H264_MAX_ENCODERS or any(w % 32 or w > 4096 for w, _, _ in h264) or load > 1):
            board.counts["encoder_crashes"] += 1
            device.link_lost()          # the firmware cannot run it: the device crashes (R13)

    def isRunning(self) -> bool:
        return self.running and not self.device.closed

    def stop(self) -> None:
        """Stops the pipeline and closes the device it was made with (R1)."""
        self.running = False
        self.close_queues()
        self.device.close()

    def close_queues(self) -> None:
        board = self.device.board
        with board.changed:
            for queue in self.queues:
                queue.closed = True
            board.changed.notify_all()
        for node in self.nodes:
            if isinstance(node, (ImageManipNode, VideoEncoderNode)):
                node.stop()


class Output:
    def __init__(self, node, size=None, kind=None, fps=None):
        self.node, self.size, self.kind, self.fps = node, size, kind, fps
        self.pipeline = node.pipeline

    def link(self, port: "Input") -> None:
        port.source = self

    def createOutputQueue(self, maxSize: int = 16, blocking: bool = False) -> "OutputQueue":
        """depthai's defaults (Node.Output.createOutputQueue in the 3.12 wheel): 16 messages, not blocking."""
        queue = OutputQueue(self, maxSize, blocking)
        self.pipeline.queues.append(queue)
        return queue

    def window(self) -> tuple[float, float]:
        """The frame numbers of this output that the gates upstream of it let through (all: -inf..inf)."""
        return self.node.window(self)

    def sequence_at(self, now: float) -> int:
        """The number of the latest frame this output has made by `now` (frames are numbered from its start)."""
        return int((now - self.node.started) * self.fps)

    def carries(self) -> str:
        """"raw" (ImgFrames), "h264" or "mjpeg" (EncodedFrames) or "nn" (a network's results)."""
        return self.node.carries(self)

    def origin(self) -> "Output":
        """The output that made the frames this one passes on (through gates and aligners)."""
        node = self.node
        return getattr(node, node.feed).source.origin() if isinstance(node, (GateNode, ImageAlignNode)) else self

    def working(self) -> bool:
        """Frames reach this output now: its source flows and every gate upstream lets the next one through."""
        if not self.flowing():
            return False
        lo, hi = self.window()
        return hi >= max(lo, self.sequence_at(time.monotonic()) + 1)

    def flowing(self) -> bool:
        return self.node.flowing(self)

    def stream_name(self) -> str:
        return self.node.stream_name(self)

    def config(self) -> dict:
        return self.node.output_config(self)


class PassOutput(Output):
    """A Gate's output: the messages of its input, of their size, type and rate."""

    def __init__(self, node):
        self.node, self.pipeline = node, node.pipeline

    size = property(lambda self: self.node.input.source.size)
    kind = property(lambda self: self.node.input.source.kind)
    fps = property(lambda self: self.node.input.source.fps, lambda self, value: None)


class Input:
    def __init__(self):
        self.source: Output | None = None
        self.blocking = True

    def setBlocking(self, blocking: bool) -> None:
        self.blocking = blocking


class ControlInput:
    def __init__(self, node):
        self.node = node

    def createInputQueue(self, maxSize: int = 16, blocking: bool = False) -> "InputQueue":
        return InputQueue(self.node)


class InputQueue:
    def __init__(self, node):
        self.node = node

    def send(self, message) -> None:
        pipeline = self.node.pipeline
        if pipeline.device.closed or pipeline.device.reconnecting and not pipeline.device.board.plugged:
            raise QueueException("InputQueue closed")              # R2
        pipeline.device.board.operate()
        if pipeline.device.closed:                  # closed while the call was held up
            raise QueueException("InputQueue closed")
        self.node.receive(message)


class OutputQueue:
    """A host queue of an output, whose messages are made when taken: at the output's rate, while it flows and
    its gates let them through. It holds `maxSize` messages: not blocking, the oldest go when it is full (the
    reader gets the newest maxSize); blocking, none is lost (src/pipeline/MessageQueue.cpp `send`). Each
    message crosses the board's link as it is taken, at the link's rate (Board.cross)."""

    def __init__(self, output: Output, max_size: int = 16, blocking: bool = False):
        self.output = output
        self.max_size, self.blocking = max(1, int(max_size)), bool(blocking)
        self.closed = False
        self.sequence = -1
        self.board = output.pipeline.device.board

    def getMaxSize(self) -> int:
        return self.max_size

    def isClosed(self) -> bool:
        return self.closed

    def getBlocking(self) -> bool:
        return self.blocking

    def _next(self, now: float) -> tuple[int | None, float]:
        """The number of the message it would give now (None if none has reached it), and when the next one
        may reach it (inf: not while nothing changes). Under board.changed."""
        output, wake = self.output, math.inf
        if output.flowing() and not output.pipeline.device.reconnecting:
            lo, hi = output.window()
            last = min(output.sequence_at(now), hi)          # the newest message that reached it
            nxt = max(self.sequence + 1, lo)
            if not self.blocking:
                nxt = max(nxt, last - self.max_size + 1)      # older ones were pushed out
            if nxt <= last:
                return int(nxt), now
            if nxt <= hi:
                wake = output.node.started + nxt / output.fps
        return None, wake

    def get(self, timeout=None):
        limit = timeout.total_seconds() if timeout is not None else HANG_LIMIT
        deadline = time.monotonic() + limit
        board = self.board
        with board.changed:
            while True:
                if self.closed:
                    raise QueueException("MessageQueue closed")      # R2
                now = time.monotonic()
                number, wake = self._next(now)
                if number is not None:
                    self.sequence = number
                    break
                if now >= deadline:
                    return None
                board.changed.wait(max(0.0, min(wake, deadline) - now))
        return self._take()

    def _take(self):
        """The message numbered `sequence`, made, and carried over the link (it arrives when the link has
        sent it)."""
        output, board = self.output, self.board
        message = output.node.render(output, self.sequence)
        arrival = board.cross(output.stream_name(), message)
        delay = arrival - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        return message

    @staticmethod
    def getAny(queues: dict, timeout=None) -> dict:
        """depthai's MessageQueue.getAny as the 3.12 wheel does it (tried on its host queues;
        src/pipeline/MessageQueue.cpp `waitAny`/`getAny`): waits until one of them has a message, then one
        message from each that has one; {} on timeout, or at once when one of them is closed and none has a
        message; QueueException when one is closed and another has a message (its `has()` throws)."""
        limit = timeout.total_seconds() if timeout is not None else HANG_LIMIT
        deadline = time.monotonic() + limit
        board = next(iter(queues.values())).board
        with board.changed:
            while True:
                now = time.monotonic()
                numbers = {key: q._next(now) for key, q in queues.items() if not q.closed}
                ready = {key: n for key, (n, _) in numbers.items() if n is not None}
                if len(numbers) < len(queues):
                    if ready:
                        raise QueueException("MessageQueue was closed")
                    return {}
                if ready:
                    break
                if now >= deadline:
                    return {}
                wake = min([deadline] + [w for _, w in numbers.values()])
                board.changed.wait(max(0.0, wake - now))
            for key, number in ready.items():
                queues[key].sequence = number
        return {key: queues[key]._take() for key in ready}

    def tryGet(self):
        from datetime import timedelta
        return self.get(timedelta(0))


class CameraNode:
    def __init__(self, pipeline: Pipeline):
        self.pipeline = pipeline
        self.socket: str | None = None
        self.inputControl = ControlInput(self)
        self.started = 0.0
        self._cache: dict = {}
        self.auto = scene.AutoAlgorithms()          # the sensor's auto exposure and white balance

    def build(self, boardSocket=None, sensorResolution=None, sensorFps=None):
        """As Camera::build reads (src/pipeline/node/Camera.cpp), R4."""
        if self.socket is not None:
            raise RuntimeError("Camera node is already built")
        features = next((f for f in self.pipeline.device.getConnectedCameraFeatures() if f.socket == boardSocket), None)
        if features is None:
            raise RuntimeError("Camera socket not found on the connected device")
        fps = -1.0 if sensorFps is None else float(sensorFps)
        size = sensorResolution
        if size is not None:
            if size[0] > features.width or size[1] > features.height:
                raise RuntimeError("Invalid sensor resolution specified, maximum supported resolution is "
                                   f"{features.width}x{features.height}")
            config = next((c for c in features.configs if (c.width, c.height) == tuple(size)), None)
            if config is None:
                raise RuntimeError("Invalid sensor resolution specified - check the supported resolutions for the "
                                   "connected device with device.getConnectedCameraFeatures()")
            if fps > config.maxFps or (fps < config.minFps and fps != -1.0):
                raise RuntimeError(f"Invalid sensor FPS specified, supported range is {config.minFps:f} - "
                                   f"{config.maxFps:f}")
        self.socket = boardSocket.name
        self.size = tuple(size) if size is not None else (features.width, features.height)
        self.fps = fps if fps != -1.0 else 30.0
        return self

    def requestOutput(self, size, type=None, resizeMode=None, fps=None, **_):
        if self.socket is None:
            raise RuntimeError("Camera node must be built before requesting outputs from it")
        output = Output(self, tuple(size), type or real.ImgFrame.Type.NV12, float(fps or self.fps))
        output.resize = resizeMode if resizeMode is not None else real.ImgResizeMode.CROP     # R15
        return output

    def start(self, now: float) -> None:
        board = self.pipeline.device.board
        self.started = now
        board.streaming[self.socket] = True
        table = COLOR_RESOLUTIONS if board.specs[self.socket].kind == COLOR else MONO_RESOLUTIONS
        name = next((n for n, s in table.items() if s == self.size), list(self.size))
        board.sensor_configs[self.socket] = {"resolution": name, "fps": self.fps}

    def receive(self, message) -> None:
        self.pipeline.device.board.receive_control(self.socket, message)

    def flowing(self, output=None) -> bool:
        return self.pipeline.isRunning() and self.pipeline.device.board.streaming.get(self.socket, False)

    def stream_name(self, output) -> str:
        return self.socket

    def window(self, output) -> tuple[float, float]:
        return -INF, INF

    def carries(self, output) -> str:
        return "raw"

    def output_config(self, output) -> dict:
        table = COLOR_RESOLUTIONS if output.kind == real.ImgFrame.Type.NV12 else MONO_RESOLUTIONS
        return {"resolution": next((n for n, s in table.items() if s == output.size), list(output.size)),
                "fps": output.fps}

    def render(self, output: Output, sequence: int) -> real.ImgFrame:
        board = self.pipeline.device.board
        control = board.control_of(self.socket)
        exposure, iso = self.auto.exposure(control)
        temperature = self.auto.temperature(control)
        width, height = output.size
        flood = board.lit("flood_light") if board.specs[self.socket].kind != COLOR else 0.0
        key = (output.size, output.resize, output.kind, repr(sorted(control.items())), exposure, iso, temperature, flood)
        if self._cache.get(output) is None or self._cache[output][0] != key:
            color = output.kind == real.ImgFrame.Type.NV12
            scaled, window = (scene.centre_crop(self.size, output.size) if output.resize == real.ImgResizeMode.CROP
                              else (output.size, (0, 0, *output.size)))        # STRETCH
            planes = scene.picture(control, exposure, iso, temperature, scaled, window, color=color, flood=flood)
            data, stride, plane = _nv12(*planes) if color else _gray(planes[0])
            self._cache[output] = (key, (data, stride, plane))
        data, stride, plane = self._cache[output][1]
        img = _frame(output.kind, width, height, stride, _with_marker(data, stride, width, height, sequence), sequence)
        _stamp(img, self, sequence, output.fps)
        img.fb.p1Offset, img.fb.p2Offset = 0, plane
        img.cam.exposureTimeUs, img.cam.sensitivityIso, img.cam.wbColorTemp = exposure, iso, temperature
        lens = self.auto.lens_position(control)
        img.cam.lensPositionRaw = -1.0 if lens is None else lens        # -1: no lens motor
        return img


class StereoNode:
    PresetMode = Preset

    def __init__(self, pipeline: Pipeline):
        self.pipeline = pipeline
        self.started = 0.0
        self.align = real.StereoDepthConfig().algorithmControl.depthAlign      # AUTO in 3.12
        self.inputAlignTo = Input()

    def setDepthAlign(self, align) -> None:
        if not isinstance(align, (real.StereoDepthConfig.AlgorithmControl.DepthAlign, real.CameraBoardSocket)):
            raise TypeError("setDepthAlign takes a DepthAlign or a CameraBoardSocket")
        self.align = align

    def build(self, left: Output, right: Output, presetMode=Preset.DEFAULT):
        for side in (left, right):
            if side.size[0] > RVC2_STEREO_MAX_WIDTH and self.pipeline.device.board.platform == "RVC2":      # R5
                raise RuntimeError(f"StereoDepth: input width {side.size[0]} exceeds the maximum of "
                                   f"{RVC2_STEREO_MAX_WIDTH} on RVC2")
        factor = 2 if presetMode in DECIMATING_PRESETS else 1          # R6
        self.left, self.right = left, right
        self.depth = Output(self, (left.size[0] // factor, left.size[1] // factor), real.ImgFrame.Type.RAW16,
                            left.fps)
        return self

    def start(self, now: float) -> None:
        self.started = now
        # AUTO leaves the depth's view to the firmware (R18); the scene is drawn in the rectified left view.
        if self.align != real.StereoDepthConfig.AlgorithmControl.DepthAlign.RECTIFIED_LEFT:
            self.pipeline.device.board.counts["depth_view_unknown"] += 1

    def flowing(self, output=None) -> bool:
        return self.left.flowing() and self.right.flowing()

    def stream_name(self, output) -> str:
        return depth_stream_name(self.left.origin().node.socket, self.right.origin().node.socket)

    def window(self, output) -> tuple[float, float]:
        return _intersect(self.left.window(), self.right.window())

    def carries(self, output) -> str:
        return "raw"

    def output_config(self, output) -> dict:
        return {"resolution": next((n for n, s in MONO_RESOLUTIONS.items() if s == self.left.size),
                                   list(self.left.size)), "fps": output.fps, "size": output.size}

    def render(self, output: Output, sequence: int) -> real.ImgFrame:
        width, height = output.size
        depth = scene.depth_scene(width, height, self.pipeline.device.board.lit("dot_projector") > 0)
        stride = width * 2 + 64                  # padded rows
        rows = np.zeros((height, stride // 2), np.uint16)
        rows[:, :width] = depth
        img = _frame(real.ImgFrame.Type.RAW16, width, height, stride, rows.view(np.uint8).ravel(), sequence)
        return _stamp(img, self, sequence, output.fps)


class Downstream:
    """A node fed by one input (`feed` names it): its output is its source's stream, with its source's config."""
    feed = "input"

    def stream_name(self, output) -> str:
        return getattr(self, self.feed).source.stream_name()

    def output_config(self, output) -> dict:
        return getattr(self, self.feed).source.config()

    def window(self, output) -> tuple[float, float]:
        return getattr(self, self.feed).source.window()

    def carries(self, output) -> str:
        return getattr(self, self.feed).source.carries()


class GateNode(Downstream):
    """A Gate (src/pipeline/node/Gate.cpp): while open it passes what reaches its input; `GateControl.openGate(n)`
    passes n messages and closes by itself. Its input holds one message, not blocking (include/depthai/pipeline/
    node/Gate.hpp: queue size 1), so the first message an opened gate passes is the latest frame that waited
    there, taken before the gate opened. What it passes is kept as a window of its source's frame numbers."""

    def __init__(self, pipeline: Pipeline):
        self.pipeline = pipeline
        self.initialConfig = real.GateControl()
        self.input = Input()
        self.output = PassOutput(self)
        self.inputControl = ControlInput(self)
        self.lo, self.hi = INF, -INF          # the frame numbers it lets through
        self.started = 0.0

    def start(self, now: float) -> None:
        self.started = self.input.source.node.started or now
        self._apply(self.initialConfig, now)

    def _apply(self, control, now: float) -> None:
        held = self.output.sequence_at(now)           # the frame waiting in its input, unless it passed already
        self.opened = control.open                    # told to open (if only for some messages), not to close
        if control.open:
            if self.continuous(now):
                if control.numMessages >= 0:
                    self.lo = held + 1
            else:
                self.lo = max(held, self.hi + 1)
            if control.numMessages >= 0:
                # Counted: the next messages that reach its input, which gates upstream may hold back for a
                # while (ones opened just before it let the frames after theirs through).
                upstream = self.input.source.window()[0]
                if self.lo < upstream < INF:
                    self.lo = upstream
            self.hi = self.lo + control.numMessages - 1 if control.numMessages >= 0 else INF
        else:
            self.hi = min(self.hi, held)

    def continuous(self, now: float) -> bool:
        """Open, and passing the frames to come."""
        return self.hi >= self.output.sequence_at(now) + 1 and self.hi == INF

    def receive(self, message) -> None:
        board = self.pipeline.device.board
        board.counts["gate"] += 1
        with board.changed:
            self._apply(message, time.monotonic())
            board.changed.notify_all()

    def window(self, output) -> tuple[float, float]:
        return _intersect((self.lo, self.hi), self.input.source.window())

    def flowing(self, output=None) -> bool:
        return self.input.source.flowing()

    def render(self, output: Output, sequence: int):
        return self.input.source.node.render(self.input.source, sequence)


class VideoEncoderNode(Downstream):
    """The camera's H.264 encoder, as libx264: each frame that reaches the host is encoded, in order, into an
    EncodedFrame (Annex B, SPS and PPS with every keyframe, as the camera's encoder sends them)."""

    def __init__(self, pipeline: Pipeline):
        self.pipeline = pipeline
        self.input = Input()
        self.out = Output(self)
        self.fps, self.profile, self.keyframes, self.quality = 30.0, None, 30, 80
        self.started = 0.0
        self._encoder, self._stopped = None, False
        self._lock = threading.Lock()

    def build(self, source: Output):
        source.link(self.input)
        return self

    def setDefaultProfilePreset(self, fps: float, profile) -> None:
        self.fps, self.profile = float(fps), profile

    def setKeyframeFrequency(self, frames: int) -> None:
        self.keyframes = frames

    def setQuality(self, quality: int) -> None:
        self.quality = quality

    @property
    def mjpeg(self) -> bool:
        return self.profile == real.VideoEncoderProperties.Profile.MJPEG

    def carries(self, output) -> str:
        return "mjpeg" if self.mjpeg else "h264"

    def input_size(self) -> tuple[int, int]:
        source = self.input.source
        while source.size is None:          # through the gate to the camera's output
            source = source.node.input.source
        return source.size

    def start(self, now: float) -> None:
        self.out.fps = self.input.source.fps
        self.started = self.input.source.node.started or now

    def flowing(self, output=None) -> bool:
        return self.input.source.flowing()

    def stop(self) -> None:
        """With the stand-in's pipeline: the encoder (libx264's threads and buffers) is released, as a closed
        device's is, not when the collector finds the pipeline."""
        with self._lock:
            self._encoder, self._stopped = None, True

    def render(self, output: Output, sequence: int) -> real.EncodedFrame:
        img = self.input.source.node.render(self.input.source, sequence)
        frame = frame_from_dai(img)
        encoded = real.EncodedFrame()
        if self.mjpeg:
            y, *uv = frame.planes
            data = simplejpeg.encode_jpeg_yuv_planes(y, *(uv or (None, None)), quality=self.quality)
            encoded.setData(np.frombuffer(data, np.uint8))
            encoded.setProfile(real.EncodedFrame.Profile.JPEG)
            encoded.setFrameType(real.EncodedFrame.FrameType.I)
            encoded.setSequenceNum(sequence)
            encoded.setTimestamp(img.getTimestamp())
            encoded.cam = img.cam              # the encoder keeps its frame's metadata (EncodedFrame.cam)
            return encoded
        with self._lock:
            if self._stopped:
                raise QueueException("MessageQueue closed")      # taken as its pipeline stopped (R2)
            if self._encoder is None:
                # Its keyframe interval is the encoder's setting: given as the rate, which sets libx264's GOP.
                # The camera's encoder costs the host nothing, so this one is made cheap: one thread (libx264's
                # own choice, three on two cores, spends a fifth more CPU a frame) and a constant quantiser (a
                # third less than its constant quality, which refines the still scene frame after frame).
                self._encoder = H264Encoder(frame.width, frame.height, self.keyframes, threads=1, qp=32)
            (data, keyframe), = self._encoder.encode(frame)
        encoded.setData(np.frombuffer(data, np.uint8))
        encoded.setFrameType(real.EncodedFrame.FrameType.I if keyframe else real.EncodedFrame.FrameType.P)
        encoded.setProfile(real.EncodedFrame.Profile.AVC)
        encoded.setWidth(frame.width)
        encoded.setHeight(frame.height)
        encoded.setSequenceNum(sequence)
        encoded.setTimestamp(img.getTimestamp())
        encoded.cam = img.cam
        return encoded


class ManipConfig:
    """The wheel's own ImageManipConfig of a node's host ImageManip (every call reaches it), with its crop kept:
    the stand-in needs the window's size before the first frame."""

    def __init__(self, config):
        self._config, self.crop = config, None

    def addCrop(self, x: int, y: int, w: int, h: int) -> "ManipConfig":
        self._config.addCrop(x, y, w, h)
        self.crop = (x, y, w, h)
        return self

    def __getattr__(self, name: str):
        return getattr(self._config, name)


def manip_nv12_bytes(width: int, height: int) -> int:
    """What ImageManip allocates for an NV12 frame of this size (src/pipeline/utilities/ImageManip/
    ImageManipImpl.cpp `getAlignedOutputFrameSize`: DEPTHAI_STRIDE_ALIGNMENT 128, DEPTHAI_HEIGHT_ALIGNMENT 32,
    halved for the UV plane, DEPTHAI_PLANE_ALIGNMENT 4096; the wheel's own host ImageManip is held to it in
    test_depthai_rules.py)."""
    stride = math.ceil(width / 128) * 128
    luma, chroma = stride * math.ceil(height / 32) * 32, stride * math.ceil(height // 2 / 16) * 16
    return math.ceil(luma / 4096) * 4096 + math.ceil(chroma / 4096) * 4096


class ImageManipNode(Downstream):
    """The wheel's own ImageManip, run on the host (`setRunOnHost`) in a pipeline of its own that starts and
    stops with the stand-in's: the backend's crop and pool size go to it, and each frame of the window is
    its output. Its output frames live in a pool of outputFrameSize bytes (1 MiB unless
    setMaxOutputFrameSize says more), each the aligned size of manip_nv12_bytes: a larger one is skipped, as
    depthai logs "skipping frame" (R17). Frames are made when taken (as every stand-in node makes them), so
    the stand-in knows ahead which fit, by that rule."""
    feed = "inputImage"

    def __init__(self, pipeline: Pipeline):
        self.pipeline = pipeline
        self._host = real.Pipeline(False)          # no device: host nodes only
        self._manip = self._host.create(real.node.ImageManip)
        self._manip.setRunOnHost(True)
        self.initialConfig = ManipConfig(self._manip.initialConfig)
        self.inputImage = Input()
        self.out = Output(self)
        self.max_frame = 1024 * 1024
        self.started = 0.0
        self._lock = threading.Lock()            # one frame through it at a time
        self._queues = None

    def setMaxOutputFrameSize(self, size: int) -> None:
        self._manip.setMaxOutputFrameSize(size)
        self.max_frame = size

    def start(self, now: float) -> None:
        source = self.inputImage.source
        x, y, w, h = self.initialConfig.crop
        self.out.size, self.out.kind, self.out.fps = (w, h), source.kind, source.fps
        self.started = source.node.started or now
        self.fits = manip_nv12_bytes(w, h) <= self.max_frame
        if not self.fits:
            self.pipeline.device.board.counts["manip_frame_too_large"] += 1
        self._queues = (self._manip.inputImage.createInputQueue(),
                        self._manip.out.createOutputQueue(maxSize=1, blocking=False))
        self._host.start()

    def stop(self) -> None:
        """With the stand-in's pipeline (its stop, or its device's close): the host pipeline's threads end."""
        with self._lock:
            if self._queues is not None:
                self._queues = None
                self._host.stop()
                self._host.wait()

    def flowing(self, output=None) -> bool:
        return self.fits and self.inputImage.source.flowing()

    def render(self, output: Output, sequence: int) -> real.ImgFrame:
        source = self.inputImage.source
        original = source.node.render(source, sequence)
        with self._lock:
            if self._queues is None:
                raise QueueException("the pipeline stopped")
            into, out = self._queues
            into.send(original)
            img = out.get(timedelta(seconds=10))
        if img is None:
            raise AssertionError(f"the wheel's ImageManip skipped a {output.size} frame the stand-in took to fit")
        return img


class ImageAlignNode(Downstream):
    """ImageAlign: its `input` (depth) remapped into the view of the frames on `inputAlignTo`. The stand-in's
    depth is already in the view its networks see (the scene is drawn so), so it passes the depth on."""

    def __init__(self, pipeline: Pipeline):
        self.pipeline = pipeline
        self.input, self.inputAlignTo = Input(), Input()
        self.outputAligned = PassOutput(self)
        self.started = 0.0

    def start(self, now: float) -> None:
        self.started = self.input.source.node.started or now

    def flowing(self, output=None) -> bool:
        return self.input.source.flowing()

    def render(self, output: Output, sequence: int):
        return self.input.source.node.render(self.input.source, sequence)


class ParserNode:
    """DetectionNetwork's detectionParser: what the backend sets on it."""

    def __init__(self):
        self.family, self.classes, self.num_classes, self.anchors, self.masks = None, [], None, None, None

    def setNNFamily(self, family) -> None:
        self.family = family

    def setClasses(self, classes) -> None:
        self.classes = list(classes)

    def setNumClasses(self, n: int) -> None:
        self.num_classes = n

    def setCoordinateSize(self, n: int) -> None:
        self.coordinates = n

    def setAnchors(self, anchors) -> None:
        self.anchors = list(anchors)

    def setAnchorMasks(self, masks) -> None:
        self.masks = dict(masks)

    def setIouThreshold(self, threshold: float) -> None:
        self.iou = threshold

    def setNNArchive(self, archive) -> None:
        """DetectionParser::setConfig (src/pipeline/node/DetectionParser.cpp): the archive must declare detection
        heads of one family, YOLO (or YOLOExtendedParser) or SSD (or MOBILENET); the family and the classes are
        the head's, and a head's n_classes must match its classes."""
        heads = archive.getConfig().model.heads or []
        yolo = [h for h in heads if h.parser in ("YOLO", "YOLOExtendedParser")]
        ssd = [h for h in heads if h.parser in ("SSD", "MOBILENET")]
        if not yolo and not ssd:
            raise RuntimeError("NNArchive should contain at least one detection head (YOLO or Mobilenet-SSD).")
        if yolo and ssd:
            raise RuntimeError("NNArchive should contain only one type of detection head (YOLO or Mobilenet-SSD).")
        head = (yolo or ssd)[-1]
        self.family = real.DetectionNetworkType.YOLO if yolo else real.DetectionNetworkType.MOBILENET
        classes, count = head.metadata.classes, head.metadata.nClasses
        if classes is not None:
            if count is not None and count != len(classes):
                raise RuntimeError("Number of classes does not match the size of class names array")
            self.classes, self.num_classes = list(classes), len(classes)
        elif count is not None:
            self.num_classes = count
        self.coordinates = 4


class NeuralNetworkNode(Downstream):
    """NeuralNetwork (Generic): runs the blob or the RVC4 archive it is given on the frames it is fed (R16, R23);
    it cannot execute the network, so each output layer the blob (or the archive's config) declares comes back
    as zeros of its shape in an NNData."""

    def __init__(self, pipeline: Pipeline):
        self.pipeline = pipeline
        self.input = Input()
        self.out = Output(self)
        self.passthrough = Output(self)     # the frames it ran on
        self.blob = None
        self.archive = None             # an NN archive whose model goes to the device as it is (RVC4's .dlc)
        self.started = 0.0
        self.confidence = 0.5
        self.threads = 0                # 0: depthai's choice

    def setNumInferenceThreads(self, threads: int) -> None:
        if not isinstance(threads, int) or threads < 0:
            raise TypeError("setNumInferenceThreads takes a count of threads")
        self.threads = threads

    def setBlob(self, blob) -> None:
        if not isinstance(blob, real.OpenVINO.Blob):
            raise TypeError("setBlob takes a dai.OpenVINO.Blob")
        # NeuralNetwork::setBlob on a pipeline with a device: a VPU blob is RVC2's, a VPUX one RVC3's
        # (src/pipeline/node/NeuralNetwork.cpp).
        platform = self.pipeline.device.board.platform
        for device, chip in (("VPU", "RVC2"), ("VPUX", "RVC3")):
            if blob.device.name == device and platform != chip:
                raise RuntimeError(f"Loaded model is for {chip}, but the device is {platform}")
        self.blob = blob

    def setNNArchive(self, archive) -> None:
        """NeuralNetwork::setNNArchive (src/pipeline/node/NeuralNetwork.cpp): a BLOB or SUPERBLOB archive sets
        its blob (8 shaves), through setBlob's platform check; a DLC (or OTHER) one goes to the device as its
        model (setOtherModelFormat), unchecked on the host: only the device can run it or not (`start`).
        DetectionNetwork::setNNArchive gives the archive to its parser first (DetectionNetwork.cpp)."""
        if not isinstance(archive, real.NNArchive):
            raise TypeError("setNNArchive takes a dai.NNArchive")
        if isinstance(self, DetectionNetworkNode):
            self.detectionParser.setNNArchive(archive)
        kind = archive.getModelType()
        if kind == real.ModelType.BLOB:
            self.setBlob(archive.getBlob())
        elif kind == real.ModelType.SUPERBLOB:
            self.setBlob(archive.getSuperBlob().getBlobWithNumShaves(8))
        else:
            self.blob, self.archive = None, archive

    def setConfidenceThreshold(self, threshold: float) -> None:
        self.confidence = threshold

    def carries(self, output) -> str:
        return "nn"

    def input_size(self) -> tuple[int, int]:
        if self.archive is not None:
            return tuple(self.archive.getInputSize())
        info = next(iter(self.blob.networkInputs.values()))
        return info.getWidth(), info.getHeight()

    def output_shapes(self) -> dict[str, list[int]]:
        if self.archive is not None:
            return {o.name: list(o.shape) for o in self.archive.getConfig().model.outputs}
        return {name: list(info.dims) for name, info in self.blob.networkOutputs.items()}

    def start(self, now: float) -> None:
        if self.blob is None and self.archive is None:
            raise RuntimeError("NeuralNetwork: no blob set")
        board = self.pipeline.device.board
        if self.archive is not None and board.platform not in \
                [p.name for p in self.archive.getSupportedPlatforms()]:
            # The host sends a DLC to any device unchecked; what another chip's firmware says of it is not
            # documented, so the stand-in refuses the pipeline at start, as the device's own checks do (R20).
            raise RuntimeError(f"Device {board.mxid} error: the network's {self.archive.getModelType().name} "
                               f"model does not run on {board.platform}")
        source = self.input.source
        self.out.fps = source.fps
        self.started = source.node.started or now
        # The network reads its input as BGR of its own size, planar on RVC2 and interleaved on RVC4 (the type
        # NeuralNetwork.build requests for an archive without a daiType: src/pipeline/node/NeuralNetwork.cpp);
        # anything else it misreads (R16).
        layout = real.ImgFrame.Type.BGR888p if self.pipeline.device.board.platform == "RVC2" \
            else real.ImgFrame.Type.BGR888i
        named = self.archive.getConfig().model.inputs[0].preprocessing.daiType if self.archive else None
        if named:           # an archive's input reads the frame type it names (R25)
            layout = real.ImgFrame.Type.__members__.get(named)     # a type depthai does not know: misread
        self.fed_right = source.size == self.input_size() and source.kind == layout
        if not self.fed_right:
            self.pipeline.device.board.counts["nn_misfed"] += 1

    def flowing(self, output=None) -> bool:
        return self.fed_right and self.input.source.flowing()

    def render(self, output: Output, sequence: int):
        message = real.NNData()
        for name, shape in self.output_shapes().items():
            message.addTensor(name, np.zeros(shape, np.float32))
        message.setSequenceNum(sequence)
        return _stamp(message, self, sequence, self.out.fps)      # its input frame's time (R16)


class DetectionNetworkNode(NeuralNetworkNode):
    """DetectionNetwork: the network and its parser on the camera; it reports the objects the scene shows
    (actors/simulated/detector.py) as real ImgDetections, once the parser knows the network's family (R16)."""
    spatial = False

    def __init__(self, pipeline: Pipeline):
        super().__init__(pipeline)
        self.detectionParser = ParserNode()
        self.inputDepth = Input()

    def start(self, now: float) -> None:
        super().start(now)
        if self.detectionParser.family is None:
            raise RuntimeError("DetectionParser: the NN family is not set")
        if self.spatial and self.inputDepth.source is None:
            raise RuntimeError("SpatialDetectionNetwork: inputDepth is not linked")
        # Depth aligned to the network's input: an ImageAlign (or, on RVC2, the StereoDepth itself) aligned to
        # the network's passthrough, as SpatialDetectionNetwork.build links it (src/pipeline/node/
        # SpatialDetectionNetwork.cpp alignDepthImpl); else the detections are remapped with a warning each
        # (src/pipeline/utilities/SpatialLocationCalculator/SpatialUtils.cpp).
        source = self.inputDepth.source if self.spatial else None
        self.aligned = source is not None and getattr(getattr(source.node, "inputAlignTo", None), "source", None) \
            is self.passthrough

    def render(self, output: Output, sequence: int):
        camera = self.input.source.origin().node
        depth = None
        if self.spatial:
            if not self.aligned:       # SpatialUtils.cpp warns for every message (R24)
                self.pipeline.device.board.counts["spatial_unaligned_warnings"] += 1
            depth_out = self.inputDepth.source.origin()
            depth = scene.depth_scene(*depth_out.size, self.pipeline.device.board.ir["dot_projector"] > 0)
        parser = self.detectionParser
        nn = {"config": {"labels": parser.classes, "confidence_threshold": self.confidence},
              "model": {"input": self.input_size()}}
        message = real.SpatialImgDetections() if self.spatial else real.ImgDetections()
        found = []
        for d in detector.detections(camera.size, nn, depth):
            item = real.SpatialImgDetection() if self.spatial else real.ImgDetection()
            item.label, item.confidence = d["class_id"], d["confidence"]
            item.xmin, item.ymin, item.xmax, item.ymax = d["coords"]
            if self.spatial:
                c = d["spatial_coords"]
                item.spatialCoordinates = real.Point3f(c["x"], c["y"], c["z"])
            found.append(item)
        message.detections = found
        message.setSequenceNum(sequence)
        return _stamp(message, self, sequence, self.out.fps)      # its input frame's time (R16)


class SpatialDetectionNetworkNode(DetectionNetworkNode):
    spatial = True


def _intersect(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    return max(a[0], b[0]), min(a[1], b[1])


def _padded(width: int) -> int:
    return (width + 127) // 128 * 128 + (64 if width % 128 == 0 else 0)       # always some row padding (R12)


def _nv12(y, u, v):
    height, width = y.shape
    stride, plane_rows = _padded(width), (height + 31) // 32 * 32 + 8          # a padded Y plane too
    data = np.full(stride * plane_rows + stride * (height // 2), 0x55, np.uint8)
    data[:stride * plane_rows].reshape(plane_rows, stride)[:height, :width] = y
    uv = data[stride * plane_rows:].reshape(height // 2, stride)
    uv[:, 0:width:2], uv[:, 1:width:2] = u[:height // 2, :width // 2], v[:height // 2, :width // 2]
    return data, stride, stride * plane_rows


def _with_marker(data, stride, width, height, sequence):
    """A copy of the frame with a small square that moves a step a frame, so that the picture is live."""
    data = data.copy()
    side = max(4, height // 20)
    x = (sequence * side // 2) % max(1, width - side)
    data[:stride * height].reshape(height, stride)[height - side - 2:height - 2, x:x + side] = 255
    return data


def _gray(y):
    height, width = y.shape
    stride = _padded(width)
    data = np.full(stride * height, 0x55, np.uint8)
    data.reshape(height, stride)[:, :width] = y
    return data, stride, stride * height


def _frame(kind, width, height, stride, data, sequence) -> real.ImgFrame:
    img = real.ImgFrame()
    img.setType(kind)
    img.setWidth(width)
    img.setHeight(height)
    img.setStride(stride)
    img.setData(data)
    img.setSequenceNum(sequence)
    return img


def _stamp(message, node, sequence: int, fps: float):
    """A message of frame `sequence` of a node's output carries that frame's time, whichever output it came
    from: on the host's monotonic clock (getTimestamp) and on the device's, which starts when it boots."""
    from datetime import timedelta
    taken = node.started + sequence / fps
    message.setTimestamp(timedelta(seconds=taken))
    message.setTimestampDevice(timedelta(seconds=taken - node.pipeline.device.booted))
    return message
