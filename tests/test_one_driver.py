"""The actor is the one driver of its device: every call into a device comes from the actor's worker, one at a
time, whatever the clients, the viewers, the health checks and the recovery do at once."""
import asyncio
import threading

import pytest

from conftest import activate, stream_url, wait_until
from service.inputs import FLEET

DEVICE_CALLS = ("open", "close", "configure", "set_control", "capture", "capture_preview", "want", "healthy", "output",
                "set_ir", "stats")


class Recorder:
    """Wraps a device's interface methods: which threads call them, and how many threads are inside at once
    (a method that calls another on its own thread counts once)."""

    def __init__(self, device):
        self.threads: set[str] = set()
        self.idents: set[int] = set()          # threads by identity: a second worker may carry the same name
        self.calls = 0
        self.inside: dict[int, int] = {}      # thread -> calls it is inside
        self.most = 0
        self._lock = threading.Lock()
        for name in DEVICE_CALLS:
            if hasattr(device, name):
                setattr(device, name, self._wrap(getattr(device, name)))

    def _wrap(self, fn):
        def call(*args, **kwargs):
            me = threading.get_ident()
            with self._lock:
                self.threads.add(threading.current_thread().name)
                self.idents.add(me)
                self.calls += 1
                self.inside[me] = self.inside.get(me, 0) + 1
                self.most = max(self.most, len(self.inside))
            try:
                return fn(*args, **kwargs)
            finally:
                with self._lock:
                    self.inside[me] -= 1
                    if not self.inside[me]:
                        del self.inside[me]
        return call


async def test_only_the_actors_worker_calls_the_device(client, mxid):
    cam = mxid("oak-d")
    actor = client.app[FLEET].get(cam)
    recorder = Recorder(actor.device)
    await activate(client, cam, "CAM_A")
    video = await client.get(stream_url(cam, "CAM_A", "video"), params={"fps": 30})
    assert video.status == 200
    await video.content.readuntil(b"\r\n\r\n")

    async def churn():
        for contrast in range(-3, 4):
            assert (await client.post(stream_url(cam, "CAM_A", "control"), json={"contrast": contrast})).status == 200
            assert (await client.get(stream_url(cam, "CAM_A", "control"))).status == 200
            assert (await client.get(stream_url(cam, "CAM_A", "still"))).status == 200
            assert (await client.get(stream_url(cam, "CAM_A", "preview"))).status == 200

    await asyncio.gather(churn(), churn())
    # A lost camera and its return: health checks and the recovery drive the device too.
    await client.post(f"/sim/cameras/{cam}/unplug")
    await wait_until(lambda: actor.status == "disconnected")
    await client.post(f"/sim/cameras/{cam}/replug")
    await wait_until(lambda: actor.status == "connected")
    await churn()
    video.close()

    assert recorder.most == 1, "two threads were inside the device at once"
    assert all(name.startswith(f"camera-{cam}") for name in recorder.threads), recorder.threads


@pytest.mark.hangs
async def test_a_call_past_its_deadline_is_waited_for_never_left_beside_another(client, backend, mxid):
    """A device slower than the deadline: the call is abandoned and the camera lost, but its reopen waits for
    that call to leave the device instead of entering beside it on another thread."""
    cam = mxid("oak-d")
    actor = client.app[FLEET].get(cam)
    await activate(client, cam, "CAM_A")
    recorder = Recorder(actor.device)
    device = backend.device(cam)
    device.inject(latency=actor.timeout + actor.device.rebuild_allowance + 0.3)     # past even a rebuild's
    resp = await client.post(stream_url(cam, "CAM_A", "config"), json={"fps": 12})
    assert resp.status in (200, 504), await resp.text()
    await wait_until(lambda: actor.status != "connected")
    await wait_until(lambda: recorder.calls >= 4, timeout=30)      # the recovery tries, each call too slow
    device.inject(latency=0)
    await wait_until(lambda: actor.status == "connected", timeout=15)
    assert recorder.most == 1, "two threads were inside the device at once"
    assert len(recorder.idents) == 1, "the device was entered from more than one thread"


@pytest.mark.hangs
async def test_a_call_that_never_returns_wedges_the_camera_until_it_does(client, backend, mxid):
    cam = mxid("oak-1")
    actor = client.app[FLEET].get(cam)
    await activate(client, cam, "CAM_A")
    recorder = Recorder(actor.device)
    device = backend.device(cam)
    device.inject(hang_next=True)
    await client.post(stream_url(cam, "CAM_A", "control"), json={"contrast": 2})
    await wait_until(lambda: actor.status == "wedged", timeout=15)
    cameras = await (await client.get("/cameras/")).json()
    assert {c["mxid"]: c["state"] for c in cameras}[cam] == "wedged"
    metrics = await (await client.get("/metrics")).text()
    assert f'camera_state{{mxid="{cam}",state="wedged"}} 1.0' in metrics
    device.release()                               # the call returns at last: the camera comes back
    await wait_until(lambda: actor.status == "connected", timeout=15)
    assert recorder.most == 1 and len(recorder.idents) == 1
