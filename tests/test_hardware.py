"""The API scenario against a real OAK camera: `make test-hardware`. Skips, saying so, when none is attached."""
import simplejpeg
import pytest

from actors.depthai_backend import DepthAIBackend
from schemas.facts import COLOR, MONO
from service.app import create_app
from conftest import assert_error, mean, stream_url
from timing import scaled

pytestmark = pytest.mark.hardware


async def found(client, timeout: float = 30.0) -> list[dict]:
    """The cameras the service found at its start, once each is connected (a camera boots for a few seconds
    after it is found). [] at once if it found none."""
    import asyncio
    deadline = asyncio.get_running_loop().time() + scaled(timeout)
    while True:
        cameras = await (await client.get("/cameras/")).json()
        if all(c["state"] == "connected" for c in cameras) or asyncio.get_running_loop().time() > deadline:
            return cameras
        await asyncio.sleep(0.2)


@pytest.fixture
def oak():
    """The depthai the DepthAI backend drives: the real one (test_hardware_standin.py gives it the stand-in)."""
    import depthai
    return depthai


@pytest.fixture
async def camera(aiohttp_client, oak):
    backend = DepthAIBackend(oak)
    client = await aiohttp_client(create_app(backend, device_timeout=20))
    cameras = await found(client)
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


class Counting:
    """depthai, counting the devices opened (the backend takes the module it drives)."""

    def __init__(self, dai):
        self.opens, self._dai = 0, dai
        counter = self

        class Device(dai.Device):
            def __init__(self, *args, **kwargs):
                counter.opens += 1
                super().__init__(*args, **kwargs)
        self.Device = Device

    def __getattr__(self, name):
        return getattr(self._dai, name)


@pytest.fixture
async def counted(aiohttp_client, oak):
    dai = Counting(oak)
    client = await aiohttp_client(create_app(DepthAIBackend(dai), device_timeout=20))
    cameras = await found(client)
    if not cameras:
        pytest.skip("no OAK device found (dai.Device.getAllAvailableDevices() is empty)")
    return client, cameras[0], dai


def rss_kb() -> int:
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1])


async def test_switching_a_stream_does_not_reopen_the_camera_and_leaks_nothing(counted):
    import threading
    client, cam, dai = counted
    mxid, sensor = cam["mxid"], cam["sensors"][0]["socket"]
    assert (await client.post(stream_url(mxid, sensor))).status == 204          # the pipeline is built
    assert (await client.delete(stream_url(mxid, sensor))).status == 204
    opens, threads, rss = dai.opens, threading.active_count(), rss_kb()
    for _ in range(200):
        assert (await client.post(stream_url(mxid, sensor))).status == 204
        assert (await client.delete(stream_url(mxid, sensor))).status == 204
    assert dai.opens == opens
    assert threading.active_count() <= threads
    print(f"200 cycles: RSS {rss} -> {rss_kb()} kB")
    assert rss_kb() < rss + 20_000


async def test_depth_size_and_fps_bounds_are_the_cameras(counted):
    import io
    from PIL import Image
    client, cam, _ = counted
    mxid = cam["mxid"]
    if not cam["stereo_pairs"]:
        pytest.skip("this camera has no stereo pair")
    depth = cam["stereo_pairs"][0]["stream"]
    config = await (await client.get(stream_url(mxid, depth, "config"))).json()
    assert (await client.post(stream_url(mxid, depth))).status == 204
    resp = await client.get(stream_url(mxid, depth, "still"), params={"format": "png", "depth_mm": "true"})
    size = Image.open(io.BytesIO(await resp.read())).size
    from actors.model import MONO_RESOLUTIONS
    assert size == MONO_RESOLUTIONS[config["resolution"]]
    error = await assert_error(await client.post(stream_url(mxid, depth, "config"), json={"fps": 0.5}), 422)
    print("fps bounds as the camera reports them:", error["fields"]["fps"])


