"""Messages a handler posts to a camera's actor. Writes change the desired state as pure functions of it."""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

from .capabilities import merge_config, merge_control
from .errors import RevisionMismatch
from .model import CameraState, StreamSpec


@dataclass
class Write:
    """A change of the desired state. `expected`: the revisions it may apply to (a request's If-Match), checked
    by the actor as it applies the write, after every write before it: None applies to any."""
    expected: frozenset[int] | None = field(default=None, kw_only=True)

    def check_revision(self, mxid: str, state: CameraState) -> None:
        if self.expected is not None and state.revision not in self.expected:
            named = " or ".join(map(str, sorted(self.expected))) or "one the If-Match header names"
            raise RevisionMismatch(f"camera {mxid} is at revision {state.revision}, not {named}; read it again",
                                   state.revision)


@dataclass
class Activate(Write):
    stream: str

    def apply(self, state: CameraState, specs: dict[str, StreamSpec]) -> CameraState:
        # Activation wins: every active stream that shares a sensor with this one stops.
        sockets = specs[self.stream].sockets
        for name, stream in state.streams.items():
            if stream.active and name != self.stream and specs[name].sockets & sockets:
                state = state.with_stream(name, active=False)
        return state.with_stream(self.stream, active=True)


@dataclass
class Deactivate(Write):
    stream: str

    def apply(self, state: CameraState, specs: dict[str, StreamSpec]) -> CameraState:
        return state.with_stream(self.stream, active=False)


@dataclass
class UpdateConfig(Write):
    stream: str
    changes: dict

    def apply(self, state: CameraState, specs: dict[str, StreamSpec]) -> CameraState:
        config = merge_config(specs[self.stream], dict(state.streams[self.stream].config), self.changes)
        return state.with_stream(self.stream, config=config)


@dataclass
class UpdateControl(Write):
    stream: str
    changes: dict

    def apply(self, state: CameraState, specs: dict[str, StreamSpec]) -> CameraState:
        control = merge_control(specs[self.stream], dict(state.streams[self.stream].control), self.changes)
        return state.with_stream(self.stream, control=control)


@dataclass
class UpdateIR(Write):
    changes: dict

    def apply(self, state: CameraState, specs: dict[str, StreamSpec]) -> CameraState:
        return state.with_camera(ir=MappingProxyType({**state.ir, **self.changes}))


@dataclass
class DeployNN(Write):
    """Run a neural network on a stream (replacing the one it had): {config, model, path}."""
    stream: str
    nn: dict

    def apply(self, state: CameraState, specs: dict[str, StreamSpec]) -> CameraState:
        return state.with_stream(self.stream, nn=MappingProxyType(self.nn))


@dataclass
class RemoveNN(Write):
    stream: str

    def apply(self, state: CameraState, specs: dict[str, StreamSpec]) -> CameraState:
        return state.with_stream(self.stream, nn=None)


@dataclass
class ShutDown(Write):
    """Close the device and keep it closed, across restarts, until a Boot."""


@dataclass
class Boot(Write):
    """Open a camera that was shut down, with its state."""


@dataclass
class ReadStats:
    """The device's temperatures, memory and CPU use, and what the service counted of its streams."""


@dataclass
class ReadCalibration:
    """The device's calibration, described for the camera's streams at their configured sizes."""


@dataclass
class Capture:
    """A still of an active stream, taken after the messages before it were applied, as an image file and the
    frame it was made from.

    The frame is taken within the device deadline, then encoded on the still encoders (not device time); the
    event loop and the other cameras go on meanwhile.
    """
    stream: str
    format: str = "jpeg"
    depth_mm: bool = False
    preview: bool = False        # the preview output's frame (at preview_size) instead of the still


# Writes that can be applied to the device together in one batch (activations each get a batch of their own,
# since they can fail on their own, for example when a stream produces no frame).
BATCHABLE = (UpdateConfig, UpdateControl)
