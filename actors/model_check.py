"""Whether an uploaded file is a model an OAK can run, read where a crash cannot reach the service.

depthai's parsers are native code: a 0-byte blob segfaults them, and an NN archive is inflated into memory
whole. So a file is read in a short-lived child process (`python -m actors.model_check FILE`) with a cap on
the memory it may add and a deadline, after cheap checks of its size and shape that need no parser: an empty
or truncated blob, or an archive whose members would inflate past the model limit, is refused before depthai
sees it. The child's death, its cap or its deadline is a refusal that names the cause.
"""
from __future__ import annotations

import asyncio
import copy
import json
import logging
import os
import resource
import signal
import struct
import sys
import tarfile
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from .nn import MAX_MODEL_BYTES, MAX_OUTPUTS, ModelRefused, load_blob

log = logging.getLogger(__name__)

BLOB_HEADER = 52 + 80          # ELF header, then mv_blob_header (depthai src/openvino/BlobReader.cpp)
BLOB_MAGIC = 9709
SUPERBLOB_HEADER = 8 * 17      # big-endian sizes of the blob and 16 patches (src/openvino/OpenVINO.cpp)
MAX_ARCHIVE_MEMBERS = 16       # an NN archive holds a config.json and a model or two
MAX_ARCHIVE_BYTES = MAX_MODEL_BYTES + (1 << 20)     # all its members inflated: the model and a small config
MAX_OUTPUT_VALUES = 1 << 24    # values of one output layer: more than an RVC2's NN memory holds (2 bytes each)
# What a check found in a model depends on the file's bytes and the checker alone: a model deployed again (on
# another stream or camera) is not read again. Keyed by its SHA-256 and the checker's settings; refusals are not
# kept (a deadline or the memory cap may be the machine's doing).
_FOUND: OrderedDict[tuple, dict] = OrderedDict()
FOUND_KEPT = 64


def _check_blob_header(head: bytes, size: int, what: str = "the model") -> None:
    """A blob's fixed header, without a parser: refuses empty, cut short and foreign files."""
    if size == 0:
        raise ModelRefused(f"{what} is empty")
    if size < BLOB_HEADER or not head.startswith(b"\x7fELF"):
        raise ModelRefused(f"{what} is not an OpenVINO blob (no blob header)")
    magic, total = struct.unpack_from("<II", head, 52)
    if magic != BLOB_MAGIC:
        raise ModelRefused(f"{what} is not an OpenVINO blob (magic {magic}, not {BLOB_MAGIC})")
    if total > size:
        raise ModelRefused(f"{what} is cut short: its header says {total} bytes, the file has {size}")


