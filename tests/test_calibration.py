"""GET /cameras/{mxid}/calibration: the device's calibration for each stream at its configured size, and a depth
still turned into 3D points with it finds the simulated room where it is."""
import io

import numpy as np
import pytest
from PIL import Image

from actors.simulated import scene
from conftest import activate, assert_error, stream_url, wait_until
from service.inputs import FLEET

LENS = scene.HFOV_DEGREES            # the simulated lens: focal length = width / (2 tan(36°)), centred


def matrix(width, height):
    f = width / (2 * np.tan(np.radians(LENS) / 2))
    return np.array([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]])


async def calibration(client, cam) -> dict:
    resp = await client.get(f"/cameras/{cam}/calibration")
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_each_stream_is_described_at_its_configured_size(client, mxid):
    cam = mxid("oak-d")
    body = await calibration(client, cam)
    assert set(body["streams"]) == {"CAM_A", "CAM_B", "CAM_C", "DEPTH_B_C"}
    color = body["streams"]["CAM_A"]
    assert (color["socket"], color["width"], color["height"], color["rectified"]) == ("CAM_A", 1920, 1080, False)
    assert np.allclose(color["intrinsics"], matrix(1920, 1080), atol=1e-3)
    assert color["distortion_model"] == "Perspective" and color["distortion"] == [0.0] * 14
    depth = body["streams"]["DEPTH_B_C"]
    assert depth["socket"] == "CAM_B" and depth["rectified"] and np.allclose(depth["intrinsics"], matrix(1280, 720),
                                                                            atol=1e-3)
    # Extrinsics between every two sensors (mm; p_dst = R p_src + t), and the stereo baseline.
    assert np.allclose(body["extrinsics"]["CAM_B"]["CAM_C"]["rotation"], np.eye(3))
    assert body["extrinsics"]["CAM_B"]["CAM_C"]["translation"] == [-75.0, 0.0, 0.0]
    assert body["extrinsics"]["CAM_C"]["CAM_B"]["translation"] == [75.0, 0.0, 0.0]
    assert body["extrinsics"]["CAM_A"]["CAM_B"]["translation"] == [37.5, 0.0, 0.0]
    assert body["stereo_pairs"] == [{"left": "CAM_B", "right": "CAM_C", "baseline": 75.0}]

    # A config change changes the answer: a smaller mode, and a still and video cut at sensor_crop.
    assert (await client.post(stream_url(cam, "CAM_B", "config"), json={"resolution": "THE_400_P"})).status == 200
    assert (await client.post(stream_url(cam, "CAM_A", "config"), json={
        "still_size": [1280, 720], "video_size": [640, 360], "sensor_crop": [0.25, 0.25],
        "preview_size": [400, 300]})).status == 200
    body = await calibration(client, cam)
    mono = body["streams"]["CAM_B"]
    assert (mono["width"], mono["height"]) == (640, 400)
    assert np.allclose(mono["intrinsics"], matrix(640, 400), atol=1e-3)
    color, k = body["streams"]["CAM_A"], matrix(1920, 1080)
    x, y = 480, 270                                            # sensor_crop of 1920x1080, on even pixels
    for image, size in (("still", [1280, 720]), ("video", [640, 360])):
        assert [color[image]["width"], color[image]["height"]] == size
        assert np.allclose(color[image]["intrinsics"], k - [[0, 0, x], [0, 0, y], [0, 0, 0]], atol=1e-3)
    # The preview: the frame scaled to cover 400x300 (533x300) and its centre cut out.
    preview = np.array(color["preview"]["intrinsics"])
    assert [color["preview"]["width"], color["preview"]["height"]] == [400, 300]
    assert preview[0][0] == pytest.approx(k[0][0] * 300 / 1080, rel=1e-3)
    assert preview[0][2] == pytest.approx(200, abs=1) and preview[1][2] == pytest.approx(150, abs=1)


