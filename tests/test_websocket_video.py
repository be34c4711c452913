"""H.264 video over WebSocket on the video path: fragmented MP4 as a MediaSource (and Robopipe Studio) plays it."""
import asyncio
import json
import shutil

import pytest
from aiohttp import WSMsgType, web

from actors.fmp4 import Fragment, boxes
from actors.video import Fmp4Viewer
from browser import CHROMIUM, chromium, wait_for_value
from conftest import activate, assert_error, stream_url
from service.video import VIDEO
from timing import scaled

FFPROBE = shutil.which("ffprobe")
needs_ffprobe = pytest.mark.skipif(FFPROBE is None, reason="ffprobe is not installed (Debian: apt-get install ffmpeg)")


async def activate_mono(client, cam, stream="CAM_B"):
    """A mono stream at 640x400: small frames keep the encoder's share of a loaded machine small."""
    resp = await client.post(stream_url(cam, stream, "config"), json={"resolution": "THE_400_P"})
    assert resp.status == 200, await resp.text()
    await activate(client, cam, stream)


async def messages(ws, count: int) -> list[bytes]:
    got = []
    while len(got) < count:
        message = await asyncio.wait_for(ws.receive(), scaled(10))
        assert message.type == WSMsgType.BINARY, message
        got.append(message.data)
    return got


