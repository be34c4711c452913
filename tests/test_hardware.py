"""The API scenario against a real OAK camera: `make test-hardware`. Skips, saying so, when none is attached."""
import simplejpeg
import pytest

from actors.depthai_backend import DepthAIBackend
from service.app import create_app
from conftest import assert_error, mean, stream_url

pytestmark = pytest.mark.hardware


@pytest.fixture
async def camera(aiohttp_client):
    backend = DepthAIBackend()
    client = await aiohttp_client(create_app(backend, device_timeout=20))
    cameras = await (await client.get("/cameras/")).json()
    if not cameras:
        pytest.skip("no OAK device found (dai.Device.getAllAvailableDevices() is empty)")
    return client, cameras[0]


async def test_scenario_on_a_real_camera(camera):
    client, cam = camera
    mxid = cam["mxid"]
    streams = await (await client.get(f"/cameras/{mxid}/streams/")).json()
    assert {s["name"] for s in streams} == set(cam["streams"])
    sensor = cam["sensors"][0]["socket"]
    assert (await client.post(stream_url(mxid, sensor))).status == 204
    first = simplejpeg.decode_jpeg(await (await client.get(stream_url(mxid, sensor, "still"))).read())
    resp = await client.post(stream_url(mxid, sensor, "control"),
                             json={"auto_exposure_enable": False, "exposure_time": 100, "sensitivity_iso": 100})
    assert resp.status == 200
    dark = simplejpeg.decode_jpeg(await (await client.get(stream_url(mxid, sensor, "still"))).read())
    assert mean(dark) < mean(first)
    for pair in cam["stereo_pairs"]:
        assert (await client.post(stream_url(mxid, pair["stream"]))).status == 204
        state = {s["name"]: s["active"] for s in await (await client.get(f"/cameras/{mxid}/streams/")).json()}
        assert state[pair["stream"]] and not state[pair["left"]] and not state[pair["right"]]
        resp = await client.get(stream_url(mxid, pair["stream"], "still"), params={"depth_mm": "true"})
        assert resp.status == 200 and resp.content_type == "image/png"
        break
    assert (await client.delete(stream_url(mxid, sensor))).status == 204
    await assert_error(await client.get(stream_url(mxid, sensor, "still")), 409, "stream_inactive")
