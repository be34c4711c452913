"""What a camera is: sensors, streams and the desired state the API manages.

Plain data only; no I/O. Both backends describe their cameras with these types and the actor keeps its
desired state in them.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Mapping

from schemas.facts import COLOR, COLOR_RESOLUTIONS, DEPTH, MONO, MONO_RESOLUTIONS, OTHER  # noqa: F401 (re-exported)

# On RVC2, StereoDepth takes inputs at most this wide (docs/depthai-rules.md R5): depth streams run at sizes up
# to this width, scaled on the camera from a sensor mode of the same shape. RVC4 (OAK4) has no such limit.
STEREO_MAX_WIDTH = 1280
RVC2, RVC4 = "RVC2", "RVC4"


@dataclass(frozen=True)
class Mode:
    """One way a sensor can run: a size and the frame rates it runs at that size (depthai's
    CameraSensorConfig; the first config of a size is the one Camera.build checks, R4)."""
    width: int
    height: int
    max_fps: float
    min_fps: float = 1.0

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)


@dataclass(frozen=True)
class SensorSpec:
    socket: str                      # CAM_A .. CAM_H
    name: str                        # IMX378, OV9282, ...
    kind: str                        # COLOR, MONO or OTHER
    autofocus: bool
    modes: tuple[Mode, ...]          # sizes the sensor can run at, largest first


@dataclass(frozen=True)
class CameraInfo:
    mxid: str
    name: str                        # product name, e.g. OAK-D
    protocol: str                    # usb or poe
    sensors: tuple[SensorSpec, ...]
    stereo_pairs: tuple[tuple[str, str], ...]   # (left socket, right socket)
    ir: bool = False                 # an IR dot projector and flood light (OAK-D-Pro and its variants)
    platform: str = RVC2             # the camera's chip: RVC2 (OAK) or RVC4 (OAK4)

    def sensor(self, socket: str) -> SensorSpec:
        return next(s for s in self.sensors if s.socket == socket)


def depth_stream_name(left: str, right: str) -> str:
    return f"DEPTH_{left[-1]}_{right[-1]}"


@dataclass(frozen=True)
class StreamSpec:
    """A stream a camera really has, and what its config may hold."""
    name: str
    kind: str                        # COLOR, MONO, OTHER or DEPTH
    sensors: tuple[SensorSpec, ...]  # one, or the (left, right) pair of a depth stream
    stereo_max_width: float = STEREO_MAX_WIDTH     # the widest depth its camera's StereoDepth takes (RVC2's)

    @property
    def sockets(self) -> frozenset[str]:
        return frozenset(s.socket for s in self.sensors)

    @property
    def autofocus(self) -> bool:
        return all(s.autofocus for s in self.sensors)

    @property
    def config_kind(self) -> str:
        """Which config shape the stream uses: depth streams are configured like mono sensors."""
        return MONO if self.kind == DEPTH else self.kind

    def resolutions(self) -> dict:
        """The resolutions this stream can use, keyed as its config names them, each with the sensor mode it
        runs the sensor(s) at (whose fps range applies).

        Colour and mono streams key by enum name; OTHER sensors by (w, h). A depth stream can use the mono
        sizes up to stereo_max_width that both of its sensors give, as a mode of that size or scaled down
        from a larger mode of the same shape.
        """
        table = {COLOR: COLOR_RESOLUTIONS, MONO: MONO_RESOLUTIONS}.get(self.config_kind)
        found: dict = {}
        for sensor in self.sensors:
            modes = {m.size: m for m in sensor.modes}
            if table is None:
                options = modes
            elif self.kind == DEPTH:
                options = {name: mode for name, size in table.items()
                           if size[0] <= self.stereo_max_width and (mode := stereo_source(sensor, size)) is not None}
            else:
                options = {name: modes[size] for name, size in table.items() if size in modes}
            found = options if not found else {k: _narrower(v, options[k]) for k, v in found.items() if k in options}
        return found

    def mode_of(self, resolution) -> Mode:
        """The sensor mode a resolution of this stream runs the sensor(s) at."""
        return self.resolutions()[tuple(resolution) if self.config_kind == OTHER else resolution]

    def size_of(self, resolution) -> tuple[int, int]:
        if self.config_kind == OTHER:
            return tuple(resolution)
        return (COLOR_RESOLUTIONS if self.config_kind == COLOR else MONO_RESOLUTIONS)[resolution]


def stereo_source(sensor: SensorSpec, size: tuple[int, int]) -> Mode | None:
    """The smallest mode of `sensor` with the shape of `size` and at least as large, or None."""
    fits = [m for m in sensor.modes if m.width >= size[0] and m.height >= size[1]
            and m.width * size[1] == m.height * size[0]]
    return min(fits, key=lambda m: m.width, default=None)


def _narrower(a: Mode, b: Mode) -> Mode:
    """The fps range both sensors of a pair can run (their modes are the same size on every OAK)."""
    return replace(a, min_fps=max(a.min_fps, b.min_fps), max_fps=min(a.max_fps, b.max_fps))


def streams_of(info: CameraInfo) -> dict[str, StreamSpec]:
    """Every stream a camera has: one per sensor, one per stereo pair."""
    streams = {s.socket: StreamSpec(s.socket, s.kind, (s,)) for s in info.sensors}
    widest = STEREO_MAX_WIDTH if info.platform == RVC2 else float("inf")       # R5: RVC2's limit
    for left, right in info.stereo_pairs:
        name = depth_stream_name(left, right)
        streams[name] = StreamSpec(name, DEPTH, (info.sensor(left), info.sensor(right)), widest)
    return streams


def default_config(stream: StreamSpec) -> dict:
    """The config a stream starts with: its sensor's default-ish mode at 30 fps, full-frame sizes."""
    options = stream.resolutions()
    preferred = ("THE_1080_P", "THE_720_P", "THE_800_P", "THE_1200_P", "THE_400_P")
    resolution = next((r for r in preferred if r in options), next(iter(options)))
    fps = min(30.0, options[resolution].max_fps)
    if stream.config_kind == MONO:
        return {"resolution": resolution, "fps": fps}
    size = list(stream.size_of(resolution))
    config = {"resolution": list(resolution) if stream.config_kind == OTHER else resolution,
              "still_size": size, "preview_size": [300, 300], "video_size": list(size), "fps": fps}
    if stream.config_kind == COLOR:
        config["sensor_crop"] = [0.0, 0.0]
    return config