async def test_a_replug_brings_the_camera_back(counted):
    """Run with OAK_TEST_REPLUG=1 and unplug, then replug the camera (any port) when asked."""
    import asyncio
    import os
    from conftest import wait_until
    from service.inputs import FLEET
    if os.environ.get("OAK_TEST_REPLUG") != "1":
        pytest.skip("set OAK_TEST_REPLUG=1 to unplug and replug the camera by hand")
    client, cam, _ = counted
    actor = client.app[FLEET].get(cam["mxid"])
    print("\nunplug the camera now, then plug it back in")
    await wait_until(lambda: actor.status == "disconnected", timeout=60)
    await wait_until(lambda: actor.status == "connected", timeout=60)
    assert actor.reconnects == 1
    await asyncio.sleep(0)


def test_the_sensor_table_matches_the_camera():
    """The simulator's and the stand-in's sensor table (actors/sensors.py) against what a camera reports."""
    import depthai
    from actors.depthai_convert import sensor_from_features
    from actors.sensors import AR0234, IMX378, OV9282
    infos = depthai.Device.getAllAvailableDevices()
    if not infos:
        pytest.skip("no OAK device found (dai.Device.getAllAvailableDevices() is empty)")
    table = {s["name"]: s["modes"] for s in (IMX378, OV9282, AR0234)}
    with depthai.Device(infos[0]) as device:
        for features in device.getConnectedCameraFeatures():
            sensor = sensor_from_features(features)
            if sensor.name in table:
                # Every mode the table offers must be one the camera runs, with the same fps range.
                wrong = set(table[sensor.name]) - set(sensor.modes)
                assert not wrong, f"{sensor.name}: the camera has {sensor.modes}, the table says {sorted(wrong, key=str)}"


async def test_preview_and_a_detection_network_on_a_real_camera(camera):
    """The preview at preview_size, and with OAK_TEST_BLOB (a MobileNet-SSD blob for RVC2, 300x300 input) its
    detections over the WebSocket, with OAK_TEST_SPATIAL=1 also on the first depth stream, in millimetres."""
    import json
    import os

    import aiohttp
    client, cam = camera
    mxid = cam["mxid"]
    color = next((s["socket"] for s in cam["sensors"] if s["type"] == COLOR), None)
    if color is None:
        pytest.skip("the camera has no colour sensor")
    assert (await client.post(stream_url(mxid, color, "config"), json={"preview_size": [320, 240]})).status == 200
    assert (await client.post(stream_url(mxid, color))).status == 204
    preview = simplejpeg.decode_jpeg(await (await client.get(stream_url(mxid, color, "preview"))).read())
    assert preview.shape == (240, 320, 3)
    blob = os.environ.get("OAK_TEST_BLOB")
    if not blob:
        pytest.skip("set OAK_TEST_BLOB to a MobileNet-SSD blob to run a network on the camera")
    streams = [color] + ([p["stream"] for p in cam["stereo_pairs"]][:1] if os.environ.get("OAK_TEST_SPATIAL") else [])
    for stream in streams:
        assert (await client.post(stream_url(mxid, stream))).status == 204
        form = aiohttp.FormData()
        form.add_field("model", open(blob, "rb").read(), filename=os.path.basename(blob))
        form.add_field("config", json.dumps({"type": "MobileNet", "confidence_threshold": 0.3}))
        resp = await client.post(stream_url(mxid, stream, "nn"), data=form)
        assert resp.status == 200, await resp.text()
        async with client.ws_connect(stream_url(mxid, stream, "nn")) as ws:
            message = json.loads((await ws.receive(timeout=20)).data)
        assert "detections" in message and message["sequence"] >= 0
        assert all(isinstance(d["label"], int) and d["label_name"] == str(d["label"]) for d in message["detections"])
        if stream != color:
            assert all("spatial_coords" in d for d in message["detections"])


