"""Durable desired state: one JSON file per camera, replaced atomically (temporary file, fsync, rename).

A crash at any instant leaves the old file or the new one, never a torn one. A file that cannot be read, or
that has an unknown version, is set aside under a new name with a log line, and the camera starts from its
defaults. Values that no longer fit the camera (a sensor changed) fall back to the defaults per stream.
"""
from __future__ import annotations

import json
import logging
import os
import time
import uuid
from pathlib import Path
from types import MappingProxyType
from typing import Protocol

from .capabilities import CapabilityError, merge_config, merge_control
from .durable import make_directory, write_durably
from .model import CameraState, StreamSpec, StreamState, initial_state
from .nn import ModelFiles

log = logging.getLogger(__name__)

VERSION = 1
GATEWAY_ID = "gateway-id"          # the file that names this gateway, made once


class StateReader(Protocol):
    """Checks a saved file's parts as the requests that made them were checked (schemas.state); ValueError
    says what does not fit."""

    def document(self, raw: dict) -> dict: ...

    def stream(self, entry: dict, config_kind: str) -> dict: ...     # active, config, control, nn

    def network(self, saved: dict) -> dict: ...


class StateStore:
    def __init__(self, directory: Path, reader: StateReader):
        self.reader = reader
        self.directory = Path(directory)
        self.models = ModelFiles(self.directory / "models")               # the streams' networks, by hash

    def open(self) -> None:
        """Blocking, at start: the folder and its models' folder, made if missing; models no state refers to
        removed."""
        make_directory(self.directory)
        self.models.open()
        self._prune_models()

    def _prune_models(self) -> None:
        """Blocking, at start (before any upload): remove model files no saved state refers to any more (a
        network that was replaced or removed)."""
        used = set()
        for state in self.directory.glob("*.json"):
            try:
                streams = json.loads(state.read_bytes()).get("streams", {})
                used |= {s["nn"]["model"]["sha256"] for s in streams.values() if isinstance(s, dict) and s.get("nn")}
            except (ValueError, AttributeError, KeyError, TypeError, OSError, RecursionError):
                return                  # a file it cannot read may refer to any of them: keep them all
        for model in self.models.directory.iterdir():
            if model.is_file() and not model.name.startswith(".") and model.name not in used:
                log.info("model %s is used by no stream any more; removed", model.name[:12])
                model.unlink(missing_ok=True)

    def path(self, mxid: str) -> Path:
        return self.directory / f"{mxid}.json"

    @staticmethod
    def serialize(mxid: str, state: CameraState) -> bytes:
        """Not blocking: the file's content (made on the event loop, so the writing thread holds no GIL)."""
        return json.dumps({"version": VERSION, "mxid": mxid, "revision": state.revision,
                           "shut_down": state.shut_down, "ir": dict(state.ir) if state.ir is not None else None,
                           "streams": {name: {"active": s.active, "config": dict(s.config),
                                              "control": dict(s.control),
                                              "nn": {"config": s.nn["config"], "model": s.nn["model"]} if s.nn else None}
                                       for name, s in state.streams.items()}}).encode()

    def write(self, mxid: str, content: bytes) -> None:
        """Blocking: replace the camera's file so that it survives a crash or power loss once this returns."""
        write_durably(self.path(mxid), content)

    def gateway_id(self) -> str:
        """Blocking: this gateway's id, made the first time and kept here, so that it stays across restarts.
        A file that holds no id (hand-edited, torn by a disk error) is replaced by a new one."""
        target = self.directory / GATEWAY_ID
        try:
            saved = target.read_text().strip()
            if len(saved) == 32 and all(c in "0123456789abcdef" for c in saved):
                return saved
            log.error("%s holds no gateway id; making a new one", target)
        except FileNotFoundError:
            pass
        made = uuid.uuid4().hex
        write_durably(target, made.encode() + b"\n")
        log.info("this gateway's id is %s (kept in %s)", made, target)
        return made

    def load(self, mxid: str, specs: dict[str, StreamSpec], initial_streams: str = "none",
             ir: bool = False) -> CameraState:
        """Blocking: the saved state of a camera, or its defaults (`initial_streams` says which are active;
        `ir`, whether it has IR illumination)."""
        state = initial_state(specs, initial_streams, ir)
        target = self.path(mxid)
        try:
            document = json.loads(target.read_bytes())
            if not isinstance(document, dict) or document.get("version") != VERSION:
                raise ValueError(f"unknown version {document.get('version') if isinstance(document, dict) else '?'}")
            document = self.reader.document(document)
            saved, revision = document["streams"], document["revision"]
        except FileNotFoundError:
            return state
        except (ValueError, RecursionError, OSError) as exc:    # whatever the file holds
            aside = target.with_name(f"{target.name}.unreadable-{int(time.time())}")
            os.replace(target, aside)
            log.error("camera %s: state file %s is unusable (%s); set aside as %s, starting from defaults",
                      mxid, target, exc, aside.name)
            return state
        streams = dict(state.streams)
        for name, entry in saved.items():
            spec = specs.get(name)
            if spec is None:
                log.warning("camera %s: saved stream %s no longer exists; ignored", mxid, name)
                continue
            default = streams[name]
            try:
                entry = self.reader.stream(entry, spec.config_kind)
                streams[name] = StreamState(entry["active"], merge_config(spec, dict(default.config), entry["config"]),
                                            merge_control(spec, dict(default.control), entry["control"]),
                                            self._network(mxid, name, entry.get("nn")))
            except (ValueError, CapabilityError, KeyError, TypeError) as exc:
                log.warning("camera %s: saved %s does not fit the camera (%s); using defaults", mxid, name, exc)
        active = [n for n, s in streams.items() if s.active]
        for i, name in enumerate(active):        # a hand-edited file could break exclusivity: the last one wins
            if any(specs[name].sockets & specs[other].sockets for other in active[i + 1:]):
                streams[name] = StreamState(False, streams[name].config, streams[name].control, streams[name].nn)
        saved_ir = document.get("ir")
        return CameraState(revision, MappingProxyType(streams), shut_down=document["shut_down"],
                           ir=MappingProxyType({**state.ir, **saved_ir}) if state.ir is not None and saved_ir else state.ir)

    def _network(self, mxid: str, stream: str, saved) -> MappingProxyType | None:
        """A saved network whose model file is still here, or None (with a log line saying why)."""
        if not saved:
            return None
        try:
            nn = self.reader.network(saved)
        except ValueError as exc:
            log.warning("camera %s: the saved network of %s is unusable (%s); dropped", mxid, stream, exc)
            return None
        path = self.models.path(nn["model"]["sha256"])
        if not path.is_file():
            log.warning("camera %s: the model file of %s's network (%s) is gone; dropped", mxid, stream, path.name)
            return None
        return MappingProxyType({**nn, "path": str(path)})