def default_control(stream: StreamSpec) -> dict:
    focus = ({"auto_focus_mode": "CONTINUOUS_VIDEO", "auto_focus_trigger": False, "lens_position": 0.0}
             if stream.autofocus else None)
    return {
        "exposure_time": 10000, "sensitivity_iso": 400, "auto_exposure_enable": True,
        "auto_exposure_compensation": 0, "auto_exposure_limit": 33000, "auto_exposure_lock": False,
        "contrast": 0, "brightness": 0, "saturation": 0, "chroma_denoise": 0, "luma_denoise": 0,
        "auto_whitebalance_lock": False, "auto_whitebalance_mode": "AUTO", "manual_whitebalance": 5500,
        "focus": focus,
    }


@dataclass(frozen=True)
class StreamState:
    active: bool
    config: Mapping
    control: Mapping
    nn: Mapping | None = None        # the neural network on it: config, model (schemas/nn.py) and its file's path


@dataclass(frozen=True)
class CameraState:
    """The desired state of one camera: replaced, never mutated, so readers can hold a snapshot."""
    revision: int
    streams: Mapping[str, StreamState] = field(default_factory=dict)
    shut_down: bool = False                   # closed on request, and kept closed until booted
    ir: Mapping | None = None                 # dot_projector and flood_light (0..1), on a camera that has IR

    def with_camera(self, **changes) -> "CameraState":
        """The state with these camera-wide changes; this very state when they change nothing."""
        if all(getattr(self, k) == v for k, v in changes.items()):
            return self
        return replace(self, revision=self.revision + 1, **changes)

    def with_stream(self, name: str, **changes) -> "CameraState":
        """The state with these changes to one stream; this very state when they change nothing."""
        if all(getattr(self.streams[name], k) == v for k, v in changes.items()):
            return self
        streams = dict(self.streams)
        streams[name] = replace(streams[name], **changes)
        return replace(self, revision=self.revision + 1, streams=MappingProxyType(streams))

    def active_streams(self) -> dict[str, StreamState]:
        return {n: s for n, s in self.streams.items() if s.active}


INITIAL_STREAMS = ("sensors", "none")


IR_OFF = MappingProxyType({"dot_projector": 0.0, "flood_light": 0.0})


def initial_state(streams: Mapping[str, StreamSpec], initial_streams: str = "none", ir: bool = False) -> CameraState:
    """The state of a camera with nothing saved: defaults, and with "sensors" its sensor streams (CAM_*) active,
    as the original API started every camera; its IR off, if it has IR."""
    return CameraState(0, MappingProxyType({
        name: StreamState(initial_streams == "sensors" and spec.kind != DEPTH, default_config(spec),
                          default_control(spec)) for name, spec in streams.items()
    }), ir=IR_OFF if ir else None)