async def test_calibration_and_frame_headers_on_a_real_camera(camera):
    client, cam = camera
    mxid = cam["mxid"]
    body = await (await client.get(f"/cameras/{mxid}/calibration")).json()
    for name, described in body["streams"].items():
        (fx, _, cx), (_, fy, cy), _ = described["intrinsics"]
        assert fx > 0 and fy > 0 and 0 < cx < described["width"] and 0 < cy < described["height"], (name, described)
    for pair in body["stereo_pairs"]:
        assert 20 < pair["baseline"] < 300, pair                     # mm: OAK boards are 5 to 15 cm wide
    sensor = cam["sensors"][0]["socket"]
    assert (await client.post(stream_url(mxid, sensor))).status == 204
    await client.post(stream_url(mxid, sensor, "control"),
                      json={"auto_exposure_enable": False, "exposure_time": 5000, "sensitivity_iso": 400})
    first = await client.get(stream_url(mxid, sensor, "still"))
    for _ in range(30):                 # a sensor takes a few frames to apply a control
        second = await client.get(stream_url(mxid, sensor, "still"))
        if abs(int(second.headers["X-Exposure-Time"]) - 5000) <= 250 and second.headers["X-Sensitivity-ISO"] == "400":
            break
    else:
        pytest.fail(f"the stills never said exposure 5000 µs, ISO 400: {dict(second.headers)}")
    assert int(second.headers["X-Frame-Sequence"]) > int(first.headers["X-Frame-Sequence"])
    assert float(second.headers["X-Frame-Timestamp"]) > float(first.headers["X-Frame-Timestamp"])


async def stays_connected(client, mxid: str, stream: str, changes: list[dict]) -> None:
    """Each config change (a rebuild: the camera reboots) answers 200, the camera never leaves `connected`
    while they run, and no reconnect is counted."""
    import asyncio
    left = []

    async def watch():
        while True:
            state = next(c for c in await (await client.get("/cameras/")).json() if c["mxid"] == mxid)["state"]
            if state != "connected":
                left.append(state)
            await asyncio.sleep(0.1)
    before = next(c for c in await (await client.get("/cameras/")).json() if c["mxid"] == mxid)["reconnects"]
    watching = asyncio.create_task(watch())
    try:
        for body in changes:
            resp = await client.post(stream_url(mxid, stream, "config"), json=body)
            assert resp.status == 200, await resp.text()
    finally:
        watching.cancel()
    assert not left, left
    after = next(c for c in await (await client.get("/cameras/")).json() if c["mxid"] == mxid)
    assert after["state"] == "connected" and after["reconnects"] == before, after


async def test_a_rebuild_keeps_the_camera_and_its_video_window(camera):
    """Config changes that rebuild keep the camera connected with no reconnect, and 1280x720 and 640x480
    video_size windows of a colour stream give video."""
    client, cam = camera
    mxid = cam["mxid"]
    color = next((s["socket"] for s in cam["sensors"] if s["type"] == COLOR), None)
    if color is None:
        pytest.skip("the camera has no colour sensor")
    assert (await client.post(stream_url(mxid, color))).status == 204
    await stays_connected(client, mxid, color, [{"fps": 20, "video_size": [1280, 720]}, {"fps": 25}])
    resp = await client.get(stream_url(mxid, color, "video"), params={"frames": "2"})
    assert resp.status == 200 and (await resp.read()).count(b"Content-Type: image/jpeg") == 2
    # A window whose planes are not whole 4 KiB pages (R17): its pool is rounded up.
    assert (await client.post(stream_url(mxid, color, "config"), json={"video_size": [640, 480]})).status == 200
    resp = await client.get(stream_url(mxid, color, "video"), params={"frames": "2"})
    assert resp.status == 200 and (await resp.read()).count(b"Content-Type: image/jpeg") == 2


