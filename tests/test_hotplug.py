"""Cameras that go away and come back: the state a client set is kept and restored."""
import pytest

from conftest import activate, assert_error, stream_url, wait_until
from service.inputs import FLEET


async def camera_state(client, cam):
    return await (await client.get(f"/cameras/{cam}/")).json()


async def sim(client, cam, action, body=None):
    resp = await client.post(f"/sim/cameras/{cam}/{action}", json=body)
    assert resp.status in (200, 204), await resp.text()
    return await resp.json() if resp.status == 200 else None


async def test_an_unplugged_camera_is_disconnected_and_restored_when_it_returns(client, backend, mxid):
    cam, device = mxid("oak-d"), backend.device(mxid("oak-d"))
    actor = client.app[FLEET].get(cam)
    await activate(client, cam, "CAM_A")
    await client.post(stream_url(cam, "CAM_A", "control"), json={"contrast": 4})
    await sim(client, cam, "unplug")
    await wait_until(lambda: actor.status == "disconnected")
    state = await camera_state(client, cam)
    # Why, as whichever noticed it first says: the health check ("device disconnected") or, on depthai, a call
    # that found the device's queues closed ("the device was lost").
    assert state["state"] == "disconnected" and ("disconnected" in state["last_error"]
                                                 or "device was lost" in state["last_error"]), state

    # Reads and writes of config and control still work; writes are kept for the camera's return.
    resp = await client.post(stream_url(cam, "CAM_A", "control"), json={"saturation": -7})
    assert resp.status == 200 and (await resp.json())["contrast"] == 4
    assert (await client.post(stream_url(cam, "CAM_B", "config"), json={"fps": 10})).status == 200
    # What needs the device answers 503 with Retry-After.
    for resp in (await client.post(stream_url(cam, "CAM_B")), await client.get(stream_url(cam, "CAM_A", "still"))):
        await assert_error(resp, 503, "camera_unavailable")
        assert int(resp.headers["Retry-After"]) >= 1
    assert (await (await client.get(f"/cameras/{cam}/streams/")).json())[0] == {"name": "CAM_A", "active": True}

    await sim(client, cam, "replug")
    await wait_until(lambda: actor.status == "connected")
    state = await camera_state(client, cam)
    assert state["state"] == "connected" and state["reconnects"] == 1
    assert set(device.running) == {"CAM_A"}
    assert device.sensor_controls["CAM_A"]["saturation"] == -7 and device.sensor_controls["CAM_A"]["contrast"] == 4
    assert (await client.get(stream_url(cam, "CAM_A", "still"))).status == 200
    await activate(client, cam, "CAM_B")
    assert device.running["CAM_B"].config["fps"] == 10


async def test_opens_that_fail_are_retried_until_one_succeeds(client, mxid):
    cam = mxid("oak-1")
    actor = client.app[FLEET].get(cam)
    assert (await sim(client, cam, "faults", {"failing_opens": 3}))["failing_opens"] == 3
    await sim(client, cam, "unplug")
    await wait_until(lambda: actor.status == "disconnected")
    await sim(client, cam, "replug")
    await wait_until(lambda: actor.status == "connected")
    faults = await (await client.get(f"/sim/cameras/{cam}/faults")).json()
    assert faults == {"plugged": True, "failing_opens": 0, "latency_ms": 0, "hang_next": False, "refused_fps": 0}
    assert actor.reconnects == 1


async def test_other_cameras_never_notice(client, backend, mxid):
    lost = mxid("oak-d")
    await sim(client, lost, "unplug")
    await wait_until(lambda: client.app[FLEET].get(lost).status == "disconnected")
    other = mxid("oak-1")
    await activate(client, other, "CAM_A")
    assert (await client.get(stream_url(other, "CAM_A", "still"))).status == 200
    assert (await camera_state(client, other))["state"] == "connected"


async def test_unplug_mid_command_answers_503_and_keeps_the_camera_usable_after(client, backend, mxid):
    import asyncio
    cam = mxid("oak-d")
    actor = client.app[FLEET].get(cam)
    await sim(client, cam, "faults", {"hang_next": True})
    pending = asyncio.create_task(client.post(stream_url(cam, "CAM_A")))
    await wait_until(lambda: not backend.device(cam).faults.hang_next)       # the command is in the camera
    await sim(client, cam, "unplug")
    await assert_error(await pending, 503, "camera_unavailable")
    await sim(client, cam, "replug")
    await wait_until(lambda: actor.status == "connected")
    await activate(client, cam, "CAM_A")


