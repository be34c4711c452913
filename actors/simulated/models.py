"""The OAK models the simulator can play, with their real sockets, sensors, modes and stereo pairs."""
from __future__ import annotations

import hashlib

from ..model import COLOR, MONO, CameraInfo, Mode, SensorSpec

IMX378 = dict(name="IMX378", kind=COLOR, autofocus=True,
              modes=(Mode(4056, 3040, 15), Mode(3840, 2160, 30), Mode(1920, 1080, 60)))
OV9282 = dict(name="OV9282", kind=MONO, autofocus=False,
              modes=(Mode(1280, 800, 120), Mode(1280, 720, 120), Mode(640, 400, 120)))
AR0234 = dict(name="AR0234", kind=COLOR, autofocus=False,
              modes=(Mode(1920, 1200, 60), Mode(1920, 1080, 60), Mode(1280, 800, 60), Mode(1280, 720, 60)))

# model -> (product name, protocol, {socket: sensor}, stereo pairs (left, right))
MODELS = {
    "oak-d": ("OAK-D", "usb", {"CAM_A": IMX378, "CAM_B": OV9282, "CAM_C": OV9282}, (("CAM_B", "CAM_C"),)),
    "oak-d-pro": ("OAK-D-PRO", "usb", {"CAM_A": IMX378, "CAM_B": OV9282, "CAM_C": OV9282}, (("CAM_B", "CAM_C"),)),
    "oak-1": ("OAK-1", "usb", {"CAM_A": IMX378}, ()),
    "oak-d-lr": ("OAK-D-LR", "poe", {"CAM_A": AR0234, "CAM_B": AR0234, "CAM_C": AR0234},
                 (("CAM_B", "CAM_C"), ("CAM_B", "CAM_A"), ("CAM_A", "CAM_C"))),
}


def mxid_for(model: str, index: int) -> str:
    """A stable, distinct, real-looking mxid for the index-th simulated camera of a model."""
    return hashlib.sha1(f"{model}#{index}".encode()).hexdigest()[:18].upper()


def camera_info(model: str, index: int) -> CameraInfo:
    name, protocol, sensors, pairs = MODELS[model]
    return CameraInfo(mxid=mxid_for(model, index), name=name, protocol=protocol,
                      sensors=tuple(SensorSpec(socket=s, **spec) for s, spec in sensors.items()),
                      stereo_pairs=pairs)
