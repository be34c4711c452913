"""A camera's calibration as GET /cameras/{mxid}/calibration answers it (schemas/calibration.py), read from
depthai's CalibrationHandler (the device's EEPROM, `readCalibration()`), for each stream at its configured size.

Intrinsics come from `getCameraIntrinsics(socket, width, height)`: the calibration scaled to the size, and
cut at the centre where the shape differs (keepAspectRatio), as the camera makes a smaller mode. A colour
stream's still and video are windows of its frame at sensor_crop (the principal point moves by the window's
corner); its preview the frame scaled to cover preview_size and cut at the centre (resize mode CROP). Depth is
aligned to the rectified left sensor (the backend sets RECTIFIED_LEFT), which depthai draws with the right
sensor's intrinsics and no distortion. Translations are in mm (depthai keeps cm).
"""
from __future__ import annotations

from typing import Mapping

from .frames import centre_crop, window_origin
from .model import COLOR, DEPTH, CameraInfo, CameraState, StreamSpec

# depthai is loaded here by the first calibration read, not at import: the handler read is depthai's own, and a
# simulated gateway that is never asked for one never loads depthai (68 MB, and a second of its start and stop).


def _socket(name: str):
    import depthai
    return depthai.CameraBoardSocket.__members__[name]


def _mm():
    import depthai
    return depthai.LengthUnit.MILLIMETER


def _matrix(rows) -> list[list[float]]:
    return [[round(float(v), 4) for v in row] for row in rows]


def _shifted(k: list[list[float]], x: float, y: float) -> list[list[float]]:
    """Intrinsics of the window of a frame whose top-left corner is at x, y."""
    return [[k[0][0], k[0][1], round(k[0][2] - x, 4)], [k[1][0], k[1][1], round(k[1][2] - y, 4)], k[2]]


def _stream(handler, spec: StreamSpec, config: Mapping) -> dict | None:
    size = tuple(spec.size_of(config["resolution"]))
    if spec.kind == DEPTH:
        view, lens = spec.sensors[0].socket, spec.sensors[1].socket
    else:
        view = lens = spec.sensors[0].socket
    if not handler.hasCameraCalibration(_socket(lens)):
        return None
    k = _matrix(handler.getCameraIntrinsics(_socket(lens), *size))
    out = {"socket": view, "width": size[0], "height": size[1], "intrinsics": k, "rectified": spec.kind == DEPTH}
    if spec.kind == DEPTH:
        out["distortion_model"], out["distortion"] = "Perspective", [0.0] * 14
    else:
        out["distortion_model"] = handler.getDistortionModel(_socket(lens)).name
        out["distortion"] = [round(float(v), 8) for v in handler.getDistortionCoefficients(_socket(lens))]
    if spec.kind == COLOR:
        x, y = window_origin(config, size)
        for image in ("still", "video"):
            w, h = config[f"{image}_size"]
            out[image] = {"width": w, "height": h, "intrinsics": _shifted(k, x, y)}
    if "preview_size" in config:
        (sw, sh), (x, y, w, h) = centre_crop(size, tuple(config["preview_size"]))
        scaled = _matrix(handler.getCameraIntrinsics(_socket(lens), sw, sh))
        out["preview"] = {"width": w, "height": h, "intrinsics": _shifted(scaled, x, y)}
    return out


def describe(handler, info: CameraInfo, specs: Mapping[str, StreamSpec], state: CameraState) -> dict:
    """Per stream its intrinsics and distortion; extrinsics between every two calibrated sensors; the stereo
    pairs' baselines. A sensor the calibration does not cover is left out."""
    streams = {}
    for name, spec in specs.items():
        described = _stream(handler, spec, state.streams[name].config)
        if described is not None:
            streams[name] = described
    sockets = [s.socket for s in info.sensors if handler.hasCameraCalibration(_socket(s.socket))]
    extrinsics: dict[str, dict] = {}
    for src in sockets:
        for dst in sockets:
            if src == dst:
                continue
            try:
                m = handler.getCameraExtrinsics(_socket(src), _socket(dst), False, _mm())
            except RuntimeError:         # no link between the two in the calibration
                continue
            extrinsics.setdefault(src, {})[dst] = {"rotation": _matrix(row[:3] for row in m[:3]),
                                                   "translation": [round(float(row[3]), 4) for row in m[:3]]}
    pairs = [{"left": left, "right": right,
              "baseline": round(float(handler.getBaselineDistance(_socket(right), _socket(left), False, _mm())), 4)}
             for left, right in info.stereo_pairs if left in sockets and right in sockets]
    return {"streams": streams, "extrinsics": extrinsics, "stereo_pairs": pairs}
