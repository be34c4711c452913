"""Translations between the API's model and depthai v3 objects; pure functions, testable without a device."""
from __future__ import annotations

from typing import Mapping

import numpy as np
import depthai as dai

from .frames import DEPTH16, GRAY8, YUV420, Frame, FrameMeta
from .model import COLOR, MONO, OTHER, Mode, SensorSpec
from .nn import detection, generic_message

AWB = dai.CameraControl.AutoWhiteBalanceMode
AF = dai.CameraControl.AutoFocusMode


def control_to_dai(control: dict) -> dai.CameraControl:
    """Every field of a SensorControl as one dai.CameraControl message."""
    c = dai.CameraControl()
    if control["auto_exposure_enable"]:
        c.setAutoExposureEnable()
    else:
        c.setManualExposure(control["exposure_time"], control["sensitivity_iso"])
    c.setAutoExposureCompensation(control["auto_exposure_compensation"])
    c.setAutoExposureLimit(control["auto_exposure_limit"])
    c.setAutoExposureLock(control["auto_exposure_lock"])
    c.setContrast(control["contrast"])
    c.setBrightness(control["brightness"])
    c.setSaturation(control["saturation"])
    c.setChromaDenoise(control["chroma_denoise"])
    c.setLumaDenoise(control["luma_denoise"])
    c.setAutoWhiteBalanceLock(control["auto_whitebalance_lock"])
    if control["auto_whitebalance_mode"] == "OFF":
        c.setManualWhiteBalance(control["manual_whitebalance"])
    else:
        c.setAutoWhiteBalanceMode(AWB.__members__[control["auto_whitebalance_mode"]])
    focus = control.get("focus")
    if focus is not None:
        c.setAutoFocusMode(AF.__members__[focus["auto_focus_mode"]])
        if focus["auto_focus_mode"] == "OFF":
            c.setManualFocusRaw(float(focus["lens_position"]))
        if focus["auto_focus_trigger"]:
            c.setAutoFocusTrigger()
    return c


def frame_meta(img: dai.ImgFrame) -> FrameMeta:
    exposure = int(round(img.getExposureTime().total_seconds() * 1e6))
    lens = img.getLensPositionRaw()          # -1 where the sensor has no lens motor
    return FrameMeta(max(1, min(33000, exposure)), max(100, min(5000, img.getSensitivity())),
                     max(1000, min(12000, img.getColorTemperature() or 5500)),
                     round(min(1.0, lens), 4) if lens >= 0 else None)


def frame_from_dai(img: dai.ImgFrame) -> Frame:
    """A depthai frame as planes: NV12 split into Y, U, V (no BGR round trip), GRAY8 as Y, RAW16 as depth."""
    kind = img.getType()
    width, height, stride = img.getWidth(), img.getHeight(), img.getStride()
    data = np.asarray(img.getData(), dtype=np.uint8)
    if kind == dai.ImgFrame.Type.NV12:
        y_size = img.getPlaneStride(0) or stride * height
        y = data[:stride * height].reshape(height, stride)[:, :width]
        uv = data[y_size:y_size + stride * (height // 2)].reshape(height // 2, stride)[:, :width]
        planes = (np.ascontiguousarray(y), np.ascontiguousarray(uv[:, 0::2]), np.ascontiguousarray(uv[:, 1::2]))
        fmt = YUV420
    elif kind in (dai.ImgFrame.Type.GRAY8, dai.ImgFrame.Type.RAW8):
        planes = (np.ascontiguousarray(data[:stride * height].reshape(height, stride)[:, :width]),)
        fmt = GRAY8
    elif kind == dai.ImgFrame.Type.RAW16:
        depth = data[:stride * height].view(np.uint16).reshape(height, stride // 2)[:, :width]
        planes = (np.ascontiguousarray(depth),)
        fmt = DEPTH16
    else:
        raise ValueError(f"unsupported frame type {kind.name}")
    meta = frame_meta(img) if fmt != DEPTH16 else None
    return Frame(fmt, planes, img.getTimestamp().total_seconds(), img.getSequenceNum(), meta,
                 img.getTimestampDevice().total_seconds())


def sensor_from_features(features: dai.CameraFeatures) -> SensorSpec:
    """What a connected sensor can do, from getConnectedCameraFeatures()."""
    types = set(features.supportedTypes)
    kind = COLOR if dai.CameraSensorType.COLOR in types else MONO if dai.CameraSensorType.MONO in types else OTHER
    modes: dict[tuple[int, int], Mode] = {}
    for config in features.configs:       # Camera.build checks the first config of a size (R4)
        modes.setdefault((config.width, config.height),
                         Mode(config.width, config.height, float(config.maxFps), float(config.minFps)))
    if not modes:
        modes[(features.width, features.height)] = Mode(features.width, features.height, 30.0)
    modes = tuple(sorted(modes.values(), key=lambda m: -m.width * m.height))
    return SensorSpec(socket=features.socket.name, name=features.sensorName, kind=kind,
                      autofocus=bool(features.hasAutofocus), modes=modes)


def stereo_pairs(pairs) -> tuple[tuple[str, str], ...]:
    return tuple((p.left.name, p.right.name) for p in pairs)


def protocol_of(info: dai.DeviceInfo) -> str:
    return "poe" if info.protocol == dai.XLinkProtocol.X_LINK_TCP_IP else "usb"


def nn_message(message, nn: Mapping, frame: tuple[int, int]) -> dict:
    """A network's result as the …/nn WebSocket sends it (schemas/nn.py): detections with their labels and,
    from a SpatialDetectionNetwork, millimetres; a Generic network's first layer and output tensors."""
    out = {"timestamp": round(message.getTimestamp().total_seconds(), 6), "sequence": message.getSequenceNum()}
    if nn["config"]["type"] == "Generic":
        shapes = {name: nn["model"]["outputs"].get(name, []) for name in message.getAllLayerNames()}
        out.update(generic_message(shapes, message.getTensor))
        return out
    labels, found = nn["config"]["labels"], []
    for d in message.detections:
        found.append(detection(d.label, labels[d.label] if 0 <= d.label < len(labels) else str(d.label),
                               round(d.confidence, 4), (d.xmin, d.ymin, d.xmax, d.ymax), frame,
                               tuple(nn["model"]["input"])))
        if hasattr(d, "spatialCoordinates"):
            c = d.spatialCoordinates
            found[-1]["spatial_coords"] = {"x": round(c.x, 1), "y": round(c.y, 1), "z": round(c.z, 1)}
    out["detections"] = found
    return out