async def probe(tmp_path, data: bytes, name="video.mp4") -> dict:
    path = tmp_path / name
    path.write_bytes(data)
    proc = await asyncio.create_subprocess_exec(
        FFPROBE, "-v", "error", "-count_frames", "-show_streams", "-show_frames", "-of", "json", str(path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 0 and not err, err.decode()
    return json.loads(out)


@needs_ffprobe
async def test_websocket_video_is_fragmented_mp4_with_h264_of_the_streams_size(client, mxid, tmp_path):
    cam = mxid("oak-d")
    await activate_mono(client, cam)
    async with client.ws_connect(stream_url(cam, "CAM_B", "video")) as ws:
        got = await messages(ws, 16)
    # The initialisation segment, then one fragment (moof + mdat) per message.
    assert [kind for kind, _ in boxes(got[0])] == ["ftyp", "moov"]
    assert all([kind for kind, _ in boxes(m)] == ["moof", "mdat"] for m in got[1:])
    info = await probe(tmp_path, b"".join(got))
    (stream,) = info["streams"]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 640, 400)
    assert stream["profile"] == "Constrained Baseline"
    assert int(stream["nb_read_frames"]) == 15
    assert info["frames"][0]["key_frame"] == 1


@needs_ffprobe
async def test_a_joining_viewer_gets_the_init_segment_then_starts_at_a_keyframe(client, mxid, tmp_path):
    cam = mxid("oak-1")
    await activate(client, cam, "CAM_A")
    url = stream_url(cam, "CAM_A", "video")
    async with client.ws_connect(url) as first:
        early = await messages(first, 12)
        async with client.ws_connect(url) as joiner:
            joined = await messages(joiner, 6)
    assert joined[0] == early[0]                                    # the same initialisation segment
    info = await probe(tmp_path, b"".join(joined))
    assert len(info["frames"]) == 5 and info["frames"][0]["key_frame"] == 1      # every fragment decodes
    assert info["streams"][0]["width"] == 1920


async def test_one_encode_per_frame_however_many_websocket_viewers(client, mxid):
    cam = mxid("oak-d")
    await activate_mono(client, cam)
    url = stream_url(cam, "CAM_B", "video")
    async with client.ws_connect(url) as a, client.ws_connect(url) as b, client.ws_connect(url) as c:
        await asyncio.gather(*(messages(ws, 20) for ws in (a, b, c)))
        stats = client.app[VIDEO].stats_of(cam, "CAM_B")
        assert stats.frames >= 19 and stats.encodes <= stats.frames + 1, (stats.frames, stats.encodes)
        assert len([k for k in client.app[VIDEO].feeds if k[:2] == (cam, "CAM_B")]) == 1


async def test_an_inactive_stream_refuses_the_upgrade_with_the_409_error(client, mxid):
    resp = await client.get(stream_url(mxid("oak-d"), "CAM_A", "video"), headers={
        "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    await assert_error(resp, 409, "stream_inactive")


async def test_deactivating_the_stream_closes_the_websocket_with_1000(client, mxid):
    cam = mxid("oak-d")
    await activate_mono(client, cam, "CAM_C")
    async with client.ws_connect(stream_url(cam, "CAM_C", "video")) as ws:
        await messages(ws, 3)
        assert (await client.delete(stream_url(cam, "CAM_C"))).status == 204
        message = await asyncio.wait_for(ws.receive(), scaled(10))
        while message.type == WSMsgType.BINARY:
            message = await asyncio.wait_for(ws.receive(), scaled(10))
        assert message.type == WSMsgType.CLOSE and message.data == 1000 and message.extra == "stream deactivated"
    await asyncio.sleep(0)
    assert not client.app[VIDEO].feeds


async def test_a_viewer_that_leaves_stops_its_feed(client, mxid):
    cam = mxid("oak-d")
    await activate_mono(client, cam)
    async with client.ws_connect(stream_url(cam, "CAM_B", "video")) as ws:
        await messages(ws, 2)
    deadline = asyncio.get_running_loop().time() + scaled(5)
    while client.app[VIDEO].feeds:
        assert asyncio.get_running_loop().time() < deadline, "the feed outlived its last viewer"
        await asyncio.sleep(0.02)


def test_a_slow_viewer_drops_what_it_holds_and_goes_on_from_the_next_keyframe():
    viewer = Fmp4Viewer()
    init = b"init"
    viewer.offer((init, [Fragment(b"p0", False)]))                   # joined between keyframes: skipped
    assert not viewer._pending
    frames = [Fragment(b"k1", True)] + [Fragment(b"p%d" % i, False) for i in range(1, 60)]
    viewer.offer((init, frames))                                    # nobody takes anything
    # It held at most MAX_PENDING, then dropped them and skips the rest of the group of pictures.
    assert viewer.dropped == Fmp4Viewer.MAX_PENDING and not viewer._pending
    viewer.offer((init, [Fragment(b"k2", True), Fragment(b"p61", False)]))
    # It goes on from the keyframe, after the initialisation segment it never got.
    assert list(viewer._pending) == [b"init", b"k2", b"p61"]
    assert asyncio.run(viewer.next()) == b"init"


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)")
@pytest.mark.parametrize("page", ["operator", "studio"])
async def test_chromium_plays_the_websocket_video(client, aiohttp_server, mxid, tmp_path, page):
    cam = mxid("oak-d")
    await activate_mono(client, cam)
    if page == "operator":
        url = str(client.make_url("/"))
    else:
        # Robopipe Studio's player, served from an origin of its own: MediaSource in sequence mode, and a
        # message that comes while one is being appended is dropped (counted here, in `dropped`).
        ws_url = str(client.make_url(stream_url(cam, "CAM_B", "video"))).replace("http", "ws", 1)
        async def player(_):
            return web.Response(text=STUDIO_PLAYER.replace("WS_URL", ws_url), content_type="text/html")
        studio = web.Application()
        studio.router.add_get("/", player)
        url = str((await aiohttp_server(studio)).make_url("/"))
    # The time played, the picture's size, the messages the page dropped; the media error says why, should
    # it not play.
    playing = "(() => { const v = document.querySelector('video'); return v && [v.currentTime, v.videoWidth, " \
              "v.videoHeight, window.dropped || 0, v.error && v.error.message]; })()"
    for attempt in range(3):
        async with chromium(url, tmp_path / f"profile{attempt}") as evaluate:
            state = await wait_for_value(evaluate, playing, _played_or_stuck_after_a_drop())
        # Studio's drop leaves a gap in sequence mode that MSE does not play past (the next keyframe lands
        # later than the dropped fragment's time): a page that dropped on a loaded machine proves nothing of
        # the stream, and is opened again (as soon as it is seen stuck). One that dropped nothing must play.
        if (state and state[0] > 1.0) or not (state and state[3]):
            break
    assert state and state[0] > 1.0 and state[1:3] == [640, 400], state


def _played_or_stuck_after_a_drop():
    """The page's state is final once it played a second, or once it dropped a message and its time has not
    moved for a while since (stuck at the gap)."""
    moved = {"time": None, "at": 0.0}

    def final(state) -> bool:
        if not state:
            return False
        now = asyncio.get_running_loop().time()
        if state[0] != moved["time"]:
            moved.update(time=state[0], at=now)
        return state[0] > 1.0 or (bool(state[3]) and now - moved["at"] > scaled(2))
    return final


STUDIO_PLAYER = """<video autoplay muted></video><script>
const video = document.querySelector("video"), mediaSource = new MediaSource();
window.dropped = 0;
mediaSource.addEventListener("sourceopen", () => {
  const buffer = mediaSource.addSourceBuffer('video/mp4; codecs="avc1.42E01E"');
  const ws = new WebSocket("WS_URL");
  ws.binaryType = "arraybuffer";
  buffer.mode = "sequence";
  ws.onmessage = ({data}) => { if (!buffer.updating) buffer.appendBuffer(new Uint8Array(data)); else window.dropped++; };
});
video.src = URL.createObjectURL(mediaSource);
video.play();
</script>"""


@needs_ffprobe
async def test_a_frame_rate_change_at_the_same_size_gives_a_keyframe_a_second_at_the_new_rate(client, mxid, tmp_path):
    """A viewer that stays through a frame rate change still gets a keyframe a second: the group of pictures
    follows the stream's new rate (a joining viewer waits a second at most)."""
    cam = mxid("oak-d")
    assert (await client.post(stream_url(cam, "CAM_B", "config"), json={"resolution": "THE_400_P", "fps": 10})).status == 200
    await activate(client, cam, "CAM_B")
    async with client.ws_connect(stream_url(cam, "CAM_B", "video")) as ws:
        init = (await messages(ws, 3))[0]
        assert (await client.post(stream_url(cam, "CAM_B", "config"), json={"fps": 5})).status == 200
        after = await messages(ws, 24)
    inits = [i for i, m in enumerate(after) if boxes(m)[0][0] == "ftyp"]
    if inits:                                   # the stream's parameters changed: a new initialisation segment
        init, after = after[inits[-1]], after[inits[-1] + 1:]
    first_key = next(i for i, m in enumerate(after) if _keyframe(m))
    info = await probe(tmp_path, init + b"".join(after[first_key:]))
    keys = [i for i, frame in enumerate(info["frames"]) if frame["key_frame"] == 1]
    assert len(keys) >= 2 and {b - a for a, b in zip(keys, keys[1:])} == {5}, keys


def _keyframe(fragment: bytes) -> bool:
    """Whether a fragment (moof + mdat) starts with an IDR picture (NAL type 5, after its 4-byte length)."""
    (_, box), = [b for b in boxes(fragment) if b[0] == "mdat"]
    mdat, offset = box[8:], 0
    while offset + 4 < len(mdat):
        size = int.from_bytes(mdat[offset:offset + 4], "big")
        if mdat[offset + 4] & 0x1F == 5:
            return True
        offset += 4 + size
    return False
