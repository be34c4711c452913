"""Live video on one path: MJPEG (multipart/x-mixed-replace) for a plain GET (browsers, VLC, ffmpeg, OpenCV), and
H.264 in fragmented MP4 over a WebSocket for MediaSource players; and the operator page."""
from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web
from aiohttp_apigami import docs, match_info_schema, querystring_schema

from actors.actor import CONNECTED
from actors.errors import StreamInactive
from actors.fanout import WAITING
from actors.frames import EncodedPacket
from actors.video import DEACTIVATED, FAILED, SHUTDOWN, VideoHub, VideoParams
from schemas.params import StreamPathSchema, VideoQuerySchema

from . import openapi
from .errors import validation_error
from .inputs import load, stream, unavailable
from .logs import request_id_header

VIDEO = web.AppKey("video", VideoHub)
BOUNDARY = "frame"
PAGE = Path(__file__).parent / "static" / "index.html"
_video_query = VideoQuerySchema()
ALIVE_CHECK = 1.0        # s between looks at whether a viewer waiting for its next frame is still connected
# How a WebSocket video ends: the stream was deactivated; the service is stopping; the video failed.
CLOSE_CODES = {DEACTIVATED: (1000, "stream deactivated"), SHUTDOWN: (1001, "service shutting down"),
               FAILED: (1011, "video failed")}


@docs(tags=["streams"], summary="Watch Live Video",
      description="MJPEG over HTTP (multipart/x-mixed-replace; boundary=frame): an `<img>` tag, VLC, ffmpeg or "
                  "OpenCV show it. Each frame is encoded once per set of parameters however many clients "
                  "watch; a slow client skips frames. Each part carries X-Frame-Sequence and X-Frame-Timestamp, "
                  "as a still does; `fps` keeps parts 1/fps apart on average by the camera's clock, never closer than "
                  "that less one of the stream's frames. While the camera is disconnected the response goes on "
                  "with a 'no signal' picture about once a second; deactivating the stream ends it. Depth "
                  "streams show their 8-bit picture (nearer is lighter). A stream runs at most --max-feeds "
                  "sets of parameters at once; a viewer asking for another gets the nearest running one, and "
                  "the X-Video-Params header says which (fps, quality, width).\n\n"
                  "A WebSocket upgrade on the same path gets H.264 (Constrained Baseline, "
                  "`video/mp4; codecs=\"avc1.42E01E\"`) in fragmented MP4 for a MediaSource: the first binary "
                  "message is the initialisation segment (ftyp + moov), each further one a fragment (moof + "
                  "mdat) of one frame, starting at a keyframe. The video is the stream's own size and rate "
                  "(fps, quality and width apply to MJPEG only), encoded once for all viewers; a viewer more "
                  "than 30 fragments behind skips to the next keyframe. A change of size sends a new "
                  "initialisation segment. Close codes: 1000 the stream was deactivated, 1001 the service is "
                  "stopping, 1011 the video failed. An inactive stream refuses the upgrade with the 409 error.",
      responses={200: {"description": "An endless multipart stream of JPEG images",
                       "content": {f"multipart/x-mixed-replace; boundary={BOUNDARY}":
                                   {"schema": {"type": "string", "format": "binary"}}}},
                 **openapi.errors(*openapi.STREAM, "stream_inactive", "camera_shut_down", "camera_unavailable")})
@match_info_schema(StreamPathSchema)
@querystring_schema(VideoQuerySchema)
async def video(request: web.Request) -> web.StreamResponse:
    actor, name = stream(request)
    query = load(_video_query, dict(request.query), what="query")
    state = actor.state.streams[name]
    if not state.active:
        raise StreamInactive(f"{name} is not active; activate it first")
    if actor.status != CONNECTED:
        raise unavailable(actor)
    spec = actor.specs[name]
    full_width = state.config.get("video_size", spec.size_of(state.config["resolution"]))[0]
    if query.get("width", 0) > full_width:
        raise validation_error({"width": [f"{name} is {full_width} pixels wide; ask for at most that."]})
    if web.WebSocketResponse().can_prepare(request).ok:
        return await _websocket(request, actor, name)
    fps = query.get("fps")
    params = VideoParams(fps=fps if fps is not None and fps < state.config["fps"] else None,
                         quality=query["quality"], width=query.get("width"))
    feed, viewer = request.app[VIDEO].watch(actor, name, params)
    response = web.StreamResponse(headers={**request_id_header(),
        "Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}", "X-Video-Params": feed.params.describe(),
        "Cache-Control": "no-store, no-cache, must-revalidate", "Pragma": "no-cache"})
    try:
        await response.prepare(request)
        left = query.get("frames", -1)
        while left != 0 and (jpeg := await viewer.next(ALIVE_CHECK)) is not None:
            if jpeg is WAITING:           # a client that hung up is noticed whatever rate it asked for
                if request.transport is None or request.transport.is_closing():
                    break
                continue
            left -= 1
            await response.write(_part_headers(jpeg))
            await response.write(jpeg.data)
            await response.write(b"\r\n")
        await response.write(f"--{BOUNDARY}--\r\n".encode())
        await response.write_eof()
    except ConnectionError:
        pass                           # the client went away; everything it held is let go below
    finally:
        request.app[VIDEO].leave(feed, viewer)
    return response


def _part_headers(jpeg: EncodedPacket) -> bytes:
    """A part's headers: its frame's number and time as a still's (none on the "no signal" picture)."""
    frame = (f"X-Frame-Sequence: {jpeg.sequence}\r\nX-Frame-Timestamp: {jpeg.timestamp:.6f}\r\n"
             if jpeg.sequence >= 0 else "")
    return f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg.data)}\r\n{frame}\r\n".encode()


async def _websocket(request: web.Request, actor, name: str) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(compress=False, max_msg_size=4096)     # nothing is expected from the client
    ws.headers.update(request_id_header())
    await ws.prepare(request)
    feed, viewer = request.app[VIDEO].watch(actor, name, VideoParams(codec="h264"))
    listening = asyncio.create_task(_until_closed(ws))      # reads the client's close frame (and any message)
    try:
        while (message := await viewer.next(ALIVE_CHECK)) is not None:
            if ws.closed or listening.done():
                break
            if message is not WAITING:
                await ws.send_bytes(message)
        if not ws.closed:
            code, reason = CLOSE_CODES[viewer.reason]
            await ws.close(code=code, message=reason.encode())
    except ConnectionError:
        pass                           # the client went away
    finally:
        listening.cancel()
        request.app[VIDEO].leave(feed, viewer)
    return ws


async def _until_closed(ws: web.WebSocketResponse) -> None:
    async for _ in ws:
        pass


async def page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(PAGE, headers={"Cache-Control": "no-cache"})


def add_routes(add) -> None:
    add("GET", "/cameras/{mxid}/streams/{stream_name}/video", video, head=False)
    add("GET", "/", page)


def setup(app: web.Application, max_feeds: int = 4) -> None:
    app[VIDEO] = VideoHub(max_feeds=max_feeds)

    async def close(_app):
        await app[VIDEO].close()
    app.on_shutdown.append(close)