def _check_archive(path: Path) -> None:
    """An NN archive's members by their tar headers, before anything is inflated: few, regular files, inside
    the archive, inflating to at most MAX_ARCHIVE_BYTES, and the model it names a blob that is whole."""
    total, names = 0, set()
    with tarfile.open(path, "r|*") as tar:              # streaming: sizes are read from headers, data skipped
        for count, member in enumerate(tar, 1):
            if count > MAX_ARCHIVE_MEMBERS:
                raise ModelRefused(f"the NN archive has more than {MAX_ARCHIVE_MEMBERS} members")
            if not (member.isfile() or member.isdir()):
                raise ModelRefused(f"the NN archive's member {member.name!r} is not a regular file")
            if member.name.startswith("/") or ".." in Path(member.name).parts:
                raise ModelRefused(f"the NN archive's member {member.name!r} points outside the archive")
            total += member.size
            if total > MAX_ARCHIVE_BYTES:
                raise ModelRefused(f"the NN archive inflates to more than {MAX_ARCHIVE_BYTES >> 20} MiB")
            names.add(member.name.removeprefix("./"))
    with tarfile.open(path, "r:*") as tar:
        config = _member(tar, names, "config.json", 1 << 20)
        try:
            model = json.loads(config)["model"]["metadata"]["path"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelRefused(f"the NN archive's config.json does not name its model: {exc}") from None
        if isinstance(model, str) and model.removeprefix("./") in names:
            data = _member(tar, names, model, MAX_MODEL_BYTES)
            what = f"the NN archive's {model}"
            if not model.endswith((".blob", ".superblob")):     # RVC4's .dlc: depthai never reads it on the host
                if not data:
                    raise ModelRefused(f"{what} is empty")
                return
            if model.endswith(".superblob"):            # sizes of the blob and 16 patches, then the blob
                if len(data) < SUPERBLOB_HEADER:
                    raise ModelRefused(f"{what} is cut short: no superblob header")
                size = struct.unpack_from(">Q", data)[0]
                data = data[SUPERBLOB_HEADER:SUPERBLOB_HEADER + size]
            _check_blob_header(data[:BLOB_HEADER], len(data), what)


def _member(tar: tarfile.TarFile, names: set, name: str, limit: int) -> bytes:
    if name.removeprefix("./") not in names:
        raise ModelRefused(f"the NN archive has no {name}")
    member = next(m for m in tar.getmembers() if m.name.removeprefix("./") == name.removeprefix("./"))
    if member.size > limit:
        raise ModelRefused(f"the NN archive's {name} is larger than {limit >> 20} MiB")
    return tar.extractfile(member).read() if member.isfile() else b""


def precheck(path: Path) -> str:
    """The file's format ("blob" or "nn_archive") after the checks that need no parser; ModelRefused why not."""
    size = path.stat().st_size
    if size > MAX_MODEL_BYTES:
        raise ModelRefused(f"the model is larger than {MAX_MODEL_BYTES >> 20} MiB")
    with open(path, "rb") as f:
        head = f.read(BLOB_HEADER)
    if size and not head.startswith(b"\x7fELF"):
        try:
            if tarfile.is_tarfile(path):
                _check_archive(path)
                return "nn_archive"
        except (tarfile.TarError, EOFError, OSError, ValueError) as exc:   # lzma and gzip errors are OSErrors
            raise ModelRefused(f"the NN archive cannot be read: {exc}") from None
    _check_blob_header(head, size)
    return "blob"


def inspect(path: Path, fmt: str) -> dict:
    """Blocking, in the child, after `precheck`: format, the platforms it runs on (depthai's
    `NNArchive.getSupportedPlatforms()`: RVC2 for a VPU blob, bare or in an archive; RVC4 for an archive's DLC),
    input [w, h], outputs {name: shape} and the parser heads an archive declares; ModelRefused says why not."""
    import depthai as dai
    try:
        if fmt == "nn_archive":
            archive = dai.NNArchive(str(path))
            platforms = [p.name for p in archive.getSupportedPlatforms()]
            kind = archive.getModelType()
        blob = load_blob(path, fmt, dai) if fmt == "blob" or kind != dai.ModelType.DLC else None
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 (depthai says what is wrong in its own words)
        what = "an NN archive depthai can read" if fmt == "nn_archive" else "an OpenVINO blob"
        raise ModelRefused(f"the model is not {what}: {exc}") from None
    if fmt == "nn_archive" and blob is None:
        if "RVC4" not in platforms:
            raise ModelRefused(f"the NN archive holds a {kind.name} model, which no OAK runs (depthai supports it "
                               "on no platform): OAK (RVC2) cameras run OpenVINO blobs, OAK4 (RVC4) ones .dlc "
                               "models, each in an NN archive built for it")
        return _described(dai, archive, platforms)
    if blob.device.name != "VPU":
        raise ModelRefused(f"the blob is compiled for {blob.device.name}, not for the OAK's RVC2 (VPU)")
    inputs = list(blob.networkInputs.values())
    if len(inputs) != 1:
        raise ModelRefused(f"the network has {len(inputs)} inputs; a camera stream feeds exactly one image")
    try:
        size = [inputs[0].getWidth(), inputs[0].getHeight()]
    except RuntimeError as exc:
        raise ModelRefused(f"the network's input is not an image: {exc}") from None
    _check_input(size, inputs[0].dims)
    outputs = {name: list(info.dims) for name, info in sorted(blob.networkOutputs.items())}
    _check_outputs(outputs)
    heads = _heads(archive.getConfig().model) if fmt == "nn_archive" else []
    return {"format": fmt, "platforms": ["RVC2"], "input": size, "input_type": "BGR888p", "outputs": outputs,
            "heads": heads}


def _heads(model) -> list[str]:
    return [head.parser for head in model.heads or []]


def _check_input(size: list[int], dims) -> None:
    if min(size) < 8 or max(size) > 4096:
        raise ModelRefused(f"the network's input {list(dims)} is not an image size a camera can feed")


def _described(dai, archive, platforms: list[str]) -> dict:
    """An archive whose model depthai does not read on the host (RVC4's DLC), as its config.json describes it:
    one image input whose size `NNArchive.getInputSize()` reads (NCHW or NHWC), and outputs with their shapes,
    which the service needs to check a decoder against them and to report a Generic network's layers."""
    model = archive.getConfig().model
    if len(model.inputs) != 1:
        raise ModelRefused(f"the network has {len(model.inputs)} inputs; a camera stream feeds exactly one image")
    try:
        size = archive.getInputSize()
    except RuntimeError as exc:
        raise ModelRefused(f"the NN archive's input is not an image: {exc}") from None
    if size is None:
        raise ModelRefused(f"the NN archive's input {list(model.inputs[0].shape)} (layout "
                           f"{model.inputs[0].layout}) is not an image: depthai reads NCHW or NHWC only")
    size = list(size)
    _check_input(size, model.inputs[0].shape)
    # The frame type the input reads: the archive's daiType, else interleaved BGR on RVC4 (what
    # NeuralNetwork.build requests, src/pipeline/node/NeuralNetwork.cpp getFrameCapability).
    input_type = model.inputs[0].preprocessing.daiType or "BGR888i"
    if input_type not in dai.ImgFrame.Type.__members__:
        raise ModelRefused(f"the NN archive's input reads frames of type {input_type}, which depthai does not "
                           "know (Unsupported input type)")
    outputs = {}
    for output in model.outputs:
        if not output.shape:
            raise ModelRefused(f"the NN archive's config.json gives no shape for output {output.name}: the "
                               "service needs each output's shape")
        outputs[output.name] = list(output.shape)
    outputs = dict(sorted(outputs.items()))
    _check_outputs(outputs)
    return {"format": "nn_archive", "platforms": platforms, "input": size, "input_type": input_type,
            "outputs": outputs, "heads": _heads(model)}


def _check_outputs(outputs: dict) -> None:
    if len(outputs) > MAX_OUTPUTS:
        raise ModelRefused(f"the network has {len(outputs)} outputs; at most {MAX_OUTPUTS} are taken")
    for name, dims in outputs.items():
        values = 1
        for d in dims:
            values *= d
        if not dims or values > MAX_OUTPUT_VALUES:
            raise ModelRefused(f"the network's output {name} {dims} is not one an OAK can hold "
                               f"(at most {MAX_OUTPUT_VALUES} values)")


def _vm_size() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _child(path: str, memory: int) -> None:
    """The child's whole life: cap itself, read the file, print one JSON line, exit."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))          # a crash leaves no core file behind
    try:
        fmt = precheck(Path(path))                # no parser yet: tar headers are read as a stream
        import depthai  # noqa: F401 (loaded before the cap: the cap is on what the file makes it allocate)
        # A soft cap, lifted once the file is read: depthai's own threads go on allocating, and one that
        # failed after the answer would crash the child with a complete answer written.
        unlimited = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (_vm_size() + memory, unlimited[1]))
        try:
            answer = {"model": inspect(Path(path), fmt)}
        finally:
            resource.setrlimit(resource.RLIMIT_AS, unlimited)
    except ModelRefused as exc:
        answer = {"refused": str(exc)}
    except MemoryError:
        answer = {"refused": f"reading the model needs more than {memory >> 20} MiB of memory"}
    sys.stdout.write("\n" + json.dumps(answer) + "\n")
    sys.stdout.flush()
    # Leave at once: depthai's threads torn down at interpreter exit crash now and then (SIGSEGV, SIGABRT),
    # which would read as the model's fault.
    os._exit(0)


class _Crashed(ModelRefused):
    """The child ended by a signal before it answered."""


@dataclass
class ModelChecker:
    """Runs the child, at most `concurrent` at once for the whole gateway. `command` is the child's command
    line without the file (tests give another)."""
    deadline: float = 30.0
    memory: int = 1 << 30              # bytes the parse may add to the child's own address space
    concurrent: int = 1
    command: list[str] = field(default_factory=lambda: [sys.executable, "-m", "actors.model_check"])

    def __post_init__(self):
        self._slots: asyncio.Semaphore | None = None

    async def check(self, path: Path, sha256: str | None = None) -> dict:
        """The model's format, input and outputs; ModelRefused (its message names the cause) otherwise.
        `sha256`, the file's: a model found good before is not read again."""
        key = (sha256, self.deadline, self.memory, tuple(self.command))
        if sha256 is not None and key in _FOUND:
            _FOUND.move_to_end(key)
            return copy.deepcopy(_FOUND[key])
        model = await self._check(path)
        if sha256 is not None:
            _FOUND[key] = copy.deepcopy(model)
            while len(_FOUND) > FOUND_KEPT:
                _FOUND.popitem(last=False)
        return model

    async def _check(self, path: Path) -> dict:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.concurrent)
        async with self._slots:
            end = asyncio.get_running_loop().time() + self.deadline       # one deadline for both tries
            try:
                return await self._run(path, end)
            except _Crashed:
                # Once more: under the memory cap one of depthai's own threads may fail an allocation and abort
                # the child (seen rarely, under load), which is no fault of the model. A model that crashes the
                # parser crashes it again.
                return await self._run(path, end)

    async def _run(self, path: Path, end: float) -> dict:
        # One malloc arena: a thread's arena reserves 64 MiB of address space up front, which the cap would count
        # and a parse could then use unseen; with one, what the file makes it allocate is new address space.
        env = {**os.environ, "OAK_MODEL_CHECK_MEMORY": str(self.memory), "DEPTHAI_LEVEL": "error",
               "MALLOC_ARENA_MAX": "1"}
        child = await asyncio.create_subprocess_exec(
            *self.command, str(path), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=env, start_new_session=True)
        try:
            # Not wait_for, which can lose a cancel (Fleet._discover): a client that left takes the child with it.
            async with asyncio.timeout_at(end):
                out, err = await child.communicate()
        except TimeoutError:
            child.kill()
            await child.wait()
            raise ModelRefused(f"reading the model took longer than {self.deadline:g} s") from None
        except asyncio.CancelledError:           # the client left: the child goes with it
            child.kill()
            raise
        # The answer is the last line, written whole and flushed before the child leaves: one that is there
        # stands even if a depthai thread crashed the child after it.
        lines = out.decode("utf-8", "replace").strip().splitlines()
        try:
            answer = json.loads(lines[-1]) if lines else None
        except ValueError:
            answer = None
        if not (isinstance(answer, dict) and ("model" in answer or "refused" in answer)):
            text = err.decode("utf-8", "replace")
            if "MemoryError" in text or "bad_alloc" in text:
                raise ModelRefused(f"reading the model needs more than {self.memory >> 20} MiB of memory")
            if child.returncode < 0:
                name = signal.Signals(-child.returncode).name
                log.warning("the model check of %s ended by %s: %s", path.name, name, text.strip()[-500:] or "(no output)")
                raise _Crashed(f"the model crashed depthai's parser ({name}); it is not a model an OAK can run")
            raise ModelRefused(f"reading the model failed (exit {child.returncode}); it is not a model an OAK "
                               "can run")
        if "refused" in answer:
            raise ModelRefused(answer["refused"])
        return answer["model"]


if __name__ == "__main__":
    _child(sys.argv[1], int(os.environ.get("OAK_MODEL_CHECK_MEMORY", 512 << 20)))
