"""Neural network models: whether an uploaded file is one an OAK can run, read with depthai as the camera's
pipeline reads it, and the model files kept on disk by their SHA-256."""
from __future__ import annotations

import hashlib
import math
import os
import shutil
import tempfile
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from .durable import replace_durably
from .frames import centre_crop

MAX_MODEL_BYTES = 64 * 1024 * 1024      # RVC2 blobs are a few MB; its NN memory holds far less than this


# A results message carries at most this many output values in all (at most ~2 MiB of JSON): layers past it
# are sent as their shape alone, since more is too much JSON at frame rate.
MAX_RESULT_VALUES = 65536
MAX_RESULT_BYTES = 2 << 20      # what a results message can reach: every value a float of 25 characters, at most
MAX_OUTPUTS = 64                 # output layers of a network (more is refused at deployment)


def generic_message(shapes: Mapping[str, list], values_of: Callable[[str], np.ndarray]) -> dict:
    """A Generic network's result as the …/nn WebSocket sends it: `detections`, the values of its first output
    layer by name (the original API's message: depthai lists a blob's outputs in no order of its own), and
    `outputs`, every layer as {name: {shape, data}}, each layer's values flat while the message's budget of
    MAX_RESULT_VALUES lasts (`detections` first, then the layers by name), else data null (`values_of` is not
    asked for those)."""
    budget = MAX_RESULT_VALUES
    first = min(shapes, default=None)
    detections = []
    if first is not None and math.prod(shapes[first]) <= budget:
        detections = [float(v) for v in np.asarray(values_of(first)).ravel()[:math.prod(shapes[first])]]
        budget -= len(detections)
    out = {}
    for name, shape in sorted(shapes.items()):           # by name: the same layers get data every time
        count = math.prod(shape)
        if count <= budget:
            budget -= count
            out[name] = {"shape": list(shape), "data": np.asarray(values_of(name)).ravel()[:count].tolist()}
        else:
            out[name] = {"shape": list(shape), "data": None}
    return {"detections": detections, "outputs": out}


def detection(label: int, name: str, confidence: float, coords, frame: tuple[int, int],
              view: tuple[int, int]) -> dict:
    """One detection as the …/nn WebSocket sends it: `label` the class index (the original API's field),
    `label_name` its name, `class_id` the index again (this service's first name for it)."""
    return {"label": label, "label_name": name, "class_id": label, "confidence": confidence,
            "coords": [round(v, 4) for v in coords], "frame_coords": frame_coords(coords, frame, view)}


def frame_coords(coords, frame: tuple[int, int], view: tuple[int, int]) -> list[float]:
    """A box as fractions of a network's view (the centre of the frame at the input's shape) as fractions of
    the whole frame, where an overlay on the video draws it."""
    (sw, sh), (x0, y0, w, h) = centre_crop(frame, view)
    xmin, ymin, xmax, ymax = coords
    return [round((x0 + xmin * w) / sw, 4), round((y0 + ymin * h) / sh, 4), round((x0 + xmax * w) / sw, 4),
            round((y0 + ymax * h) / sh, 4)]


SUPERBLOB_SHAVES = 8


class ModelRefused(ValueError):
    """The file is not a model an OAK (RVC2) can run; the message says why."""


def load_blob(path: Path, fmt: str, dai=None):
    """Blocking: the OpenVINO blob of a kept model file (a blob, or the one inside an NN archive)."""
    if dai is None:
        import depthai as dai       # here, not at the top: the simulator never loads depthai
    if fmt == "nn_archive":
        archive = dai.NNArchive(str(path))
        superblob = archive.getSuperBlob()
        # Luxonis packs RVC2 models as a superblob: the blob for the shave count depthai itself picks
        # (NeuralNetwork::setNNArchive, DEFAULT_SUPERBLOB_NUM_SHAVES).
        return superblob.getBlobWithNumShaves(SUPERBLOB_SHAVES) if superblob is not None else archive.getBlob()
    return dai.OpenVINO.Blob(Path(path))


class ModelFiles:
    """Model files in a folder, each named by its SHA-256: the same model uploaded twice is kept once."""

    def __init__(self, directory: Path | None):
        """In `directory`, or (None) in a temporary folder of its own made by `open` and removed by `close`."""
        self.directory = Path(directory) if directory is not None else None
        self.temporary = directory is None
        self._held: Counter = Counter()       # kept files whose deployment is on its way to a camera

    def open(self) -> None:
        """Blocking, at start: the folder, made if missing, without the uploads a crash or a kill cut short."""
        if self.temporary:
            self.directory = Path(tempfile.mkdtemp(prefix="oak-models-"))
            return
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        for stale in self.directory.glob(".upload-*"):
            stale.unlink(missing_ok=True)

    def close(self) -> None:
        """Blocking, at the end: a temporary folder goes, with what it holds."""
        if self.temporary and self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)

    @contextmanager
    def held(self, sha256: str):
        """While a kept model is being deployed: prune leaves it alone."""
        self._held[sha256] += 1
        try:
            yield
        finally:
            self._held[sha256] -= 1
            if not self._held[sha256]:
                del self._held[sha256]

    def holding(self) -> set[str]:
        return set(self._held)

    def prune(self, keep: set[str]) -> None:
        """Blocking: remove the model files not in `keep` (what the cameras' states refer to, and what
        `holding()` said): a replaced or removed network's file goes at once."""
        for model in self.directory.iterdir():
            if model.is_file() and not model.name.startswith(".") and model.name not in keep:
                model.unlink(missing_ok=True)

    def path(self, sha256: str) -> Path:
        return self.directory / sha256

    def keep(self, temporary: Path, sha256: str) -> Path:
        """Blocking: move an uploaded file (in this folder) to its name, durably."""
        target = self.path(sha256)
        replace_durably(temporary, target)
        return target

    def upload(self) -> "Upload":
        return Upload(self)


class Upload:
    """An upload being received: written to a temporary file in the folder, hashed and counted as it comes."""

    def __init__(self, files: ModelFiles):
        self.files = files
        self.path = files.directory / f".upload-{os.getpid()}-{id(self)}"
        self.file = open(self.path, "wb")
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > MAX_MODEL_BYTES:
            raise ModelRefused(f"the model is larger than {MAX_MODEL_BYTES // (1024 * 1024)} MiB")
        self.hash.update(chunk)
        self.file.write(chunk)

    def discard(self) -> None:
        self.file.close()
        self.path.unlink(missing_ok=True)
