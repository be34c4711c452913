"""The facts of the API that the schemas and the camera actors both need: sensor kinds, resolution names and
their sizes, image formats. Imports nothing of the project, so neither side imports the other for them."""
from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

COLOR, MONO, OTHER, DEPTH = "color", "mono", "other", "depth"

# Resolution names of the API and their sizes. Colour sensors use COLOR_RESOLUTIONS, mono sensors and
# depth streams MONO_RESOLUTIONS (the enums of ColorCameraConfig and MonoCameraConfig).
COLOR_RESOLUTIONS: Mapping[str, tuple[int, int]] = MappingProxyType({
    "THE_720_P": (1280, 720), "THE_800_P": (1280, 800), "THE_1080_P": (1920, 1080),
    "THE_1200_P": (1920, 1200), "THE_1352X1012": (1352, 1012), "THE_1440X1080": (1440, 1080),
    "THE_2024X1520": (2024, 1520), "THE_4_K": (3840, 2160), "THE_5_MP": (2592, 1944),
    "THE_12_MP": (4056, 3040), "THE_13_MP": (4208, 3120), "THE_4000X3000": (4000, 3000),
    "THE_5312X6000": (5312, 6000), "THE_48_MP": (8000, 6000),
})
MONO_RESOLUTIONS: Mapping[str, tuple[int, int]] = MappingProxyType({
    "THE_400_P": (640, 400), "THE_480_P": (640, 480), "THE_720_P": (1280, 720),
    "THE_800_P": (1280, 800), "THE_1200_P": (1920, 1200),
})

FORMATS = ("jpeg", "png")     # still image formats
