"""Synthetic pictures for the simulator, and how controls change them.

The scene (colour bars, a Siemens star, a grey ramp, a floor in depth) is built once per size and cached;
controls act through 256-entry lookup tables, so a new frame costs a few table look-ups and a copy.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from ..frames import centre_crop  # noqa: F401 (the scenes are seen through it)

# Exposure (µs) x ISO that gives the scene its natural brightness.
NEUTRAL_EXPOSURE = 10000 * 400
SCENE_TEMPERATURE = 5500          # K: the simulated light; auto white balance matches it
WB_PRESETS = {"AUTO": SCENE_TEMPERATURE, "DAYLIGHT": 5500, "CLOUDY_DAYLIGHT": 6500, "SHADE": 7500,
              "TWILIGHT": 10000, "FLUORESCENT": 4000, "WARM_FLUORESCENT": 3000, "INCANDESCENT": 2850}

# The plain part of the far wall (percent of height, of width): stereo finds nothing to match there without
# the dot projector's pattern. The flood light brightens what the mono sensors see by up to FLOOD_GAIN.
TEXTURELESS_WALL = (slice(5, 35), slice(70, 95))
FLOOD_GAIN = 0.6

# BT.601 full-range YCbCr of 75% colour bars: white, yellow, cyan, green, magenta, red, blue.
BARS = np.array([[180, 128, 128], [168, 44, 136], [145, 147, 44], [133, 63, 52],
                 [63, 193, 204], [51, 109, 212], [28, 212, 120]], dtype=np.uint8)


def _grid(width: int, height: int):
    return np.linspace(0, 1, width, dtype=np.float32)[None, :], np.linspace(0, 1, height, dtype=np.float32)[:, None]


@lru_cache(maxsize=16)
def color_scene(width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Y at full size and U, V at half size (I420) of the test scene."""
    x, y = _grid(width, height)
    luma = np.broadcast_to(60 + 100 * y, (height, width)).astype(np.uint8)
    bars_h = int(height * 0.4)
    bar = np.minimum((x[0, :] * len(BARS)).astype(int), len(BARS) - 1)
    luma[:bars_h] = BARS[bar, 0]
    # Siemens star: fine radial detail, as a focus target would have.
    cx, cy, r = 0.5 * width, 0.7 * height, 0.25 * height
    px, py = np.meshgrid(np.arange(width, dtype=np.float32) - cx, np.arange(height, dtype=np.float32) - cy)
    star = (px * px + py * py) < r * r
    luma[star] = np.where(np.sin(np.arctan2(py, px) * 36)[star] > 0, 230, 25)
    ramp_top = int(height * 0.92)
    luma[ramp_top:] = (16 + 219 * x[0, :]).astype(np.uint8)
    cw, ch = (width + 1) // 2, (height + 1) // 2
    u = np.full((ch, cw), 128, np.uint8)
    v = np.full((ch, cw), 128, np.uint8)
    cbar = bar[::2][:cw]
    u[:bars_h // 2] = BARS[cbar, 1]
    v[:bars_h // 2] = BARS[cbar, 2]
    return luma, u, v


# The simulated lens: a pinhole of this horizontal field of view, centred, without distortion, at every size
# (a smaller mode of a sensor is its frame scaled, or cut at the centre where the shape differs). The
# simulator's calibration (actors/simulated/calibration.py) says the same, so a client can measure the scene.
HFOV_DEGREES = 72.0


def intrinsics(width: int, height: int) -> tuple[float, float, float]:
    """Focal length in pixels and the principal point x, y of a frame of this size."""
    return width / (2 * math.tan(math.radians(HFOV_DEGREES) / 2)), width / 2, height / 2


# The depth scene in millimetres, in the frame of the depth stream's view (x right, y down, z forward): the
# camera CAMERA_HEIGHT above a floor that runs to a wall at WALL; a ball (its front a disc facing the camera)
# and the front of a box standing on the floor.
CAMERA_HEIGHT, WALL = 400.0, 6000.0
BALL = (-200.0, 0.0, 900.0, 130.0)                 # centre x, y, z and radius
BOX = (380.0, -340.0, 1120.0, CAMERA_HEIGHT, 2200.0)  # left, top, right, bottom and z


def _project(width: int, height: int, x: float, y: float, z: float) -> tuple[float, float]:
    f, cx, cy = intrinsics(width, height)
    return cx + f * x / z, cy + f * y / z


@lru_cache(maxsize=8)
def depth_scene(width: int, height: int, dots: bool = False) -> np.ndarray:
    """Depth in millimetres (z) as the lens sees the scene: floor, wall, ball and box; no measurement at the
    left edge, nor on the wall's plain, textureless upper right unless the IR dot projector gives it a pattern
    (`dots`)."""
    f, cx, cy = intrinsics(width, height)
    u = np.arange(width, dtype=np.float32)[None, :]
    v = np.arange(height, dtype=np.float32)[:, None]
    below = np.maximum(v - cy, 1e-3)                      # the floor meets a ray below the horizon at y = height
    floor = f * CAMERA_HEIGHT / below
    depth = np.broadcast_to(np.where(floor < WALL, floor, WALL), (height, width)).astype(np.uint16)
    x0, y0 = _project(width, height, *BOX[:2], BOX[4])
    x1, y1 = _project(width, height, *BOX[2:4], BOX[4])
    depth[(v >= y0) & (v < y1) & (u >= x0) & (u < x1)] = BOX[4]
    bx, by = _project(width, height, *BALL[:3])
    radius = f * BALL[3] / BALL[2]
    depth[(u - bx) ** 2 + (v - by) ** 2 < radius ** 2] = BALL[2]
    depth[:, : max(1, width // 16)] = 0       # the band stereo cannot match
    if not dots:
        depth[TEXTURELESS_WALL[0].start * height // 100:TEXTURELESS_WALL[0].stop * height // 100,
              TEXTURELESS_WALL[1].start * width // 100:TEXTURELESS_WALL[1].stop * width // 100] = 0
    return depth


def objects(depth: bool, width: int, height: int) -> list[tuple[str, tuple[float, float, float, float]]]:
    """What the scenes show, as a detector would report it: (name, [xmin, ymin, xmax, ymax] as fractions of the
    frame). The card's Siemens star is a circle of 0.25 frame heights at (0.5, 0.7); the depth scene's ball
    and box are where the lens puts them."""
    if depth:
        bx, by = _project(width, height, *BALL[:3])
        r = intrinsics(width, height)[0] * BALL[3] / BALL[2]
        (x0, y0), (x1, y1) = _project(width, height, *BOX[:2], BOX[4]), _project(width, height, *BOX[2:4], BOX[4])
        return [("ball", ((bx - r) / width, (by - r) / height, (bx + r) / width, (by + r) / height)),
                ("box", (x0 / width, y0 / height, x1 / width, y1 / height))]
    r = 0.25 * height / width
    return [("bars", (0.0, 0.0, 1.0, 0.4)), ("star", (0.5 - r, 0.45, 0.5 + r, 0.95))]


def auto_exposure(control: dict) -> tuple[int, int]:
    """Exposure (µs) and ISO the simulated auto exposure settles on for this control."""
    target = NEUTRAL_EXPOSURE * 2 ** (control["auto_exposure_compensation"] / 3)
    exposure = int(max(1, min(control["auto_exposure_limit"], 33000, target / 400)))
    iso = int(max(100, min(5000, round(target / exposure))))
    return exposure, iso


def color_temperature(control: dict) -> int:
    mode = control["auto_whitebalance_mode"]
    return control["manual_whitebalance"] if mode == "OFF" else WB_PRESETS[mode]


def luts(control: dict, exposure: int, iso: int, temperature: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lookup tables for Y, U and V that apply exposure, ISO, contrast, brightness, saturation and white balance."""
    levels = np.arange(256, dtype=np.float32)
    gain = exposure * iso / NEUTRAL_EXPOSURE
    contrast = 1 + control["contrast"] * 0.08
    y = (levels * gain - 128) * contrast + 128 + control["brightness"] * 6
    saturation = 1 + control["saturation"] * 0.1
    # Assuming a warmer light than the scene's makes the picture bluer, a colder one redder.
    shift = float(np.clip((SCENE_TEMPERATURE - temperature) / SCENE_TEMPERATURE * 60, -60, 60))
    u = (levels - 128) * saturation + 128 + shift
    v = (levels - 128) * saturation + 128 - shift
    return tuple(np.clip(t, 0, 255).astype(np.uint8) for t in (y, u, v))


# Focus: the test card stands where the lens is sharp at this position (0 far .. 1 near); a lens elsewhere
# blurs it in proportion, up to BLUR_AT_FULL_DEFOCUS of the frame's width.
IN_FOCUS_LENS_POSITION = 0.35
BLUR_AT_FULL_DEFOCUS = 0.012
# Sensor noise: its standard deviation in 8-bit levels at ISO 400, growing in proportion to ISO; each step of
# denoise divides it.
NOISE_AT_ISO_400, CHROMA_NOISE_AT_ISO_400 = 1.5, 0.8


class AutoAlgorithms:
    """A sensor's auto exposure and auto white balance: what they settle on, and where the locks hold them
    (a lock freezes the value the algorithm had, whatever the controls say next)."""

    def __init__(self):
        self._exposure: tuple[int, int] | None = None
        self._temperature: int | None = None

    def exposure(self, control: dict) -> tuple[int, int]:
        if not control["auto_exposure_enable"]:
            return control["exposure_time"], control["sensitivity_iso"]
        if not (control["auto_exposure_lock"] and self._exposure):
            self._exposure = auto_exposure(control)
        return self._exposure

    @staticmethod
    def lens_position(control: dict) -> float | None:
        """Where the lens is: autofocus finds the card; none on a fixed-focus sensor."""
        focus = control.get("focus")
        if not focus:
            return None
        return focus["lens_position"] if focus["auto_focus_mode"] == "OFF" else IN_FOCUS_LENS_POSITION

    def temperature(self, control: dict) -> int:
        if control["auto_whitebalance_mode"] == "OFF":
            return control["manual_whitebalance"]
        if not (control["auto_whitebalance_lock"] and self._temperature):
            self._temperature = color_temperature(control)
        return self._temperature


def blur_radius(control: dict, width: int) -> int:
    """Pixels of defocus blur: none while autofocus runs (it finds the card) or on a fixed-focus sensor."""
    focus = control.get("focus")
    if not focus or focus["auto_focus_mode"] != "OFF":
        return 0
    return round(abs(focus["lens_position"] - IN_FOCUS_LENS_POSITION) * BLUR_AT_FULL_DEFOCUS * width)


def _box_blur(plane: np.ndarray, radius: int) -> np.ndarray:
    """A separable box blur of (2 radius + 1) pixels, edges repeated."""
    out = plane.astype(np.float32)
    for axis in (0, 1):
        padded = np.pad(out, [(radius + 1, radius) if a == axis else (0, 0) for a in (0, 1)], mode="edge")
        total = np.cumsum(padded, axis=axis, dtype=np.float32)
        size = 2 * radius + 1
        out = (np.take(total, np.arange(size, total.shape[axis]), axis=axis)
               - np.take(total, np.arange(0, total.shape[axis] - size), axis=axis)) / size
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


@lru_cache(maxsize=8)
def noise_pattern(width: int, height: int) -> np.ndarray:
    """Fixed sensor noise of a frame size, in units of its standard deviation / 32 (int8, seeded)."""
    return np.clip(np.random.default_rng(width * 10007 + height).standard_normal((height, width)) * 32,
                   -127, 127).astype(np.int8)


def _noisy(plane: np.ndarray, pattern: np.ndarray, sigma: float) -> np.ndarray:
    if sigma < 0.05:
        return plane
    return np.clip(plane + pattern * np.float32(sigma / 32), 0, 255).astype(np.uint8)


def picture(control: dict, exposure: int, iso: int, temperature: int, size: tuple[int, int],
            window: tuple[int, int, int, int] | None = None, color: bool = True,
            flood: float = 0.0) -> tuple[np.ndarray, ...]:
    """The test card as a sensor of this size sees it with these controls: Y (and U, V at half size for
    colour) of the window x, y, w, h: exposure, ISO, contrast, brightness, saturation and white balance
    through lookup tables, then focus blur, then sensor noise that grows with ISO and yields to denoise. The
    IR flood light (0..1, mono sensors) adds to the light the scene gives."""
    width, height = size
    x, y, w, h = window or (0, 0, width, height)
    ly, lu, lv = luts(control, round(exposure * (1 + FLOOD_GAIN * flood)), iso, temperature)
    sy, su, sv = color_scene(width, height)
    planes = [np.take(ly, sy[y:y + h, x:x + w])]
    if color:
        cw, ch = (w + 1) // 2, (h + 1) // 2
        planes += [np.take(lu, su[y // 2:y // 2 + ch, x // 2:x // 2 + cw]),
                   np.take(lv, sv[y // 2:y // 2 + ch, x // 2:x // 2 + cw])]
    radius = blur_radius(control, width)
    if radius:
        planes = [_box_blur(planes[0], radius)] + [_box_blur(p, max(1, radius // 2)) for p in planes[1:]]
    gain = iso / 400
    planes[0] = _noisy(planes[0], noise_pattern(width, height)[y:y + h, x:x + w],
                       NOISE_AT_ISO_400 * gain / (1 + control["luma_denoise"]))
    if color:
        chroma = noise_pattern(width // 2 + 1, height // 2 + 1)
        sigma = CHROMA_NOISE_AT_ISO_400 * gain / (1 + control["chroma_denoise"])
        planes[1:] = [_noisy(p, chroma[y // 2 + i:y // 2 + i + p.shape[0], x // 2:x // 2 + p.shape[1]], sigma)
                      for i, p in enumerate(planes[1:])]
    return tuple(planes)
