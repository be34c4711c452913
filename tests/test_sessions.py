"""Video sessions cost nothing once they end: viewers that come, take a little and go, again and again, leave
the process's thread count (native encoder threads included) where it was."""
import gc
import os
import threading
import weakref

import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient

from conftest import MODELS, activate, device_timeout, forget_handler_chains, serve, stream_url, wait_until
from service.app import create_app
from service.inputs import FLEET
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


@pytest.mark.long
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


async def test_a_closed_app_is_freed_and_leaves_no_thread_behind(make_backend, state_dir, mxid):
    """What the service made for an app (its cameras' devices and their encoders, its feeds) ends and is freed
    with it: tests make hundreds of apps in one process."""
    cam = mxid("oak-1")

    async def session() -> weakref.ref:
        backend = make_backend(MODELS)
        app = create_app(backend, state_dir=state_dir, device_timeout=device_timeout(backend))
        client = TestClient(await serve(app))
        await client.start_server()
        try:
            await wait_until(lambda: all(a.status == "connected" for a in app[FLEET].actors.values()))
            await activate(client, cam, "CAM_A")
            await client.post(stream_url(cam, "CAM_A", "config"), json={"resolution": "1080p", "fps": 30})
            await h264_session(client, cam)
            await mjpeg_session(client, cam)
            return weakref.ref(app[FLEET])
        finally:
            await client.close()

    def own_threads() -> int:          # not the test loop's default executor, which grows as it is used
        return threads() - sum(t.name.startswith("asyncio_") for t in threading.enumerate())

    await session()                    # warm: whatever stays for the process's life is made now
    before = own_threads()
    fleet = await session()
    await wait_until(lambda: own_threads() <= before, timeout=10)         # at the close, not at a collection
    forget_handler_chains()                                            # aiohttp's, not the service's
    gc.collect()
    assert fleet() is None, gc.get_referrers(fleet())
