"""Turning frames into image files: JPEG straight from YUV planes, PNG through Pillow."""
from __future__ import annotations

import asyncio
import io
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import simplejpeg
from PIL import Image

from .frames import DEPTH16, GRAY8, YUV420, Frame

JPEG_QUALITY = 85
_ENCODERS = ThreadPoolExecutor(2, thread_name_prefix="still-encode")    # stills and previews of every camera
# Depth pictures map this range (millimetres) linearly onto 255 (near) .. 1 (far); 0 means no measurement.
DEPTH_NEAR_MM, DEPTH_FAR_MM = 200, 10000


def depth_to_gray(depth: np.ndarray) -> np.ndarray:
    """8-bit picture of a depth map where nearer is lighter and unknown depth is black."""
    d = np.clip(depth, DEPTH_NEAR_MM, DEPTH_FAR_MM).astype(np.float32)
    gray = (255 - (d - DEPTH_NEAR_MM) * (254 / (DEPTH_FAR_MM - DEPTH_NEAR_MM))).astype(np.uint8)
    gray[depth == 0] = 0
    return gray


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)   # speed over size: stills are taken live
    return out.getvalue()


def _yuv_to_image(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> Image.Image:
    h, w = y.shape
    up = lambda c: np.repeat(np.repeat(c, 2, axis=0), 2, axis=1)[:h, :w]  # noqa: E731 (4:2:0 to 4:4:4)
    return Image.fromarray(np.dstack((y, up(u), up(v))), "YCbCr").convert("RGB")


def check_planes(frame: Frame) -> None:
    """ValueError unless the planes are what the C encoders read: 8-bit, C-contiguous, and for YUV 4:2:0 an
    even-sized Y plane with chroma planes of half its size (libjpeg reads whole 2x2 blocks, and past an odd
    plane's end)."""
    planes = frame.planes
    if frame.format == YUV420:
        (h, w), chroma = planes[0].shape, ((planes[0].shape[0] + 1) // 2, (planes[0].shape[1] + 1) // 2)
        if h % 2 or w % 2 or any(p.shape != chroma for p in planes[1:]):
            raise ValueError(f"a YUV 4:2:0 frame must be even-sized with half-size chroma; got "
                             f"{[p.shape for p in planes]}")
    if frame.format in (YUV420, GRAY8) and any(p.dtype != np.uint8 or not p.flags.c_contiguous for p in planes):
        raise ValueError("frame planes must be contiguous 8-bit arrays")


def encode(frame: Frame, fmt: str, depth_mm: bool = False, quality: int = JPEG_QUALITY) -> bytes:
    """The frame as a `fmt` file. Depth is an 8-bit picture, or with `depth_mm` a 16-bit PNG in millimetres."""
    check_planes(frame)
    if frame.format == DEPTH16:
        if depth_mm:
            return _png(Image.fromarray(frame.planes[0].astype(np.uint16)))   # mode I;16
        gray = depth_to_gray(frame.planes[0])
    elif frame.format == GRAY8:
        gray = frame.planes[0]
    elif frame.format == YUV420:
        y, u, v = frame.planes
        if fmt == "jpeg":
            return simplejpeg.encode_jpeg_yuv_planes(y, u, v, quality=quality)
        return _png(_yuv_to_image(y, u, v))
    else:
        raise ValueError(f"unknown frame format {frame.format}")
    if fmt == "jpeg":
        return simplejpeg.encode_jpeg_yuv_planes(np.ascontiguousarray(gray), None, None, quality=quality)
    return _png(Image.fromarray(gray, "L"))


async def encode_off_loop(frame: Frame, fmt: str, depth_mm: bool = False) -> bytes:
    """encode() on the encoder threads that the stills and previews of every camera share, first come first
    served: not the loop's time, nor any camera's device time."""
    return await asyncio.get_running_loop().run_in_executor(_ENCODERS, encode, frame, fmt, depth_mm)
