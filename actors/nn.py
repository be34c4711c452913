"""Neural network models: whether an uploaded file is one an OAK can run, read with depthai as the camera's
pipeline reads it, and the model files kept on disk by their SHA-256."""
from __future__ import annotations

import hashlib
import os
import tarfile
from pathlib import Path

from .frames import centre_crop

MAX_MODEL_BYTES = 64 * 1024 * 1024      # RVC2 blobs are a few MB; its NN memory holds far less than this


MAX_TENSOR_VALUES = 65536       # a larger output layer is sent as its shape alone: too much JSON at frame rate


def tensor(shape, values) -> dict:
    """One output layer of a Generic network as the …/nn WebSocket sends it."""
    return {"shape": list(shape), "data": values.ravel().tolist() if values.size <= MAX_TENSOR_VALUES else None}


def frame_coords(coords, frame: tuple[int, int], view: tuple[int, int]) -> list[float]:
    """A box as fractions of a network's view (the centre of the frame at the input's shape) as fractions of
    the whole frame, where an overlay on the video draws it."""
    (sw, sh), (x0, y0, w, h) = centre_crop(frame, view)
    xmin, ymin, xmax, ymax = coords
    return [round((x0 + xmin * w) / sw, 4), round((y0 + ymin * h) / sh, 4), round((x0 + xmax * w) / sw, 4),
            round((y0 + ymax * h) / sh, 4)]


class ModelRefused(ValueError):
    """The file is not a model an OAK (RVC2) can run; the message says why."""


def load_blob(path: Path, fmt: str, dai=None):
    """Blocking: the OpenVINO blob of a kept model file (a blob, or the one inside an NN archive)."""
    if dai is None:
        import depthai as dai       # here, not at the top: the simulator never loads depthai
    if fmt == "nn_archive":
        return dai.NNArchive(str(path)).getBlob()
    return dai.OpenVINO.Blob(Path(path))


def inspect_model(path: Path) -> dict:
    """Blocking: format, input [w, h] and outputs {name: shape} of a model file; ModelRefused says why not."""
    fmt = "nn_archive" if tarfile.is_tarfile(path) else "blob"
    try:
        blob = load_blob(path, fmt)
    except Exception as exc:  # noqa: BLE001 (depthai says what is wrong in its own words)
        what = "an NN archive depthai can read" if fmt == "nn_archive" else "an OpenVINO blob"
        raise ModelRefused(f"the model is not {what}: {exc}") from None
    if blob is None:
        raise ModelRefused("the NN archive holds no OpenVINO blob: OAK cameras of this kind (RVC2) run blobs only")
    if blob.device.name != "VPU":
        raise ModelRefused(f"the blob is compiled for {blob.device.name}, not for the OAK's RVC2 (VPU)")
    inputs = list(blob.networkInputs.values())
    if len(inputs) != 1:
        raise ModelRefused(f"the network has {len(inputs)} inputs; a camera stream feeds exactly one image")
    try:
        size = [inputs[0].getWidth(), inputs[0].getHeight()]
    except RuntimeError as exc:
        raise ModelRefused(f"the network's input is not an image: {exc}") from None
    if min(size) < 8 or max(size) > 4096:
        raise ModelRefused(f"the network's input {inputs[0].dims} is not an image size a camera can feed")
    return {"format": fmt, "input": size,
            "outputs": {name: list(info.dims) for name, info in sorted(blob.networkOutputs.items())}}


class ModelFiles:
    """Model files in a folder, each named by its SHA-256: the same model uploaded twice is kept once."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        for stale in self.directory.glob(".upload-*"):         # uploads a crash or a kill cut short
            stale.unlink(missing_ok=True)

    def path(self, sha256: str) -> Path:
        return self.directory / sha256

    def keep(self, temporary: Path, sha256: str) -> Path:
        """Blocking: move an uploaded file (in this folder) to its name, durably."""
        target = self.path(sha256)
        with open(temporary, "rb") as f:
            os.fsync(f.fileno())
        os.replace(temporary, target)
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
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
