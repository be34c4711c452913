"""H.264 in fragmented MP4, as a MediaSource plays it: an initialisation segment (ftyp + moov), then one media
fragment (moof + mdat) per frame. PyAV does the work: libx264 encodes on the host when the camera does not,
and FFmpeg's MP4 muxer packs access units from either."""
from __future__ import annotations

import re
import struct
from collections import deque
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

from .encode import check_planes, depth_to_gray
from .frames import DEPTH16, Frame

TIME_BASE = Fraction(1, 90000)
# Constrained Baseline (no B-frames, so every fragment holds the frame just taken), a keyframe at least every
# second so a joining viewer starts within one, and libx264's fastest preset: the gateway's CPU is shared.
X264 = {"preset": "ultrafast", "tune": "zerolatency", "profile": "baseline", "forced-idr": "1"}
# delay_moov: the moov is written with the first fragment, its avcC taken from that keyframe's SPS and PPS, so
# the stream needs no codec context (one would open an encoder: threads and memory for nothing).
MOVFLAGS = "empty_moov+default_base_moof+frag_every_frame+delay_moov"
_START = re.compile(b"\x00\x00\x01")
SPS, PPS = 7, 8


@dataclass(frozen=True)
class Fragment:
    data: bytes
    keyframe: bool


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


def parameter_sets(access_unit: bytes) -> bytes:
    """The SPS and PPS of an Annex B access unit (a keyframe carries them), as Annex B extradata."""
    starts = [m.end() for m in _START.finditer(access_unit)]
    units = [access_unit[s:e - 3].rstrip(b"\x00") for s, e in zip(starts, starts[1:] + [len(access_unit) + 3])]
    return b"".join(b"\x00\x00\x00\x01" + u for u in units if u and u[0] & 0x1F in (SPS, PPS))


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


class _Muxer:
    """One run of fragmented MP4 for one set of SPS/PPS: access units in, init segment and fragments out."""

    def __init__(self, extradata: bytes, width: int, height: int, fps: float):
        self.extradata, self.size = extradata, (width, height)
        self.init: bytes | None = None
        self._sink = _Sink()
        self._container = av.open(self._sink, "w", format="mp4",
                                  options={"movflags": MOVFLAGS, "flush_packets": "1"})
        self._stream = self._container.add_mux_stream("h264", rate=Fraction(fps).limit_denominator(1000),
                                                      width=width, height=height)
        self._stream.time_base = TIME_BASE
        self._keys: deque[bool] = deque()       # of the packets muxed but not yet out as a fragment
        self._start: float | None = None
        self._last_pts = -1

    def mux(self, data: bytes, keyframe: bool, timestamp: float) -> list[Fragment]:
        """The fragments this access unit completes: the muxer writes a frame's fragment when the next one
        comes, so a viewer is one frame behind the camera."""
        if self._start is None:
            self._start = timestamp
        self._last_pts = max(self._last_pts + 1, round((timestamp - self._start) / TIME_BASE))
        packet = av.Packet(data)
        packet.pts = packet.dts = self._last_pts
        packet.time_base, packet.stream, packet.is_keyframe = TIME_BASE, self._stream, keyframe
        self._keys.append(keyframe)
        self._container.mux(packet)
        fragments, moof, init = [], None, []
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
        """Release FFmpeg's muxer now (the container and its stream refer to each other: left alone, only the
        garbage collector would free them)."""
        self._container.close()
        self._sink.take()


class Fmp4Stream:
    """A stream's H.264 access units (Annex B) as fragmented MP4, across whatever happens to the stream: a
    keyframe with other parameter sets (a new size, another encoder, a camera that restarted) starts a new
    initialisation segment; after a gap, units are dropped until the next keyframe."""

    def __init__(self, fps: float):
        self.fps = fps
        self._muxer: _Muxer | None = None
        self._need_key = True

    @property
    def init(self) -> bytes | None:
        return self._muxer.init if self._muxer is not None else None

    def add(self, data: bytes, keyframe: bool, timestamp: float, size: tuple[int, int],
            continuous: bool = True) -> list[Fragment]:
        if not continuous:
            self._need_key = True
        if keyframe:
            extradata = parameter_sets(data)
            if self._muxer is None or (extradata and extradata != self._muxer.extradata) or size != self._muxer.size:
                if not extradata:
                    return []                  # a keyframe that cannot start a run: wait for the next
                self.close()
                self._muxer = _Muxer(extradata, *size, self.fps)
            self._need_key = False
        elif self._need_key:
            return []
        return self._muxer.mux(data, keyframe, timestamp)

    def close(self) -> None:
        if self._muxer is not None:
            self._muxer.close()
            self._muxer = None


class H264Encoder:
    """Frames (YUV 4:2:0, 8-bit grey or depth) to H.264 access units with libx264, for streams the camera does
    not encode itself. Not thread safe: one encoder thread at a time, in frame order."""

    def __init__(self, width: int, height: int, fps: float, threads: int | None = None, qp: int | None = None):
        """`threads`: libx264's (it picks 1.5 per core unless told); `qp`: a constant quantiser instead of its
        constant quality (which spends more CPU refining a still picture frame after frame)."""
        self.size, self.fps = (width, height), fps
        self._codec = av.CodecContext.create("libx264", "w")
        self._codec.width, self._codec.height, self._codec.pix_fmt = width, height, "yuv420p"
        self._codec.time_base = TIME_BASE
        self._codec.framerate = Fraction(fps).limit_denominator(1000)
        self._codec.options = {**X264, "g": str(max(1, round(fps))), **({"threads": str(threads)} if threads else {}),
                               **({"qp": str(qp)} if qp is not None else {})}
        self._grey_chroma = np.full((height // 2, width // 2), 128, np.uint8)
        self._start: float | None = None
        self._last_pts = -1

    def encode(self, frame: Frame, keyframe: bool = False) -> list[tuple[bytes, bool]]:
        """(access unit, is keyframe) for this frame; `keyframe` makes it one (a viewer joined)."""
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
        return [(bytes(p), p.is_keyframe) for p in self._codec.encode(video)]
