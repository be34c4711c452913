"""Model files for the tests: an OpenVINO blob with the header depthai reads (src/openvino/BlobReader.cpp) and
no network behind it, and an NN archive holding one. depthai's own parsers accept both; the DepthAI stand-in
runs them as the simulator does."""
from __future__ import annotations

import io
import json
import struct
import tarfile

BLOB_MAGIC, NCHW, U8F, FP16 = 9709, 0x4321, 1, 0
MOBILENET_OUT = {"detection_out": (1, 1, 100, 7)}
YOLO_OUT = {"output1_yolov5": (1, 255, 13, 13), "output2_yolov5": (1, 255, 26, 26)}


def blob(width: int = 300, height: int = 300, outputs: dict = MOBILENET_OUT) -> bytes:
    """ELF header, mv_blob_header (version 6.0: OpenVINO 2022.1), one U8 NCHW image input and FP16 outputs."""
    consts = b""

    def record(index, name, dtype, dims):
        nonlocal consts
        raw = name.encode() + b"\0"
        entry = struct.pack("<IiI", index, 0, len(raw)) + raw + struct.pack("<iIIiIII", dtype, NCHW, len(dims), 0,
                                                                            len(consts), 0, 0)
        consts += struct.pack(f"<{len(dims)}I", *dims)
        return entry
    inputs = record(0, "data", U8F, (1, 3, height, width))
    outs = b"".join(record(i, name, FP16, dims) for i, (name, dims) in enumerate(outputs.items()))
    inputs_at = 52 + 80
    outputs_at = inputs_at + len(inputs)
    consts_at = outputs_at + len(outs)
    total = consts_at + len(consts)
    header = struct.pack("<20I", BLOB_MAGIC, total, 6, 0, 1, len(outputs), 1, 3 * width * height, 0, 1, 0, 0, 0, 0,
                         0, 0, inputs_at, outputs_at, consts_at, consts_at)
    return b"\x7fELF" + bytes(48) + header + inputs + outs + consts


def superblob(width: int = 300, height: int = 300) -> bytes:
    """A SUPERBLOB, as Luxonis' RVC2 archives hold their model (src/openvino/OpenVINO.cpp): big-endian sizes of
    the blob and of 16 bsdiff patches (one per shave count), then the blob and the patches. Patches of size 0
    say the blob itself fits every shave count."""
    data = blob(width, height)
    return struct.pack(">17Q", len(data), *([0] * 16)) + data


def archive_config(width: int = 300, height: int = 300, model: str = "model.blob") -> str:
    """The config.json of an NN archive (version 1.0) whose model is `model`."""
    return json.dumps({"config_version": "1.0", "model": {
        "metadata": {"name": "test", "path": model, "precision": "float16"},
        "inputs": [{"name": "data", "dtype": "uint8", "input_type": "image", "shape": [1, 3, height, width],
                    "layout": "NCHW", "preprocessing": {}}],
        "outputs": [{"name": "detection_out", "dtype": "float16"}],
        "heads": [{"parser": "SSD", "metadata": {"classes": ["ball", "box"], "n_classes": 2}}]}})


def archive(width: int = 300, height: int = 300, as_superblob: bool = False) -> bytes:
    """An NN archive (config.json and the model) as luxonis' tools pack it: tar.xz; for RVC2 their model zoo
    packs a superblob."""
    model, data = ("model.superblob", superblob(width, height)) if as_superblob else ("model.blob", blob(width, height))
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:xz") as tar:
        for name, data in (("config.json", archive_config(width, height, model).encode()), (model, data)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def rvc4_archive(width: int = 300, height: int = 300, outputs: dict = MOBILENET_OUT, parser: str | None = "SSD",
                 model: str = "model.dlc", data: bytes = b"DLC model for the test", dai_type: str | None = None) -> bytes:
    """An NN archive built for RVC4 (OAK4) as Luxonis' tools pack it: config.json (version 1.0) describing the
    input and the outputs with their shapes, and a `.dlc` model, which depthai reads as ModelType.DLC and
    supports on RVC4 alone (src/nn_archive/NNArchive.cpp getSupportedPlatforms); depthai never looks inside it
    on the host, nor does the stand-in. `dai_type` is the frame type its input reads (preprocessing.dai_type)."""
    config = {"config_version": "1.0", "model": {
        "metadata": {"name": "test", "path": model, "precision": "float16"},
        "inputs": [{"name": "data", "dtype": "uint8", "input_type": "image", "shape": [1, 3, height, width],
                    "layout": "NCHW", "preprocessing": {"dai_type": dai_type} if dai_type else {}}],
        "outputs": [{"name": name, "dtype": "float16", "shape": list(shape), "layout": "NCHW"[-len(shape):]}
                    for name, shape in outputs.items()],
        "heads": [{"parser": parser, "metadata": {"classes": ["ball", "box"], "n_classes": 2}}] if parser else []}}
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:xz") as tar:
        for name, member in (("config.json", json.dumps(config).encode()), (model, data)):
            info = tarfile.TarInfo(name)
            info.size = len(member)
            tar.addfile(info, io.BytesIO(member))
    return out.getvalue()
