"""Cameras that go away and come back: the state a client set is kept and restored."""
from conftest import activate, assert_error, stream_url, wait_until
from service.inputs import FLEET


async def camera_state(client, cam):
    return await (await client.get(f"/cameras/{cam}/")).json()


async def test_an_unplugged_camera_is_disconnected_and_restored_when_it_returns(client, backend, mxid):
    cam, device = mxid("oak-d"), backend.device(mxid("oak-d"))
    actor = client.app[FLEET].get(cam)
    await activate(client, cam, "CAM_A")
    await client.post(stream_url(cam, "CAM_A", "control"), json={"contrast": 4})
    device.unplug()
    await wait_until(lambda: actor.status == "disconnected")
    state = await camera_state(client, cam)
    assert state["state"] == "disconnected" and "disconnected" in state["last_error"]

    # Reads and writes of config and control still work; writes are kept for the camera's return.
    resp = await client.post(stream_url(cam, "CAM_A", "control"), json={"saturation": -7})
    assert resp.status == 200 and (await resp.json())["contrast"] == 4
    assert (await client.post(stream_url(cam, "CAM_B", "config"), json={"fps": 10})).status == 200
    # What needs the device answers 503 with Retry-After.
    for resp in (await client.post(stream_url(cam, "CAM_B")), await client.get(stream_url(cam, "CAM_A", "still"))):
        await assert_error(resp, 503, "camera_unavailable")
        assert int(resp.headers["Retry-After"]) >= 1
    assert (await (await client.get(f"/cameras/{cam}/streams/")).json())[0] == {"name": "CAM_A", "active": True}

    device.replug()
    await wait_until(lambda: actor.status == "connected")
    state = await camera_state(client, cam)
    assert state["state"] == "connected" and state["reconnects"] == 1
    assert set(device.running) == {"CAM_A"}
    assert device.sensor_controls["CAM_A"]["saturation"] == -7 and device.sensor_controls["CAM_A"]["contrast"] == 4
    assert (await client.get(stream_url(cam, "CAM_A", "still"))).status == 200
    await activate(client, cam, "CAM_B")
    assert device.running["CAM_B"].config["fps"] == 10


async def test_opens_that_fail_are_retried_until_one_succeeds(client, backend, mxid):
    cam, device = mxid("oak-1"), backend.device(mxid("oak-1"))
    actor = client.app[FLEET].get(cam)
    device.faults.failing_opens = 3
    device.unplug()
    await wait_until(lambda: actor.status == "disconnected")
    device.replug()
    await wait_until(lambda: actor.status == "connected")
    assert device.faults.failing_opens == 0 and actor.reconnects == 1


async def test_other_cameras_never_notice(client, backend, mxid):
    lost = mxid("oak-d")
    backend.device(lost).unplug()
    await wait_until(lambda: client.app[FLEET].get(lost).status == "disconnected")
    other = mxid("oak-1")
    await activate(client, other, "CAM_A")
    assert (await client.get(stream_url(other, "CAM_A", "still"))).status == 200
    assert (await camera_state(client, other))["state"] == "connected"
