"""The real OAK sensors and models on RVC2, as depthai's CameraFeatures describe them: one table for the
simulator and for the DepthAI test stand-in, so that a configuration the simulator accepts is one a camera
can run.

Each sensor lists its modes in the order of `CameraFeatures.configs`: Camera.build checks the fps against the
first config of the requested size (docs/depthai-rules.md R4). The AR0234 runs only 1920x1200 on RVC2 (R5).
The minimum frame rates are the table's assumption until `make test-hardware` compares them with what a
camera reports (it prints any difference).
"""
from __future__ import annotations

from .model import COLOR, MONO, Mode

IMX378 = dict(name="IMX378", kind=COLOR, autofocus=True,
              modes=(Mode(4056, 3040, 15, 1.5), Mode(3840, 2160, 30, 1.5), Mode(1920, 1080, 60, 1.5)))
OV9282 = dict(name="OV9282", kind=MONO, autofocus=False,
              modes=(Mode(1280, 800, 120, 2.0), Mode(1280, 720, 120, 2.0), Mode(640, 400, 120, 2.0)))
AR0234 = dict(name="AR0234", kind=COLOR, autofocus=False, modes=(Mode(1920, 1200, 60, 2.0),))

# model -> (product name, protocol, {socket: sensor}, stereo pairs (left, right))
MODELS = {
    "oak-d": ("OAK-D", "usb", {"CAM_A": IMX378, "CAM_B": OV9282, "CAM_C": OV9282}, (("CAM_B", "CAM_C"),)),
    "oak-d-pro": ("OAK-D-PRO", "usb", {"CAM_A": IMX378, "CAM_B": OV9282, "CAM_C": OV9282}, (("CAM_B", "CAM_C"),)),
    "oak-1": ("OAK-1", "usb", {"CAM_A": IMX378}, ()),
    "oak-d-lr": ("OAK-D-LR", "poe", {"CAM_A": AR0234, "CAM_B": AR0234, "CAM_C": AR0234},
                 (("CAM_B", "CAM_C"), ("CAM_B", "CAM_A"), ("CAM_A", "CAM_C"))),
}
IR_MODELS = {"oak-d-pro"}       # with an IR dot projector and flood light
# Where each sensor sits on the board: mm along x, left to right as the camera looks (in a row, facing the same
# way). The stereo baselines follow: 75 mm on the OAK-D family; 150 (B–C), 50 (B–A) and 100 (A–C) on the
# OAK-D-LR. The simulator's calibration places its sensors here.
SENSOR_X_MM = {
    "oak-d": {"CAM_B": -37.5, "CAM_A": 0.0, "CAM_C": 37.5},
    "oak-d-pro": {"CAM_B": -37.5, "CAM_A": 0.0, "CAM_C": 37.5},
    "oak-1": {"CAM_A": 0.0},
    "oak-d-lr": {"CAM_B": -75.0, "CAM_A": -25.0, "CAM_C": 75.0},
}
