"""Live video: one feed per stream and set of parameters, encoding each frame once for all of its viewers.

A feed runs only while somebody watches. A thread of its own takes frames from the stream's output, encodes
them and hands each encoded frame to the event loop once, which offers it to every viewer. MJPEG viewers keep only the latest JPEG;
H.264 viewers (fragmented MP4 over WebSocket) queue a second of fragments at most, and one that falls further
behind drops them and starts again at the next keyframe: a slow viewer never slows another. While the camera
is away, viewers get a "no signal" picture about once a second; when the stream is deactivated, video ends.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import simplejpeg
from PIL import Image, ImageDraw, ImageFont

from .actor import CONNECTED, CameraActor
from .backend import JPEG, RAW, FrameSource
from .encode import check_planes, depth_to_gray
from .fanout import WAITING, FanOut, Latest, Waiting
from .fmp4 import Fmp4Stream, Fragment, H264Encoder
from .frames import DEPTH16, GRAY8, EncodedPacket, Frame

log = logging.getLogger(__name__)

NO_SIGNAL_PERIOD = 1.0      # seconds between "no signal" pictures
_CLOCK_SLACK = 1e-4         # a frame this close to its due time is due (frame times are sums of floats)
FRAME_TIMEOUT = 2.0         # seconds a feed waits for a frame before it shows "no signal"
RESTART_POLL = 0.02         # seconds between looks for the first frame of a stream that restarted


@dataclass(frozen=True)
class VideoParams:
    fps: float | None = None        # at most this many frames a second; None: the stream's rate
    quality: int = 80
    width: int | None = None        # scale down to this width (height follows); None: full size
    codec: str = "mjpeg"            # or "h264": fragmented MP4, the stream's own size and rate

    def describe(self) -> str:
        """The parameters as a viewer is told them (the X-Video-Params header)."""
        fps = "stream" if self.fps is None else f"{self.fps:g}"
        return f"fps={fps}; quality={self.quality}; width={self.width or 'full'}"


DEFAULT_PARAMS = VideoParams()       # what the camera's own MJPEG encoder makes


def _scale(plane: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.asarray(Image.fromarray(plane).resize((width, height), Image.Resampling.BILINEAR))


def encode_video(frame: Frame, params: VideoParams) -> EncodedPacket:
    """One video frame as JPEG, scaled to the requested width (worker thread), with the frame's number and time."""
    check_planes(frame)
    planes = (depth_to_gray(frame.planes[0]),) if frame.format == DEPTH16 else frame.planes
    if params.width and params.width < frame.width:
        width = params.width & ~1
        height = max(2, round(frame.height * width / frame.width) & ~1)
        planes = (_scale(planes[0], width, height),) + tuple(_scale(p, width // 2, height // 2) for p in planes[1:])
    y, *uv = planes
    jpeg = simplejpeg.encode_jpeg_yuv_planes(y, *(uv or (None, None)), quality=params.quality)
    return EncodedPacket(jpeg, True, frame.timestamp, frame.sequence, y.shape[1], y.shape[0])


@lru_cache(maxsize=16)
def _no_signal_background(width: int, height: int) -> Image.Image:
    image = Image.new("L", (width, height), 40)
    draw = ImageDraw.Draw(image)
    for x in range(0, width, max(8, width // 16)):          # a faint grid, so the frame's size shows
        draw.line([(x, 0), (x, height)], fill=55)
    return image


def no_signal(width: int, height: int, caption: str) -> Frame:
    """The "no signal" picture as a grey frame of the stream's size, for either encoder: rendered once a second
    per size and caption, however many feeds show it."""
    return _no_signal(width, height, caption, time.strftime('%H:%M:%S'))


@lru_cache(maxsize=16)
def _no_signal(width: int, height: int, caption: str, clock: str) -> Frame:
    image = _no_signal_background(width, height).copy()
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=max(12, height // 12))
    small = ImageFont.load_default(size=max(10, height // 30))
    draw.text((width / 2, height / 2), "NO SIGNAL", fill=230, font=font, anchor="mm")
    draw.text((width / 2, height / 2 + height // 10), f"{caption}  {clock}", fill=170, font=small, anchor="mm")
    plane = np.ascontiguousarray(np.asarray(image))
    plane.flags.writeable = False           # shared by every feed that shows it
    return Frame(GRAY8, (plane,), time.monotonic(), -1)


# Why a feed ended, as its viewers learn it.
DEACTIVATED, SHUTDOWN, FAILED = "deactivated", "shutdown", "failed"


class MjpegViewer(Latest[EncodedPacket]):
    """One MJPEG client's place at a feed: the latest JPEG (with its frame's number and time), or the end."""

    def __init__(self):
        super().__init__(reason=SHUTDOWN)


class Fmp4Viewer(Latest[bytes]):
    """One H.264 client's place at a feed (fragmented MP4): the initialisation segment, then fragments from a
    keyframe on. At most MAX_PENDING wait; a client further behind drops them and goes on from the next
    keyframe."""
    MAX_PENDING = 30

    def __init__(self):
        super().__init__(reason=SHUTDOWN)
        self._pending: deque[bytes] = deque()
        self._init: bytes | None = None      # the initialisation segment in force
        self._need_init = False              # it has not reached the queue since it changed
        self._need_key = True
        self.dropped = 0

    def offer(self, item: tuple[bytes | None, list[Fragment]]) -> None:
        init, fragments = item
        if init is not None and init is not self._init:        # the first, or the stream changed size
            self._init, self._need_init, self._need_key = init, True, True
        for fragment in fragments:
            if self._need_key and not fragment.keyframe:
                continue
            if len(self._pending) >= self.MAX_PENDING:
                self._need_init = self._need_init or self._init in self._pending     # it was never sent
                self.dropped += len(self._pending)
                self._pending.clear()
                self._need_key = True
                if not fragment.keyframe:
                    continue
            if self._need_init:
                self._pending.append(self._init)
                self._need_init = False
            self._need_key = False
            self._pending.append(fragment.data)
        if self._pending:
            self._ready.set()

    async def next(self, timeout: float | None = None) -> bytes | Waiting | None:
        """The next message to send, None once the video has ended, or WAITING after `timeout`."""
        while not self._pending and not self._ended:
            try:
                async with asyncio.timeout(timeout):       # not wait_for, which can lose a cancel (Fleet._discover)
                    await self._ready.wait()
            except TimeoutError:
                return WAITING
            self._ready.clear()
        if self._ended:
            return None
        return self._pending.popleft()


@dataclass
class StreamStats:
    """What the video of one stream did, over the service's life (for /metrics)."""
    frames: int = 0            # the stream's frames taken by its feeds (each frame once)
    dropped: int = 0           # frames skipped for a lower requested rate
    encodes: int = 0           # JPEGs made (live and "no signal")
    _sequence: int = -1

    def took_frame(self, sequence: int) -> None:
        """A feed took frame `sequence`; the feeds of one stream read the same frames, each counts once."""
        if self._sequence - 1000 < sequence <= self._sequence:      # seen (a restart starts far below)
            return
        self.frames, self._sequence = self.frames + 1, sequence


class VideoFeed:
    """One stream at one set of parameters, for all of its viewers. A thread of its own reads the stream's
    output, encodes (or packs the camera's encoding) and hands each result to the loop once; it runs while
    anybody watches, and when the last viewer leaves it stops and releases its encoder and muxer itself, so a
    session leaves nothing behind."""

    def __init__(self, hub: "VideoHub", actor: CameraActor, stream: str, params: VideoParams,
                 loop: asyncio.AbstractEventLoop):
        self.hub, self.actor, self.stream, self.params = hub, actor, stream, params
        self._viewers: FanOut = FanOut(loop)    # each frame handed to the loop once, for all of them
        self.viewers = self._viewers.consumers
        self.stats = hub.stats_of(actor.mxid, stream)
        self._loop = loop
        self._size = (640, 360)       # of the latest frame, for the "no signal" picture
        fps = actor.state.streams[stream].config["fps"]
        self._fmp4 = Fmp4Stream(fps) if params.codec == "h264" else None
        self._encoder: H264Encoder | None = None
        self._keyframe = threading.Event()     # a viewer joined: the next frame is a keyframe, so it starts at once
        self._needs: str | None = None         # what the camera sends for it on demand (Device.want)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"video-{actor.mxid}-{stream}", daemon=True)
        self.thread.start()

    def want_keyframe(self) -> None:
        self._keyframe.set()

    def stop(self) -> None:
        """Not blocking: the thread ends after the read in progress (a frame interval, FRAME_TIMEOUT at most)."""
        self._stop.set()

    # The loop's side: hand-offs from the thread ---------------------------------------------------
    def _ended(self, reason: str) -> None:
        for viewer in self.viewers:
            viewer.end(reason)
        self.hub.forget(self)

    def _hand(self, callback, *args) -> bool:
        """Run `callback` on the loop; False once the loop is gone (the service stopped)."""
        try:
            self._loop.call_soon_threadsafe(callback, *args)
            return True
        except RuntimeError:
            return False

    # The thread ----------------------------------------------------------------------------------
    def _encode(self, frame: Frame):
        """A raw frame (or the "no signal" picture) encoded on the gateway, in the viewers' format."""
        self.stats.encodes += 1
        if self._fmp4 is None:
            return encode_video(frame, self.params)
        size, fps = (frame.width, frame.height), self.actor.state.streams[self.stream].config["fps"]
        if self._encoder is None or (self._encoder.size, self._encoder.fps) != (size, fps):
            # A config change: a new encoder, whose group of pictures is a second at the new rate.
            self._fmp4.fps, self._encoder = fps, H264Encoder(*size, fps)
        keyframe = self._keyframe.is_set()
        self._keyframe.clear()
        fragments = [fragment for unit, key in self._encoder.encode(frame, keyframe)
                     for fragment in self._fmp4.add(unit, key, frame.timestamp, size)]
        return self._fmp4.init, fragments

    def _need(self, what: str | None) -> None:
        """Raw frames cross the camera's link only while a feed encodes them on the gateway, and the camera's
        JPEGs while a feed passes them on."""
        if what != self._needs:
            if self._needs is not None:
                self._hand(self.actor.want, self.stream, self._needs, self, False)
            if what is not None:
                self._hand(self.actor.want, self.stream, what, self, True)
            self._needs = what

    def _show_no_signal(self) -> None:
        self._viewers.publish(self._encode(no_signal(*self._size, f"{self.actor.mxid} {self.stream}")))
        self._stop.wait(NO_SIGNAL_PERIOD)

    def _run(self) -> None:
        reason = SHUTDOWN
        try:
            reason = self._pump()
        except Exception:  # noqa: BLE001 (a broken feed ends its viewers instead of leaving them hanging)
            log.exception("video of %s %s failed", self.actor.mxid, self.stream)
            reason = FAILED
        finally:
            # Released here, by the thread that used them, the moment the feed ends.
            self._need(None)
            self._encoder = None
            if self._fmp4 is not None:
                self._fmp4.close()
            self._hand(self._ended, reason)

    def _source_of(self, output: FrameSource) -> "_Source":
        if output.jpeg and self.params == DEFAULT_PARAMS:
            return _CameraJpeg(self, output)
        if output.h264 and self._fmp4 is not None:
            return _CameraH264(self, output)
        return _RawFrames(self, output)

    def _pump(self) -> str:
        """From the stream's source to the viewers, until stopped (SHUTDOWN) or the stream is deactivated."""
        after, last_frame, output, source = -1, time.monotonic(), None, None
        while not self._stop.is_set():
            if not self.actor.state.streams[self.stream].active:
                return DEACTIVATED
            if self.actor.status != CONNECTED:
                self._show_no_signal()
                after, last_frame = -1, time.monotonic()
                continue
            if (current := self.actor.output(self.stream)) is not output:     # a restarted stream counts anew
                after, output = -1, current
                source = self._source_of(output) if output is not None else None
                if source is not None:
                    self._need(source.needs)
            got = source.take(after, FRAME_TIMEOUT) if source is not None else None
            if got is None:
                # A stream that restarts (a config change, a rebuild) is not a lost camera: viewers keep the
                # last frame until the new stream's first, and see "no signal" only after FRAME_TIMEOUT
                # without a frame.
                if time.monotonic() - last_frame < FRAME_TIMEOUT:
                    self._stop.wait(RESTART_POLL)
                elif self.actor.state.streams[self.stream].active:
                    self._show_no_signal()
                after = -1
                continue
            (after, item), last_frame = got, time.monotonic()
            if item is not None:
                self._viewers.publish(item)
        return SHUTDOWN


class _Source:
    """Where a feed's video comes from. `take(after, timeout)`: (position, the next item for the viewers, or
    None for a frame skipped) after position `after`; None when nothing came within `timeout`."""
    needs: str | None = RAW     # what of the camera's it reads that crosses the link only on demand (Device.want)

    def __init__(self, feed: VideoFeed, output: FrameSource):
        self.feed, self.output = feed, output

    @staticmethod
    def fresh(wait, after: int, timeout: float):
        """`wait(after, timeout)`'s (number, item with its timestamp); a new reader (`after` -1) skips what was
        taken before it asked: the frame a slot held since the viewer before left, or that waited at a gate."""
        if after >= 0:
            return wait(after, timeout)
        asked = time.monotonic()
        deadline = asked + timeout
        while (got := wait(after, max(0.0, deadline - time.monotonic()))) is not None and got[1].timestamp < asked:
            after = got[0]
        return got


class _CameraJpeg(_Source):
    """The camera's own MJPEG at the video's default quality: passed on, no encode on the gateway."""
    needs = JPEG

    def take(self, after: int, timeout: float):
        got = self.fresh(self.output.jpeg_after, after, timeout)
        if got is None:
            return None
        after, jpeg = got
        self.feed.stats.took_frame(jpeg.sequence)
        return after, jpeg


class _CameraH264(_Source):
    """The camera's own H.264: every packet in order, packed into fragmented MP4, no encode on the gateway."""
    needs = None                # it always crosses: frame counts come from it

    def take(self, after: int, timeout: float):
        packets = self.output.encoded_after(after, timeout)
        if not packets:
            return None
        feed, fragments, previous = self.feed, [], after
        for n, packet in packets:       # a packet that does not follow its forerunner: a gap
            fragments += feed._fmp4.add(packet.data, packet.keyframe, packet.timestamp, (packet.width, packet.height),
                                        previous >= 0 and n == previous + 1)
            previous = n
            feed.stats.took_frame(packet.sequence)
        feed._size = (packets[-1][1].width, packets[-1][1].height)
        return packets[-1][0], (feed._fmp4.init, fragments)


class _RawFrames(_Source):
    """Raw frames encoded on the gateway (another quality, width or rate, depth, or a stream the camera does
    not encode), at most at the rate asked for."""

    def __init__(self, feed: VideoFeed, output: FrameSource):
        super().__init__(feed, output)
        self._due = 0.0

    def _wait(self, after: int, timeout: float):
        frame = self.output.wait_after(after, timeout)
        return (frame.sequence, frame) if frame is not None else None

    def take(self, after: int, timeout: float):
        got = self.fresh(self._wait, after, timeout)
        if got is None:
            return None
        frame = got[1]
        feed = self.feed
        feed.stats.took_frame(frame.sequence)
        if feed.params.fps:          # a lower rate: skip frames until the next one is due, by the camera's clock
            now, interval = frame.timestamp, 1 / feed.params.fps
            if self._due - interval <= now + _CLOCK_SLACK < self._due:     # (a clock that went back starts anew)
                feed.stats.dropped += 1
                return frame.sequence, None
            # The average rate is kept (the next frame is due an interval after this one was), but after frames
            # came late the next is at most one of the stream's frames early: never a burst.
            frame_period = 1 / feed.actor.state.streams[feed.stream].config["fps"]
            self._due = max(self._due + interval, now + interval - frame_period) \
                if self._due - interval <= now + _CLOCK_SLACK else now + interval
        feed._size = (frame.width, frame.height)
        return frame.sequence, feed._encode(frame)


def _distance(a: VideoParams, b: VideoParams) -> float:
    """How far apart two sets of parameters are, each over its range (None: the stream's own)."""
    return (abs((a.width or 8000) - (b.width or 8000)) / 8000 + abs((a.fps or 120) - (b.fps or 120)) / 120
            + abs(a.quality - b.quality) / 100)


class VideoHub:
    """Every running feed, keyed by camera, stream and parameters; at most `max_feeds` a stream, since each
    reads and encodes on its own: a viewer asking for one more combination joins the nearest feed."""

    def __init__(self, max_feeds: int = 4):
        self.max_feeds = max_feeds
        self.feeds: dict[tuple, VideoFeed] = {}
        self.stats: dict[tuple[str, str], StreamStats] = {}
        self._stopped: list[VideoFeed] = []      # feeds told to stop whose threads may still be finishing

    def stats_of(self, mxid: str, stream: str) -> StreamStats:
        return self.stats.setdefault((mxid, stream), StreamStats())

    def viewers_of(self, mxid: str, stream: str) -> int:
        return sum(len(f.viewers) for (m, s, _), f in self.feeds.items() if (m, s) == (mxid, stream))

    def watch(self, actor: CameraActor, stream: str, params: VideoParams) -> tuple[VideoFeed, Latest]:
        key = (actor.mxid, stream, params)
        feed = self.feeds.get(key)
        if feed is None:
            running = [f for (m, s, p), f in self.feeds.items()
                       if (m, s) == (actor.mxid, stream) and p.codec == params.codec]
            if len(running) >= self.max_feeds:
                feed = min(running, key=lambda f: _distance(f.params, params))
            else:
                feed = self.feeds[key] = VideoFeed(self, actor, stream, params, asyncio.get_running_loop())
        viewer = Fmp4Viewer() if params.codec == "h264" else MjpegViewer()
        feed.viewers.add(viewer)
        if params.codec == "h264":
            feed.want_keyframe()
        return feed, viewer

    def leave(self, feed: VideoFeed, viewer: Latest) -> None:
        feed.viewers.discard(viewer)
        if not feed.viewers:
            feed.stop()                   # nobody watches: stop reading and encoding at once
            self.forget(feed)
            self._stopped = [f for f in self._stopped if f.thread.is_alive()] + [feed]

    def forget(self, feed: VideoFeed) -> None:
        key = (feed.actor.mxid, feed.stream, feed.params)
        if self.feeds.get(key) is feed:
            del self.feeds[key]

    async def close(self) -> None:
        """End every video response and wait for the feeds' threads (on shutdown)."""
        feeds = list(self.feeds.values()) + self._stopped
        for feed in feeds:
            feed.stop()
        for feed in feeds:
            await asyncio.to_thread(feed.thread.join, FRAME_TIMEOUT + NO_SIGNAL_PERIOD)
        for feed in feeds:
            feed._ended(SHUTDOWN)