async def test_the_ir_lights_the_right_camera_before_and_after_a_resolution_change(camera):
    """On a Pro camera: the flood light brightens the right mono camera's picture (at a fixed exposure) when
    its stream is the only one active (the emitters fire on the left camera's strobe, R14), and still does
    after a resolution change, which reboots the camera with its emitters off. Point the camera at something
    within a metre or two."""
    import io

    import numpy as np
    from PIL import Image
    client, cam = camera
    mxid = cam["mxid"]
    if not cam.get("ir"):
        pytest.skip("the camera has no IR emitters (not a Pro)")
    right = "CAM_C"
    if right not in cam["streams"]:
        pytest.skip("the camera has no right mono camera on CAM_C")
    for stream in cam["streams"]:
        await client.delete(stream_url(mxid, stream))
    assert (await client.post(stream_url(mxid, right))).status == 204
    fixed = {"auto_exposure_enable": False, "exposure_time": 8000, "sensitivity_iso": 400}
    assert (await client.post(stream_url(mxid, right, "control"), json=fixed)).status == 200

    async def brightness(settle: int = 10) -> float:
        for _ in range(settle):            # the sensor takes a few frames to apply a control or an emitter
            resp = await client.get(stream_url(mxid, right, "still"), params={"format": "png"})
            assert resp.status == 200
        return float(np.asarray(Image.open(io.BytesIO(await resp.read())), dtype=np.float64).mean())

    assert (await client.post(f"/cameras/{mxid}/ir", json={"flood_light": 0.0, "dot_projector": 0.0})).status == 200
    dark = await brightness()
    assert (await client.post(f"/cameras/{mxid}/ir", json={"flood_light": 1.0})).status == 200
    lit = await brightness()
    print(f"right camera's mean: {dark:.1f} dark, {lit:.1f} lit")
    assert lit > dark + 5, "the flood light did not brighten the right camera's picture"
    resolution = (await (await client.get(stream_url(mxid, right, "config"))).json())["resolution"]
    other = "THE_400_P" if resolution != "THE_400_P" else "THE_800_P"
    await stays_connected(client, mxid, right, [{"resolution": other}])
    after = await brightness()
    print(f"after the change to {other}: {after:.1f}")
    assert abs(after - lit) < abs(after - dark), "the emitters were dark after the rebuild"
    assert (await (await client.get(f"/cameras/{mxid}/ir")).json())["flood_light"] == 1.0


async def test_a_config_change_on_poe_keeps_the_camera_connected(aiohttp_client, oak):
    """On the first PoE camera found: a config change (a rebuild, the camera boots again over the network)
    answers 200, never leaves `connected` and counts no reconnect (R19)."""
    client = await aiohttp_client(create_app(DepthAIBackend(oak), device_timeout=20))
    poe = [c for c in await found(client) if c["protocol"] == "poe"]
    if not poe:
        pytest.skip("no PoE OAK device found")
    cam = poe[0]
    stream = cam["sensors"][0]["socket"]
    assert (await client.post(stream_url(cam["mxid"], stream))).status == 204
    fps = (await (await client.get(stream_url(cam["mxid"], stream, "config"))).json())["fps"]
    await stays_connected(client, cam["mxid"], stream, [{"fps": 15 if fps != 15 else 20}, {"fps": fps}])


async def test_a_luxonis_zoo_archive_deploys(camera):
    """With OAK_TEST_ARCHIVE, an NN archive from Luxonis' model zoo for the camera's chip (RVC2: a superblob
    inside; RVC4, an OAK4: a .dlc, R25): it deploys and its results come."""
    import json
    import os

    import aiohttp
    archive = os.environ.get("OAK_TEST_ARCHIVE")
    if not archive:
        pytest.skip("set OAK_TEST_ARCHIVE to an NN archive (.tar.xz) for the camera's chip from Luxonis' model zoo")
    client, cam = camera
    mxid = cam["mxid"]
    color = next((s["socket"] for s in cam["sensors"] if s["type"] == COLOR), None)
    assert (await client.post(stream_url(mxid, color))).status == 204
    form = aiohttp.FormData()
    form.add_field("model", open(archive, "rb").read(), filename=os.path.basename(archive))
    form.add_field("config", json.dumps({"type": "Generic"}))
    resp = await client.post(stream_url(mxid, color, "nn"), data=form)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["model"]["platforms"], "depthai names the chips the archive runs on"
    async with client.ws_connect(stream_url(mxid, color, "nn")) as ws:
        message = json.loads((await ws.receive(timeout=20)).data)
    assert message["sequence"] >= 0


