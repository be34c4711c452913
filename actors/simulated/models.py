"""The OAK models the simulator can play (actors/sensors.py), with stable mxids."""
from __future__ import annotations

import hashlib

from ..model import CameraInfo, SensorSpec
from ..sensors import IR_MODELS, MODELS


def mxid_for(model: str, index: int, seed: str = "") -> str:
    """A stable, distinct, real-looking mxid for the index-th simulated camera of a model; a seed (one per
    gateway, --simulate-seed) gives each gateway's cameras their own."""
    key = f"{seed}/{model}#{index}" if seed else f"{model}#{index}"
    return hashlib.sha1(key.encode()).hexdigest()[:18].upper()


def camera_info(model: str, index: int, seed: str = "") -> CameraInfo:
    name, protocol, sensors, pairs = MODELS[model]
    return CameraInfo(mxid=mxid_for(model, index, seed), name=name, protocol=protocol,
                      sensors=tuple(SensorSpec(socket=s, **spec) for s, spec in sensors.items()),
                      stereo_pairs=pairs, ir=model in IR_MODELS)
