"""Video sessions cost nothing once they end: viewers that come, take a little and go, again and again, leave
the process's thread count (native encoder threads included) where it was."""
import os

from aiohttp import WSMsgType

from conftest import activate, stream_url, wait_until
from service.video import VIDEO
from timing import scaled

SESSIONS = 30


def threads() -> int:
    """Every thread of the process, the encoders' native ones too."""
    return len(os.listdir("/proc/self/task"))


async def h264_session(client, cam) -> None:
    async with client.ws_connect(stream_url(cam, "CAM_A", "video")) as ws:
        for _ in range(2):                          # the initialisation segment and a fragment
            message = await ws.receive(timeout=scaled(10))
            assert message.type == WSMsgType.BINARY, message


async def mjpeg_session(client, cam) -> None:
    resp = await client.get(stream_url(cam, "CAM_A", "video"), params={"frames": "1"})
    assert resp.status == 200 and b"image/jpeg" in await resp.read()


async def test_video_sessions_one_after_another_leave_no_thread_behind(client, mxid):
    cam = mxid("oak-1")
    await activate(client, cam, "CAM_A")
    await client.post(stream_url(cam, "CAM_A", "config"), json={"resolution": "1080p", "fps": 30})
    hub = client.app[VIDEO]
    for session in (h264_session, mjpeg_session):
        await session(client, cam)                  # warm: whatever stays for the process's life is made now
    await wait_until(lambda: not hub.feeds, timeout=10)
    before = threads()
    for _ in range(SESSIONS):
        await h264_session(client, cam)
        await mjpeg_session(client, cam)
    # Each ended feed's thread finishes the read it was in (a frame interval at most) and releases its encoder.
    await wait_until(lambda: not hub.feeds and threads() <= before, timeout=10 + SESSIONS * 0.5)
