"""The simulated boards' calibration, held as a camera's EEPROM holds it: in depthai's own CalibrationHandler.

Each sensor has the lens the scenes are drawn with (scene.intrinsics) at its largest mode, no distortion, and
sits where actors/sensors.py places it on the board, all facing the same way; each stereo pair is rectified
as it is. The stand-in's devices answer readCalibration() with it, so both backends describe one board.
"""
from __future__ import annotations

import json
from functools import lru_cache

from ..sensors import MODELS, SENSOR_X_MM
from . import scene

IDENTITY = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
DISTORTION_COEFFICIENTS = 14          # depthai's: k1 k2 p1 p2 k3 k4 k5 k6 s1 s2 s3 s4 τx τy


@lru_cache(maxsize=None)
def _calibration_json(model: str) -> str:
    import depthai as dai          # loaded by the first calibration read (actors/calibration.py says why)
    name, _, sensors, pairs = MODELS[model]
    positions = SENSOR_X_MM[model]
    handler = dai.CalibrationHandler()
    handler.setBoardInfo(name, "R0M0E0")
    handler.setProductName(name)
    for socket, sensor in sensors.items():
        camera = dai.CameraBoardSocket.__members__[socket]
        width, height = sensor["modes"][0].width, sensor["modes"][0].height
        f, cx, cy = scene.intrinsics(width, height)
        handler.setCameraIntrinsics(camera, [[f, 0.0, cx], [0.0, f, cy], [0.0, 0.0, 1.0]], width, height)
        handler.setDistortionCoefficients(camera, [0.0] * DISTORTION_COEFFICIENTS)
        handler.setCameraType(camera, dai.CameraModel.Perspective)
        handler.setFov(camera, scene.HFOV_DEGREES)
    # A chain from left to right, as a board's EEPROM links its sensors; depthai walks it for any two. From
    # src to dst a point maps as p_dst = R p_src + t: t is src's origin seen from dst (cm, depthai's unit).
    order = sorted(sensors, key=positions.get)
    for src, dst in zip(order, order[1:]):
        t = [(positions[src] - positions[dst]) / 10, 0.0, 0.0]
        handler.setCameraExtrinsics(dai.CameraBoardSocket.__members__[src], dai.CameraBoardSocket.__members__[dst],
                                    IDENTITY, t, t)
    if pairs:
        left, right = pairs[0]
        handler.setStereoLeft(dai.CameraBoardSocket.__members__[left], IDENTITY)
        handler.setStereoRight(dai.CameraBoardSocket.__members__[right], IDENTITY)
    return json.dumps(handler.eepromToJson())


def calibration(model: str):
    """A model's calibration, a depthai CalibrationHandler of its own (as readCalibration() gives one)."""
    import depthai as dai
    return dai.CalibrationHandler.fromJson(json.loads(_calibration_json(model)))