async def test_a_camera_encoded_stream_costs_the_link_only_its_encoded_video(aiohttp_client):
    """Raw frames cross the link only for a host consumer (R22): per frame of a camera-encoded colour stream,
    the link carries far less than a raw frame with nobody watching, and about a raw frame more while a
    viewer of another quality (encoded on the gateway) watches. XLink's own byte count
    (`Device.getProfilingData()`, host-side counters) against the frames the stream's /stats counted."""
    import asyncio
    backend = DepthAIBackend()
    client = await aiohttp_client(create_app(backend, device_timeout=20))
    cameras = await found(client)
    if not cameras:
        pytest.skip("no OAK device found (dai.Device.getAllAvailableDevices() is empty)")
    mxid = cameras[0]["mxid"]
    color = next((s["socket"] for s in cameras[0]["sensors"] if s["type"] == COLOR), None)
    if color is None:
        pytest.skip("the camera has no colour sensor")
    for stream in cameras[0]["streams"]:
        await client.delete(stream_url(mxid, stream))
    await client.post(stream_url(mxid, color, "config"), json={"resolution": "THE_1080_P", "fps": 30})
    assert (await client.post(stream_url(mxid, color))).status == 204
    device = backend._devices[mxid]._device           # read only: XLink's counters on the host
    raw_frame = 1920 * 1080 * 3 // 2

    async def bytes_per_frame(seconds: float) -> float:
        bytes_before = device.getProfilingData().numBytesRead
        frames_before = (await (await client.get(f"/cameras/{mxid}/stats")).json())["streams"][color]["received"]
        await asyncio.sleep(seconds)
        frames = (await (await client.get(f"/cameras/{mxid}/stats")).json())["streams"][color]["received"]
        assert frames > frames_before, "the camera's H.264 counted no frame"
        return (device.getProfilingData().numBytesRead - bytes_before) / (frames - frames_before)

    alone = await bytes_per_frame(3)
    assert alone < raw_frame / 4, alone

    async def watch():
        async with client.get(stream_url(mxid, color, "video"), params={"quality": 50}) as resp:
            async for _ in resp.content.iter_any():
                pass
    viewer = asyncio.create_task(watch())
    await asyncio.sleep(1)
    watched = await bytes_per_frame(3)
    viewer.cancel()
    print(f"link bytes per frame: {alone:.0f} alone, {watched:.0f} with a viewer of raw frames")
    assert watched > raw_frame / 2, watched


async def test_the_mjpeg_budget_is_the_measured_one(camera):
    """4K at 30 fps beside a 1280x800 stream at 60 fps on an OAK-D: within 361 Mpixel/s of MJPEG the camera
    keeps running and both streams give video (R13)."""
    client, cam = camera
    mxid = cam["mxid"]
    names = {s["socket"]: s for s in cam["sensors"]}
    if not (names.get("CAM_A", {}).get("type") == COLOR and names.get("CAM_B", {}).get("type") == MONO):
        pytest.skip("needs an OAK-D-like camera: colour CAM_A, mono CAM_B")
    assert (await client.post(stream_url(mxid, "CAM_A", "config"), json={"resolution": "THE_4_K", "fps": 30})).status == 200
    resp = await client.post(stream_url(mxid, "CAM_B", "config"), json={"resolution": "THE_800_P", "fps": 60})
    assert resp.status == 200, await resp.text()
    for stream in ("CAM_A", "CAM_B"):
        assert (await client.post(stream_url(mxid, stream))).status == 204
    for stream in ("CAM_A", "CAM_B"):
        resp = await client.get(stream_url(mxid, stream, "video"), params={"frames": "3"})
        assert resp.status == 200 and (await resp.read()).count(b"Content-Type: image/jpeg") == 3
    state = next(c for c in await (await client.get("/cameras/")).json() if c["mxid"] == mxid)
    assert state["state"] == "connected" and state["reconnects"] == 0