async def test_the_oak_d_lr_has_three_baselines_and_a_one_sensor_camera_none(client, mxid):
    body = await calibration(client, mxid("oak-d-lr"))
    assert {(p["left"], p["right"]): p["baseline"] for p in body["stereo_pairs"]} == {
        ("CAM_B", "CAM_C"): 150.0, ("CAM_B", "CAM_A"): 50.0, ("CAM_A", "CAM_C"): 100.0}
    assert body["streams"]["CAM_A"]["width"] == 1920 and body["streams"]["DEPTH_B_A"]["socket"] == "CAM_B"
    single = await calibration(client, mxid("oak-1"))
    assert set(single["streams"]) == {"CAM_A"} and single["extrinsics"] == {} and single["stereo_pairs"] == []


def points(depth: np.ndarray, k) -> np.ndarray:
    """The (h, w, 3) points in mm of a depth frame, through the pinhole the calibration describes."""
    (fx, _, cx), (_, fy, cy), _ = k
    height, width = depth.shape
    u, v = np.meshgrid(np.arange(width), np.arange(height))
    z = depth.astype(np.float64)
    return np.dstack(((u - cx) * z / fx, (v - cy) * z / fy, z))


@pytest.mark.parametrize("model, stream, resolution", [("oak-d", "DEPTH_B_C", "THE_720_P"),
                                                       ("oak-d", "DEPTH_B_C", "THE_400_P"),
                                                       ("oak-d-lr", "DEPTH_B_A", "THE_800_P")])
async def test_a_depth_still_becomes_3d_points_that_find_the_room_within_1_percent(client, mxid, model, stream,
                                                                                 resolution):
    cam = mxid(model)
    assert (await client.post(stream_url(cam, stream, "config"), json={"resolution": resolution})).status == 200
    await activate(client, cam, stream)
    k = (await calibration(client, cam))["streams"][stream]["intrinsics"]
    resp = await client.get(stream_url(cam, stream, "still"), params={"depth_mm": "true", "format": "png"})
    assert resp.status == 200
    depth = np.asarray(Image.open(io.BytesIO(await resp.read())))
    xyz = points(depth, k)
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]

    def near(got, want, distance):
        assert abs(got - want) <= 0.01 * distance, (got, want)

    wall = z == scene.WALL
    near(np.median(z[wall]), 6000, 6000)
    assert np.ptp(x[wall]) > 6000                           # a wall, not a patch: several metres of it
    floor = (z > 1000) & (z < 5500) & (y > 0)
    near(np.median(y[floor]), scene.CAMERA_HEIGHT, np.median(z[floor]))          # the floor, 40 cm below
    bx, by, bz, radius = scene.BALL
    ball = z == bz
    near(x[ball].mean(), bx, bz)
    near(y[ball].mean(), by, bz)
    near(np.sqrt(ball.sum() / np.pi) * bz / k[0][0], radius, radius)            # its size, from its area
    left, top, right, bottom, front = scene.BOX
    box = z == front
    near(x[box].min(), left, front)
    near(x[box].max(), right, front)
    near(y[box].min(), top, front)
    near(y[box].max(), bottom, front)


async def test_calibration_of_a_shut_down_or_lost_camera_is_refused(client, backend, mxid):
    cam = mxid("oak-1")
    assert (await client.delete(f"/cameras/{cam}/")).status == 200
    await assert_error(await client.get(f"/cameras/{cam}/calibration"), 409, "camera_shut_down")
    backend.device(mxid("oak-d")).unplug()
    await wait_until(lambda: client.app[FLEET].actors[mxid("oak-d")].status == "disconnected")
    resp = await client.get(f"/cameras/{mxid('oak-d')}/calibration")
    await assert_error(resp, 503, "camera_unavailable")
    assert int(resp.headers["Retry-After"]) >= 1
    await assert_error(await client.get("/cameras/0000000000000000/calibration"), 404, "camera_not_found")
