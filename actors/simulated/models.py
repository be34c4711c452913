"""The OAK models the simulator can play (actors/sensors.py), with stable mxids."""
from __future__ import annotations

import hashlib

from ..model import CameraInfo, SensorSpec
from ..sensors import IR_MODELS, MODELS


def mxid_for(model: str, index: int) -> str:
    """A stable, distinct, real-looking mxid for the index-th simulated camera of a model."""
    return hashlib.sha1(f"{model}#{index}".encode()).hexdigest()[:18].upper()


def camera_info(model: str, index: int) -> CameraInfo:
    name, protocol, sensors, pairs = MODELS[model]
    return CameraInfo(mxid=mxid_for(model, index), name=name, protocol=protocol,
                      sensors=tuple(SensorSpec(socket=s, **spec) for s, spec in sensors.items()),
                      stereo_pairs=pairs, ir=model in IR_MODELS)
