"""The simulated cameras' neural network: it cannot run the model, so it reports what the scene shows, where a
network that knows those objects would see them. Detection messages have the shape the …/nn WebSocket sends."""
from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from ..nn import detection, generic_message
from . import scene

CONFIDENCE = {"ball": 0.93, "box": 0.88, "star": 0.91, "bars": 0.76}
MIN_VISIBLE = 0.5          # an object less than half inside the network's view is not reported


def detections(frame: tuple[int, int], nn: Mapping, depth: np.ndarray | None = None) -> list[dict]:
    """What a detection network of this config sees in a frame of this size: boxes as fractions of its input
    (the centre of the frame at the input's shape, resize mode CROP), above its confidence threshold. On a
    depth stream (`depth`, the frame's millimetres) each has spatial_coords as depthai computes them: the
    median depth in the box, and x, y through the lens from the box's centre."""
    config = nn["config"]
    (sw, sh), (x0, y0, w, h) = scene.centre_crop(frame, tuple(nn["model"]["input"]))
    labels, found = config["labels"], []
    shown = scene.objects(depth is not None, *frame)
    names = [name for name, _ in shown]
    for name, (xmin, ymin, xmax, ymax) in shown:
        confidence = CONFIDENCE[name]
        if confidence < config["confidence_threshold"]:
            continue
        box = [(xmin * sw - x0) / w, (ymin * sh - y0) / h, (xmax * sw - x0) / w, (ymax * sh - y0) / h]
        clipped = [min(max(v, 0.0), 1.0) for v in box]
        if (clipped[2] - clipped[0]) * (clipped[3] - clipped[1]) < MIN_VISIBLE * (box[2] - box[0]) * (box[3] - box[1]):
            continue
        found.append(detection(labels.index(name) if name in labels else names.index(name), name, confidence,
                               clipped, frame, (w, h)))
        if depth is not None:
            found[-1]["spatial_coords"] = spatial(depth, clipped, (x0, y0, w, h), (sw, sh))
    return found


def spatial(depth: np.ndarray, box: list[float], window: tuple[int, int, int, int], scaled: tuple[int, int]) -> dict:
    """x, y, z in mm of a box (fractions of the network's view) on a depth frame: z the median of the valid
    depth inside it, x and y from the box's centre through the simulated lens (scene.intrinsics)."""
    height, width = depth.shape
    x0, y0, w, h = window
    sx, sy = width / scaled[0], height / scaled[1]         # the view's pixels to the depth frame's
    left, right = int((x0 + box[0] * w) * sx), int(math.ceil((x0 + box[2] * w) * sx))
    top, bottom = int((y0 + box[1] * h) * sy), int(math.ceil((y0 + box[3] * h) * sy))
    values = depth[top:bottom, left:right]
    values = values[values > 0]
    z = float(np.median(values)) if values.size else 0.0
    focal, px, py = scene.intrinsics(width, height)
    cx, cy = (left + right) / 2, (top + bottom) / 2
    return {"x": round((cx - px) * z / focal, 1), "y": round((cy - py) * z / focal, 1), "z": round(z, 1)}


def generic(nn: Mapping) -> dict:
    """A Generic network's result: the simulator cannot run the model, so each output layer it declares comes
    with its shape and zeros."""
    shapes = nn["model"]["outputs"]
    return generic_message(shapes, lambda name: np.zeros(math.prod(shapes[name]), np.float32))
