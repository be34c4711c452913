"""The rest of a camera's surface: stats, IR illumination, and shutting down and booting."""
import asyncio
import io

import numpy as np
import pytest
from aiohttp.test_utils import TestServer
from PIL import Image

from timing import scaled
from conftest import activate, assert_error, device_timeout, stream_url, wait_until
from service.app import create_app
from service.inputs import FLEET
from service.metrics import runner_options


async def get(client, path, status=200):
    resp = await client.get(path)
    assert resp.status == status, await resp.text()
    return await resp.json()


async def test_stats_read_the_device_and_count_the_streams_frames(client, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_B")
    first = await get(client, f"/cameras/{cam}/stats")
    assert 20 < first["chip_temperature"]["average"] < 105
    assert set(first["chip_temperature"]) == {"average", "css", "mss", "upa", "dss"}
    for memory in ("cmx_memory_usage", "ddr_memory_usage"):
        m = first[memory]
        assert 0 < m["used"] < m["total"] and m["used"] + m["remaining"] == m["total"]
    assert 0 <= first["leon_cpu_usage"]["css"] <= 1 and 0 <= first["leon_cpu_usage"]["mss"] <= 1
    assert set(first["streams"]) == {"CAM_B"}
    received = first["streams"]["CAM_B"]["received"]

    async def later():
        nonlocal latest
        latest = await get(client, f"/cameras/{cam}/stats")
        return latest["streams"]["CAM_B"]["received"] > received
    latest = first
    deadline = asyncio.get_running_loop().time() + scaled(5)
    while not await later():
        assert asyncio.get_running_loop().time() < deadline, "no frame was counted"
        await asyncio.sleep(0.02)
    assert latest["connected_seconds"] > first["connected_seconds"]
    assert latest["streams"]["CAM_B"]["dropped"] >= 0
    # The same figures for Prometheus.
    metrics = await (await client.get("/metrics")).text()
    assert f'camera_chip_temperature_celsius{{block="average",mxid="{cam}"}}' in metrics
    assert f'camera_memory_used_bytes{{memory="ddr",mxid="{cam}"}}' in metrics


async def test_stats_of_a_camera_that_is_not_there_are_a_503(client, mxid):
    cam = mxid("oak-1")
    await client.post(f"/sim/cameras/{cam}/unplug")
    await wait_until(lambda: client.app[FLEET].get(cam).status == "disconnected")
    await assert_error(await client.get(f"/cameras/{cam}/stats"), 503, "camera_unavailable")


async def ir(client, cam, body=None, status=200):
    resp = await (client.post(f"/cameras/{cam}/ir", json=body) if body is not None else client.get(f"/cameras/{cam}/ir"))
    assert resp.status == status, await resp.text()
    return await resp.json()


async def mono_mean(client, cam, stream="CAM_B") -> float:
    resp = await client.get(stream_url(cam, stream, "still"), params={"format": "png"})
    assert resp.status == 200
    return float(np.asarray(Image.open(io.BytesIO(await resp.read())), dtype=np.float64).mean())


async def wall_depth(client, cam) -> np.ndarray:
    """Depth (mm) of the far wall's plain upper right, from a 16-bit PNG still."""
    resp = await client.get(stream_url(cam, "DEPTH_B_C", "still"), params={"format": "png", "depth_mm": "true"})
    assert resp.status == 200
    depth = np.asarray(Image.open(io.BytesIO(await resp.read())))
    h, w = depth.shape
    return depth[int(h * 0.1):int(h * 0.3), int(w * 0.75):int(w * 0.9)]


async def test_ir_is_set_shown_in_the_pictures_and_refused_on_a_model_without_it(client, backend, mxid):
    pro, plain = mxid("oak-d-pro"), mxid("oak-d")
    assert await ir(client, pro) == {"dot_projector": 0.0, "flood_light": 0.0}
    error = await assert_error(await client.get(f"/cameras/{plain}/ir"), 404, "no_ir")
    assert "no IR" in error["message"]
    await assert_error(await client.post(f"/cameras/{plain}/ir", json={"flood_light": 0.5}), 404, "no_ir")
    cameras = {c["mxid"]: c["ir"] for c in await get(client, "/cameras/")}
    assert cameras[pro] is True and cameras[plain] is False

    await activate(client, pro, "CAM_B")
    dark = await mono_mean(client, pro)
    assert await ir(client, pro, {"flood_light": "1.0"}) == {"dot_projector": 0.0, "flood_light": 1.0}
    assert backend.device(pro).ir["flood_light"] == 1.0                   # the device was told
    assert await mono_mean(client, pro) > dark + 20                        # the flood light lights the scene

    await activate(client, pro, "DEPTH_B_C")
    assert (await wall_depth(client, pro) == 0).all()                     # nothing for stereo to match
    await ir(client, pro, {"dot_projector": 0.8})
    assert (await wall_depth(client, pro) == 6000).all()                   # the dots give it texture
    assert await ir(client, pro) == {"dot_projector": 0.8, "flood_light": 1.0}

    for body in ({"dot_projector": 1.5}, {"flood_light": "bright"}, {"laser": 1}, {"dot_projector": True}):
        await assert_error(await client.post(f"/cameras/{pro}/ir", json=body), 422, "validation_error")
    assert await ir(client, pro) == {"dot_projector": 0.8, "flood_light": 1.0}


async def test_the_ir_lights_the_right_camera_alone_though_the_left_one_strobes_it(client, backend, mxid):
    """The emitters fire on the left camera's strobe (R14): with the right camera's stream the only one active,
    the flood light still lights its picture, and once the IR is off the left camera rests again."""
    pro = mxid("oak-d-pro")
    await activate(client, pro, "CAM_C")
    dark = await mono_mean(client, pro, "CAM_C")
    await ir(client, pro, {"flood_light": 1.0})
    assert await mono_mean(client, pro, "CAM_C") > dark + 20
    await ir(client, pro, {"flood_light": 0.0})
    assert await mono_mean(client, pro, "CAM_C") < dark + 5
    streaming = getattr(backend.device(pro), "streaming", None)      # the stand-in's sensors
    if streaming is not None:
        assert not streaming.get("CAM_B") and streaming.get("CAM_C")


async def serve(aiohttp_client, backend, state_dir):
    app = create_app(backend, state_dir=state_dir, device_timeout=device_timeout(backend), max_backoff=0.1,
                     discovery_interval=0.05)
    server = TestServer(app)
    await server.start_server(**runner_options(app))
    client = await aiohttp_client(server)
    await wait_until(lambda: len(client.app[FLEET].actors) == len(backend.devices)
                     and all(a.status in ("connected", "shut_down") for a in client.app[FLEET].actors.values()))
    return client


async def test_ir_is_restored_when_the_camera_returns_and_after_a_restart(aiohttp_client, make_backend, mxid,
                                                                       state_dir):
    backend = make_backend(["oak-d-pro"])
    pro = mxid("oak-d-pro")
    client = await serve(aiohttp_client, backend, state_dir)
    await ir(client, pro, {"dot_projector": 0.3, "flood_light": 0.6})
    await client.post(f"/sim/cameras/{pro}/unplug")
    await wait_until(lambda: client.app[FLEET].get(pro).status == "disconnected")
    backend.device(pro).ir.update({"dot_projector": 0.0, "flood_light": 0.0})     # a camera that lost power
    await client.post(f"/sim/cameras/{pro}/replug")
    await wait_until(lambda: client.app[FLEET].get(pro).status == "connected")
    assert backend.device(pro).ir == {"dot_projector": 0.3, "flood_light": 0.6}
    await client.close()

    backend = make_backend(["oak-d-pro"])
    client = await serve(aiohttp_client, backend, state_dir)
    assert await ir(client, pro) == {"dot_projector": 0.3, "flood_light": 0.6}
    assert backend.device(pro).ir == {"dot_projector": 0.3, "flood_light": 0.6}


async def test_a_shut_down_camera_stays_closed_across_restarts_until_booted(aiohttp_client, make_backend, mxid,
                                                                          state_dir):
    backend = make_backend(["oak-1"])
    cam = mxid("oak-1")
    client = await serve(aiohttp_client, backend, state_dir)
    await activate(client, cam, "CAM_A")
    resp = await client.delete(f"/cameras/{cam}/")
    assert resp.status == 200 and (await resp.json())["state"] == "shut_down"
    assert backend.device(cam).running == {}                            # the device was closed
    await assert_error(await client.get(stream_url(cam, "CAM_A", "still")), 409, "camera_shut_down")
    await assert_error(await client.get(f"/cameras/{cam}/stats"), 409, "camera_shut_down")
    # Its state is kept and can still be written, for the boot.
    assert (await client.post(stream_url(cam, "CAM_A", "config"), json={"fps": 12})).status == 200
    assert (await client.delete(f"/cameras/{cam}/")).status == 200        # idempotent
    await client.close()

    backend = make_backend(["oak-1"])
    client = await serve(aiohttp_client, backend, state_dir)
    assert (await get(client, f"/cameras/{cam}/"))["state"] == "shut_down"
    await wait_until(lambda: backend.device(cam).running == {})
    resp = await client.post(f"/cameras/{cam}/")
    assert resp.status == 200 and (await resp.json())["state"] == "connected"
    assert backend.device(cam).running["CAM_A"].config["fps"] == 12       # booted with its state
    assert (await client.get(stream_url(cam, "CAM_A", "still"))).status == 200
    assert (await client.post(f"/cameras/{cam}/")).status == 200           # booting a running camera: no change
    await client.close()
    client = await serve(aiohttp_client, make_backend(["oak-1"]), state_dir)
    assert (await get(client, f"/cameras/{cam}/"))["state"] == "connected"


async def shut_down_behind_a_hung_call(client, backend, cam, monkeypatch, boot_too=False):
    """DELETE the camera (and POST a boot after it) while a hung device call holds its worker: the call's
    deadline loses the camera, and the recovery queues a reopen behind what is waiting in the mailbox."""
    actor, device = client.app[FLEET].get(cam), backend.device(cam)
    monkeypatch.setattr(actor, "ask_health_check", lambda: None)      # no health check joins the mailbox: its depth is ours
    await activate(client, cam, "CAM_A")
    device.inject(hang_next=True)
    hung = asyncio.create_task(client.post(stream_url(cam, "CAM_B")))
    await wait_until(lambda: not device.faults.hang_next)            # the activation is in the device, hung
    waiting = [asyncio.create_task(client.delete(f"/cameras/{cam}/"))]
    if boot_too:
        await wait_until(lambda: actor.mailbox_depth == 1)
        waiting.append(asyncio.create_task(client.post(f"/cameras/{cam}/")))
    await wait_until(lambda: actor.mailbox_depth == len(waiting))
    assert actor.status == "connected"             # all queued before the deadline, so ahead of the reopen
    await assert_error(await hung, 504, "device_timeout")
    device.release()                   # the hung call returns: what waited behind it may enter the device
    answers = [await task for task in waiting]
    assert answers[0].status == 200 and (await answers[0].json())["state"] == "shut_down"
    return answers[1:]


@pytest.mark.hangs
async def test_a_reopen_queued_before_a_shut_down_does_not_open_the_camera(client, backend, mxid, monkeypatch):
    cam = mxid("oak-d")
    await shut_down_behind_a_hung_call(client, backend, cam, monkeypatch)
    # The still waits behind the queued reopen: it answers as the camera is once that has run.
    resp = await client.get(stream_url(cam, "CAM_A", "still"))
    assert resp.status == 409, resp.content_type
    await assert_error(resp, 409, "camera_shut_down")
    assert {c["mxid"]: c["state"] for c in await get(client, "/cameras/")}[cam] == "shut_down"
    assert backend.device(cam).running == {}
    resp = await client.post(f"/cameras/{cam}/")                      # a boot is the way back
    assert resp.status == 200 and (await resp.json())["state"] == "connected"
    assert (await client.get(stream_url(cam, "CAM_A", "still"))).status == 200


@pytest.mark.hangs
async def test_a_reopen_queued_before_a_shut_down_does_not_reopen_a_camera_booted_since(client, backend, mxid,
                                                                                        monkeypatch):
    cam = mxid("oak-d")
    [booted] = await shut_down_behind_a_hung_call(client, backend, cam, monkeypatch, boot_too=True)
    assert booted.status == 200 and (await booted.json())["state"] == "connected"
    assert (await client.get(stream_url(cam, "CAM_A", "still"))).status == 200      # behind the queued reopen
    assert (await get(client, f"/cameras/{cam}/"))["reconnects"] == 0           # booted, never reopened since
