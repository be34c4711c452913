"""A simulated OAK device: the Device interface over synthetic frames, with faults that can be injected."""
from __future__ import annotations

import math
import os
import threading
import time

import numpy as np

from ..backend import Backend, Device, DeviceError, FaultInjection, FrameSource
from ..errors import ConfigRejected
from ..frames import DEPTH16, GRAY8, YUV420, Frame, FrameMeta, window_origin
from ..model import COLOR, DEPTH, MONO, StreamSpec, streams_of
from . import detector, scene
from .calibration import calibration
from .models import camera_info


class SimStream(FrameSource):
    """One running stream, and its video output. Frames are made only when a reader asks, at the times the
    stream's frame rate sets, so a stream nobody reads costs nothing."""

    def __init__(self, spec: StreamSpec, config: dict, control: dict, ir: dict, booted: float):
        self.spec, self.config, self.control, self.ir = spec, config, control, ir   # ir: the device's, shared
        self.nn: dict | None = None       # the network on the stream; it changes without a restart here
        self.started = time.monotonic()
        self.booted = booted              # when the device opened: its own clock starts there
        self._cache: dict[str, tuple] = {}        # output -> (key, planes after the control's lookup tables)
        self._stopped = threading.Event()
        self.auto = scene.AutoAlgorithms()
        self._meta: tuple[dict, FrameMeta] | None = None      # the control it was worked out for, and the meta

    def stop(self) -> None:
        self._stopped.set()

    @property
    def closed(self) -> bool:
        return self._stopped.is_set()

    def counts(self) -> tuple[int, int]:
        return self.sequence_at(time.monotonic()) + 1, 0          # the clock makes every frame; none is lost

    def _next_frame(self, sequence: int, timeout: float) -> bool:
        """Wait for the time of the first frame after number `sequence`; False on timeout or once stopped."""
        sequence = min(sequence, self.sequence_at(time.monotonic()))      # a number from before a restart
        wait = self.started + (sequence + 1) / self.config["fps"] - time.monotonic()
        return not (self._stopped.wait(min(max(wait, 0), timeout)) or wait > timeout)

    def wait_after(self, sequence: int, timeout: float) -> Frame | None:
        return self.frame("video") if self._next_frame(sequence, timeout) else None

    def detections_after(self, sequence: int, timeout: float) -> tuple[int, dict] | None:
        nn = self.nn
        if nn is None:
            self._stopped.wait(timeout)
            return None
        if not self._next_frame(sequence, timeout):
            return None
        number = self.sequence_at(time.monotonic())
        message = {"timestamp": round(self.time_of(number), 6), "sequence": number}     # its frame's time
        if nn["config"]["type"] == "Generic":
            message.update(detector.generic(nn))
        else:
            size = self.spec.size_of(self.config["resolution"])
            depth = scene.depth_scene(*size, self.ir.get("dot_projector", 0) > 0) if self.spec.kind == DEPTH else None
            message["detections"] = detector.detections(size, nn, depth)
        return number, message

    def preview(self, timeout: float) -> Frame | None:
        if "preview_size" not in self.config:
            return None
        now = time.monotonic()
        wait = self.started + (self.sequence_at(now) + 1) / self.config["fps"] - now    # the next frame's time
        if wait > timeout or self._stopped.wait(wait):
            return None
        return self.frame("preview")

    def meta(self) -> FrameMeta:
        """What the frames are taken with: worked out once a control (a new control is a new dict; the auto
        algorithms settle at once), however often it is asked for (GET control asks on every call)."""
        control, known = self.control, self._meta
        if known is None or known[0] is not control:
            exposure, iso = self.auto.exposure(control)
            known = self._meta = control, FrameMeta(exposure, iso, self.auto.temperature(control),
                                                    self.auto.lens_position(control))
        return known[1]

    def _geometry(self, output: str) -> tuple[tuple[int, int], tuple[int, int, int, int]]:
        """The size the scene is drawn at for an output, and the output's window x, y, w, h in it: colour
        sensors' still and video are windows at sensor_crop, the preview the centre of the frame scaled to
        preview_size (resize mode CROP)."""
        size = self.spec.size_of(self.config["resolution"])
        if output == "preview":
            return scene.centre_crop(size, tuple(self.config["preview_size"]))
        if self.spec.kind != COLOR:
            return size, (0, 0, *size)
        return size, (*window_origin(self.config, size), *self.config[f"{output}_size"])

    def _planes(self, meta: FrameMeta, output: str) -> tuple[np.ndarray, ...]:
        (width, height), (x, y, w, h) = self._geometry(output)
        key = (width, height, x, y, w, h, tuple(sorted((k, str(v)) for k, v in self.control.items())), meta,
               tuple(self.ir.values()))
        cached = self._cache.get(output)
        if cached is None or cached[0] != key:
            if self.spec.kind == DEPTH:
                planes = (scene.depth_scene(width, height, self.ir.get("dot_projector", 0) > 0),)
            else:
                planes = scene.picture(self.control, meta.exposure_time, meta.sensitivity_iso,
                                       meta.color_temperature, (width, height), (x, y, w, h),
                                       color=self.spec.kind == COLOR,
                                       flood=self.ir.get("flood_light", 0) if self.spec.kind == MONO else 0)
            for plane in planes:
                plane.flags.writeable = False      # shared by every frame until the control changes
            cached = self._cache[output] = (key, planes)
        return cached[1]

    def sequence_at(self, now: float) -> int:
        return int((now - self.started) * self.config["fps"])

    def time_of(self, sequence: int) -> float:
        """When frame `sequence` was taken (the host's monotonic clock): every output of it has this time."""
        return self.started + sequence / self.config["fps"]

    def frame(self, output: str = "still") -> Frame:
        """The frame of this instant. Stills share the cached planes (read-only, no copy); video frames carry
        a small square that moves one step a frame, so a viewer sees that the picture is live."""
        sequence = self.sequence_at(time.monotonic())
        meta = self.meta()
        planes = self._planes(meta, output)
        fmt = DEPTH16 if self.spec.kind == DEPTH else YUV420 if self.spec.kind == COLOR else GRAY8
        if output == "video" and fmt != DEPTH16:
            luma = planes[0].copy()
            h, w = luma.shape
            side = max(4, h // 20)
            x = (sequence * side // 2) % max(1, w - side)
            luma[h - side - 2:h - 2, x:x + side] = 255
            planes = (luma,) + planes[1:]
        taken = self.time_of(sequence)
        return Frame(fmt, planes, taken, sequence, meta if fmt != DEPTH16 else None, taken - self.booted)


class Faults:
    """What the simulator was asked to do wrong; guarded by the device's lock."""

    def __init__(self):
        self.failing_opens = 0
        self.latency = 0.0
        self.hang_next = False
        self.refused_fps = 0.0       # a frame rate the camera refuses to run a sensor at (0: none)

    def inject(self, *, failing_opens: int | None = None, latency: float | None = None,
               hang_next: bool | None = None, refused_fps: float | None = None) -> None:
        """Set the faults given; None leaves one as it is."""
        for name, value in (("failing_opens", failing_opens), ("latency", latency), ("hang_next", hang_next),
                            ("refused_fps", refused_fps)):
            if value is not None:
                setattr(self, name, value)


class SimDevice(Device):
    # A hung operation gives up after this long, so threads do not pile up; a test may make it outlast itself.
    HANG_LIMIT = float(os.environ.get("OAK_SIM_HANG_LIMIT", "60"))

    def __init__(self, model: str, index: int, seed: str = ""):
        self.model = model
        self.info = camera_info(model, index, seed)
        self.specs = streams_of(self.info)
        self.plugged = True
        self.is_open = False
        self.faults = Faults()
        self.running: dict[str, SimStream] = {}
        self.sensor_controls: dict[str, dict] = {}    # socket -> control last applied to that sensor
        self.sensor_configs: dict[str, dict] = {}     # socket -> config the sensor last started with
        self.ir: dict = {}                             # the IR intensities last set, on a model with IR
        self.opened_at = time.monotonic()
        self._lock = threading.Lock()
        self._unhang = threading.Event()
        self._generation = 0      # bumped by every open: an operation released from a hang after a reopen is stale

    # Fault injection -----------------------------------------------------------------------------
    def unplug(self) -> None:
        self.plugged = False
        for stream in self.running.values():     # its outputs stop, as a camera's queues do
            stream.stop()
        self.release()

    def replug(self) -> None:
        self.plugged = True
        self.release()

    def inject(self, **faults) -> None:
        with self._lock:
            self.faults.inject(**faults)

    def release(self) -> None:
        """Let a hung operation go on."""
        self._unhang.set()

    def _operate(self, opening: bool = False) -> None:
        generation = self._generation
        with self._lock:
            hang, latency = self.faults.hang_next, self.faults.latency
            self.faults.hang_next = False
            if hang:
                self._unhang.clear()
        if latency:
            time.sleep(latency)
        if hang:
            self._unhang.wait(self.HANG_LIMIT)
            if generation != self._generation:
                raise DeviceError("the device was reopened while this operation hung")
        if not self.plugged:
            self.is_open = False
            raise DeviceError("X_LINK_ERROR: device disconnected")
        if opening:
            with self._lock:
                if self.faults.failing_opens > 0:
                    self.faults.failing_opens -= 1
                    raise DeviceError("X_LINK_DEVICE_NOT_FOUND: failed to boot device (injected)")
        elif not self.is_open:
            raise DeviceError("device is not open")

    # Device interface ----------------------------------------------------------------------------
    def open(self) -> None:
        self._operate(opening=True)
        self._generation += 1
        self.is_open = True
        self.opened_at = time.monotonic()

    def close(self) -> None:
        self.is_open = False
        self._stop_all(self.running)

    def _stop_all(self, streams: dict[str, SimStream], keep: dict[str, SimStream] | None = None) -> None:
        for name, stream in streams.items():
            if keep is None or keep.get(name) is not stream:
                stream.stop()
        self.running = keep or {}

    def configure(self, desired) -> None:
        self._operate()
        refused = self.faults.refused_fps
        if refused and any(s.active and s.config["fps"] == refused for s in desired.values()):
            raise ConfigRejected(f"the camera refused to start the configuration: a sensor at {refused:g} fps "
                                 "(injected)")
        running = {}
        for name, (config, control) in ((n, (dict(s.config), dict(s.control))) for n, s in desired.items() if s.active):
            old = self.running.get(name)
            if old is not None and old.config == config:
                old.control = control
                running[name] = old
            else:
                running[name] = SimStream(self.specs[name], config, control, self.ir, self.opened_at)
            running[name].nn = desired[name].nn
            for socket in self.specs[name].sockets:
                self.sensor_configs[socket] = config
            self._apply_to_sensors(name, control)
        self._stop_all(self.running, keep=running)

    def set_control(self, stream: str, control: dict) -> None:
        self._operate()
        self._stream(stream).control = control
        self._apply_to_sensors(stream, control)

    def capture(self, stream: str) -> Frame:
        """The first frame taken after the request, as a camera's (it waits for the next frame time)."""
        self._operate()
        running = self._stream(stream)
        now = time.monotonic()
        time.sleep(running.started + (running.sequence_at(now) + 1) / running.config["fps"] - now)
        return running.frame()

    def healthy(self) -> bool:
        return self.plugged

    def set_ir(self, ir) -> None:
        self._operate()
        self.ir.update(ir)

    def stats(self) -> dict:
        """Plausible figures that move: the chip warms with the streams it runs and drifts with time. Injected
        latency and hangs are kept for the operations clients ask for (stats are also read in the background)."""
        if not self.plugged or not self.is_open:
            raise DeviceError("X_LINK_ERROR: device disconnected" if not self.plugged else "device is not open")
        load, t = len(self.running), time.monotonic() - self.opened_at
        average = 38.0 + 3.5 * load + 0.8 * math.sin(t / 7)
        blocks = {name: round(average + offset, 2) for name, offset in
                  (("css", 0.6), ("mss", 0.2), ("upa", -0.4), ("dss", -0.3))}
        cmx_used, ddr_used = 420_000 + 180_000 * load, 96 * 2**20 + 40 * 2**20 * load + int(t * 1000) % 4096
        return {"chip_temperature": {"average": round(average, 2), **blocks},
                "cmx_memory_usage": {"total": 2_621_440, "used": cmx_used, "remaining": 2_621_440 - cmx_used},
                "ddr_memory_usage": {"total": 512 * 2**20, "used": ddr_used, "remaining": 512 * 2**20 - ddr_used},
                "leon_cpu_usage": {"css": round(0.12 + 0.06 * load + 0.02 * math.sin(t), 3),
                                   "mss": round(0.05 + 0.03 * load + 0.01 * math.cos(t), 3)}}

    def calibration(self):
        """The calibration the scenes are drawn with (as stats, not subject to injected latency or hangs)."""
        if not self.plugged or not self.is_open:
            raise DeviceError("X_LINK_ERROR: device disconnected" if not self.plugged else "device is not open")
        return calibration(self.model)

    def output(self, stream: str) -> SimStream | None:
        return self.running.get(stream)

    def _stream(self, name: str) -> SimStream:
        running = self.running.get(name)
        if running is None:
            raise DeviceError(f"{name} is not running on the device")
        return running

    def _apply_to_sensors(self, stream: str, control: dict) -> None:
        for socket in self.specs[stream].sockets:
            self.sensor_controls[socket] = control


class SimBackend(Backend, FaultInjection):
    def __init__(self, models: list[str], seed: str = ""):
        counts: dict[str, int] = {}
        self.devices: list[SimDevice] = []
        for model in models:
            self.devices.append(SimDevice(model, counts.get(model, 0), seed))
            counts[model] = counts.get(model, 0) + 1

    def discover(self) -> list[Device]:
        return [d for d in self.devices if d.plugged]

    def device(self, mxid: str) -> SimDevice | None:
        return next((d for d in self.devices if d.info.mxid == mxid), None)
