"""H.264 in fragmented MP4, as a MediaSource plays it: an initialisation segment (ftyp + moov), then one media
fragment (moof + mdat) per frame. PyAV does the work: libx264 encodes, FFmpeg's MP4 muxer packs."""
from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

from .encode import check_planes, depth_to_gray
from .frames import DEPTH16, Frame

CODECS = 'avc1.42E01E'          # what a page asks MediaSource for: H.264 Constrained Baseline
TIME_BASE = Fraction(1, 90000)
# Constrained Baseline (no B-frames, so every fragment holds the frame just taken), a keyframe at least every
# second so a joining viewer starts within one, and libx264's fastest preset: the gateway's CPU is shared.
X264 = {"preset": "ultrafast", "tune": "zerolatency", "profile": "baseline", "forced-idr": "1"}
MOVFLAGS = "empty_moov+default_base_moof+frag_every_frame"


@dataclass(frozen=True)
class Fragment:
    data: bytes
    keyframe: bool


class _Sink:
    """Where the muxer writes: bytes are collected until taken."""

    def __init__(self):
        self.buffer = bytearray()

    def write(self, data) -> int:
        self.buffer += data
        return len(data)

    def take(self) -> bytes:
        data, self.buffer = bytes(self.buffer), bytearray()
        return data


def boxes(data: bytes) -> list[tuple[str, bytes]]:
    """The top-level MP4 boxes of `data` as (type, whole box); a box cut short ends the list."""
    out, at = [], 0
    while at + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, at)
        if size < 8 or at + size > len(data):
            break
        out.append((kind.decode("latin-1"), data[at:at + size]))
        at += size
    return out


class H264Writer:
    """One stream's video at one size: frames in (YUV 4:2:0 or 8-bit grey planes), fragments out. Not thread
    safe: one encoder thread at a time, in frame order."""

    def __init__(self, width: int, height: int, fps: float):
        self.size = (width, height)
        self.init: bytes | None = None        # known once the first frame is encoded
        self._sink = _Sink()
        self._container = av.open(self._sink, "w", format="mp4",
                                  options={"movflags": MOVFLAGS, "flush_packets": "1"})
        rate = Fraction(fps).limit_denominator(1000)
        self._stream = self._container.add_stream("libx264", rate=rate,
                                                  options={**X264, "g": str(max(1, round(fps)))})
        self._stream.width, self._stream.height, self._stream.pix_fmt = width, height, "yuv420p"
        self._stream.codec_context.time_base = TIME_BASE
        self._keys: deque[bool] = deque()       # of the packets muxed but not yet out as a fragment
        self._start: float | None = None
        self._last_pts = -1
        self._grey_chroma = np.full((height // 2, width // 2), 128, np.uint8)

    def encode(self, frame: Frame, keyframe: bool = False) -> list[Fragment]:
        """The fragments this frame completes: the muxer writes a frame's fragment when the next one comes,
        so a viewer is one frame behind the camera. `keyframe` makes this frame one (a viewer joined)."""
        check_planes(frame)
        planes = (depth_to_gray(frame.planes[0]),) if frame.format == DEPTH16 else frame.planes
        if len(planes) == 1:
            planes = (planes[0], self._grey_chroma, self._grey_chroma)
        video = av.VideoFrame.from_ndarray(np.concatenate([p.ravel() for p in planes]).reshape(-1, self.size[0]),
                                           format="yuv420p")
        if self._start is None:
            self._start = frame.timestamp
        self._last_pts = max(self._last_pts + 1, round((frame.timestamp - self._start) / TIME_BASE))
        video.pts, video.time_base = self._last_pts, TIME_BASE
        if keyframe:
            video.pict_type = av.video.frame.PictureType.I
        for packet in self._stream.encode(video):
            self._keys.append(packet.is_keyframe)
            self._container.mux(packet)
        return self._take()

    def _take(self) -> list[Fragment]:
        fragments, moof = [], None
        init = []
        for kind, box in boxes(self._sink.take()):
            if kind in ("ftyp", "moov"):
                init.append(box)
            elif kind == "moof":
                moof = box
            elif kind == "mdat" and moof is not None:
                fragments.append(Fragment(moof + box, self._keys.popleft()))
                moof = None
        if init:
            self.init = b"".join(init)
        return fragments

    def close(self) -> None:
        """Let the encoder go; what it still holds is dropped (nobody watches any more)."""
        try:
            self._container.close()
        except (av.FFmpegError, ValueError):
            pass