@pytest.mark.hangs
async def test_a_hung_operation_is_504_and_the_camera_is_usable_afterwards(client, mxid):
    cam = mxid("oak-1")
    await sim(client, cam, "faults", {"hang_next": True})
    await assert_error(await client.post(stream_url(cam, "CAM_A")), 504, "device_timeout")
    await sim(client, cam, "replug")           # the hung call returns: the reopen that waited for it goes on
    await wait_until(lambda: client.app[FLEET].get(cam).status == "connected")
    await activate(client, cam, "CAM_A")
    assert (await client.get(stream_url(cam, "CAM_A", "still"))).status == 200


async def test_fault_bodies_are_validated(client, mxid):
    cam = mxid("oak-1")
    for body in ({"failing_opens": -1}, {"latency_ms": "five"}, {"hang_next": 2}, {"explode": True}):
        await assert_error(await client.post(f"/sim/cameras/{cam}/faults", json=body), 422, "validation_error")
    await assert_error(await client.post("/sim/cameras/ABC/unplug"), 404, "camera_not_found")
    await assert_error(await client.post("/sim/cameras/abc/unplug"), 422, "validation_error")


async def test_there_is_no_sim_api_with_the_depthai_backend(aiohttp_client):
    from actors.depthai_backend import DepthAIBackend
    from service.app import create_app
    client = await aiohttp_client(create_app(DepthAIBackend()))
    await assert_error(await client.post("/sim/cameras/ABC/unplug"), 404, "not_found")
    spec = await (await client.get("/api/docs/swagger.json")).json()
    assert not [p for p in spec["paths"] if p.startswith("/sim")]


async def test_a_camera_search_that_hangs_does_not_hold_up_the_service(aiohttp_client):
    import threading
    from actors.simulated.device import SimBackend
    from service.app import create_app

    class StuckSearch(SimBackend):
        released = threading.Event()

        def discover(self):
            self.released.wait(10)        # like a depthai search or a boot that does not come back
            return super().discover()

    backend = StuckSearch(["oak-1"])
    app = create_app(backend, discovery_interval=0.05)
    app[FLEET].discovery_timeout = 0.2
    client = await aiohttp_client(app)
    try:
        assert (await client.get("/readyz")).status == 200
        assert await (await client.get("/cameras/")).json() == []
        backend.released.set()                                     # the search comes back: the camera is found
        await wait_until(lambda: len(app[FLEET].actors) == 1)
        assert len(await (await client.get("/cameras/")).json()) == 1
    finally:
        backend.released.set()


async def test_discoveries_at_once_start_one_actor_a_camera(client, backend, mxid, monkeypatch):
    import asyncio
    from actors.actor import CameraActor
    fleet = client.app[FLEET]
    started = []
    start = CameraActor.start

    async def counted(self):
        started.append(self.mxid)
        await start(self)
    monkeypatch.setattr(CameraActor, "start", counted)
    cam = mxid("oak-1")
    actor = fleet.actors.pop(cam)              # as if it had never been seen
    await actor.stop()
    backend.device(cam).release()
    # A closed camera is listed again once it has rebooted (at once on the simulator); the fleet's own periodic
    # discovery may find it first, and boot it (it is then no longer listed): the four below must not start
    # another actor either way.
    await wait_until(lambda: cam in fleet.actors or any(d.info.mxid == cam for d in backend.discover()), 30)
    await asyncio.gather(*(fleet.discover() for _ in range(4)))
    assert started.count(cam) == 1 and fleet.get(cam) is not None


@pytest.mark.parametrize("release_after", [0.0, 0.05, 0.3])
@pytest.mark.hangs
async def test_a_call_released_after_its_deadline_cannot_leave_the_camera_running_nothing(client, backend, mxid,
                                                                                          release_after):
    import asyncio
    cam = mxid("oak-d")
    actor = client.app[FLEET].get(cam)
    device = backend.device(cam)
    device.inject(hang_next=True)
    await assert_error(await client.post(stream_url(cam, "CAM_A")), 504, "device_timeout")
    await asyncio.sleep(release_after)
    device.release()                              # the abandoned call goes on, late
    await wait_until(lambda: actor.status == "connected")
    await activate(client, cam, "CAM_B")
    await wait_until(lambda: set(device.running) == {"CAM_B"})
    resp = await client.get(stream_url(cam, "CAM_B", "still"))
    assert resp.status == 200
    assert actor.reconnects == 1          # the late call's own failure did not pass for a loss of the new device
