import io

import numpy as np
import pytest
import simplejpeg
from PIL import Image

from conftest import activate, assert_error, device_open, stream_url, wait_until
from timing import scaled


async def still(client, cam, stream, **query):
    return await client.get(stream_url(cam, stream, "still"), params=query)


async def test_default_still_is_a_jpeg_at_the_still_size(client, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_A")
    resp = await still(client, cam, "CAM_A")
    assert resp.status == 200 and resp.headers["Content-Type"] == "image/jpeg"
    assert simplejpeg.decode_jpeg(await resp.read()).shape == (1080, 1920, 3)


async def test_png_still_decodes_to_the_same_picture(client, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_A")
    resp = await still(client, cam, "CAM_A", format="png")
    assert resp.status == 200 and resp.headers["Content-Type"] == "image/png"
    png = np.asarray(Image.open(io.BytesIO(await resp.read())))
    jpeg = simplejpeg.decode_jpeg(await (await still(client, cam, "CAM_A", format="jpeg")).read())
    assert png.shape == jpeg.shape == (1080, 1920, 3)
    assert np.abs(png.astype(int) - jpeg.astype(int))[:800].mean() < 6   # the moving marker is at the bottom


async def test_empty_format_means_the_default(client, mxid):
    cam = mxid("oak-1")
    await activate(client, cam, "CAM_A")
    resp = await still(client, cam, "CAM_A", format="")
    assert resp.status == 200 and resp.content_type == "image/jpeg"


async def test_still_size_and_crop_are_honoured(client, mxid):
    cam = mxid("oak-1")
    await client.post(stream_url(cam, "CAM_A", "config"),
                      json={"still_size": [640, 480], "video_size": [640, 480], "sensor_crop": [0.5, 0.25]})
    await activate(client, cam, "CAM_A")
    image = simplejpeg.decode_jpeg(await (await still(client, cam, "CAM_A")).read()).astype(int)
    assert image.shape == (480, 640, 3)
    # The window is the full frame's pixels at (0.5, 0.25) of 1920x1080: x 960, y 270.
    await client.post(stream_url(cam, "CAM_A", "config"),
                      json={"still_size": [1920, 1080], "video_size": [1920, 1080], "sensor_crop": [0, 0]})
    full = simplejpeg.decode_jpeg(await (await still(client, cam, "CAM_A")).read()).astype(int)
    assert np.abs(full[270:270 + 480, 960:960 + 640] - image).mean() < 3
    assert np.abs(full[:480, :640] - image).mean() > 10                 # and not some other part of it


async def test_mono_still_is_greyscale(client, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_C")
    image = simplejpeg.decode_jpeg(await (await still(client, cam, "CAM_C")).read(), colorspace="GRAY")
    assert image.shape == (720, 1280, 1)


async def test_depth_still_is_8_bit_with_nearer_lighter(client, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "DEPTH_B_C")
    resp = await still(client, cam, "DEPTH_B_C", format="png")
    image = np.asarray(Image.open(io.BytesIO(await resp.read())))
    assert image.dtype == np.uint8 and image.shape == (720, 1280)
    near = image[360, int(1280 * 0.35)]          # the ball, 0.9 m
    far = image[100, 640]                         # the wall, 6 m
    assert near > far > 0
    assert image[360, 10] == 0                    # no measurement is black
    jpeg = simplejpeg.decode_jpeg(await (await still(client, cam, "DEPTH_B_C")).read(), colorspace="GRAY")
    assert jpeg.shape == (720, 1280, 1)


async def test_depth_in_millimetres_is_a_16_bit_png(client, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "DEPTH_B_C")
    resp = await still(client, cam, "DEPTH_B_C", depth_mm="true")
    assert resp.status == 200 and resp.content_type == "image/png"
    image = Image.open(io.BytesIO(await resp.read()))
    assert image.mode.startswith("I")
    depth = np.asarray(image)
    assert depth[360, int(1280 * 0.35)] == 900 and depth[100, 640] == 6000 and depth[360, 10] == 0


@pytest.mark.parametrize("query, field", [
    ({"format": "gif"}, "format"), ({"format": "JPEG"}, "format"), ({"depth_mm": "yes"}, "depth_mm"),
    ({"depth_mm": "true", "format": "jpeg"}, "format"), ({"size": "1"}, "size"),
])
async def test_bad_query_is_422(client, mxid, query, field):
    cam = mxid("oak-d")
    await activate(client, cam, "DEPTH_B_C")
    error = await assert_error(await still(client, cam, "DEPTH_B_C", **query), 422, "validation_error")
    assert field in error["fields"]


async def test_unknown_format_lists_the_supported_ones(client, mxid):
    cam = mxid("oak-1")
    await activate(client, cam, "CAM_A")
    error = await assert_error(await still(client, cam, "CAM_A", format="bmp"), 422)
    assert "jpeg" in str(error["fields"]["format"]) and "png" in str(error["fields"]["format"])


async def test_depth_mm_on_a_sensor_stream_is_422(client, mxid):
    cam = mxid("oak-1")
    await activate(client, cam, "CAM_A")
    await assert_error(await still(client, cam, "CAM_A", depth_mm="true"), 422)


async def test_still_of_an_inactive_stream_is_409(client, mxid):
    await assert_error(await still(client, mxid("oak-d"), "CAM_A"), 409, "stream_inactive")


async def test_a_slow_encode_is_not_a_hung_device(client, mxid, monkeypatch):
    import time as clock
    from actors import encode as encode_module
    from service.inputs import FLEET
    encode = encode_module.encode

    def slow(*args, **kwargs):          # a 12 MP PNG on a slow gateway: longer than the device deadline
        clock.sleep(client.app[FLEET].get(cam).timeout + 0.3)
        return encode(*args, **kwargs)
    cam = mxid("oak-1")
    monkeypatch.setattr(encode_module, "encode", slow)
    await activate(client, cam, "CAM_A")
    resp = await client.get(stream_url(cam, "CAM_A", "still"))
    assert resp.status == 200 and resp.content_type == "image/jpeg"
    assert client.app[FLEET].get(cam).status == "connected" and client.app[FLEET].get(cam).reconnects == 0


async def test_a_still_is_a_frame_taken_after_the_request(client, mxid):
    import time
    cam = mxid("oak-1")
    await client.post(stream_url(cam, "CAM_A", "config"), json={"fps": 10})
    await activate(client, cam, "CAM_A")
    took = []
    for _ in range(5):
        started = time.monotonic()
        assert (await still(client, cam, "CAM_A")).status == 200
        took.append(time.monotonic() - started)
    # At 10 fps the next frame is 0 to 0.1 s away (0.05 s on average; a wait well inside the short device
    # deadline of the tests on a loaded machine): a still that were the frame already in hand would come
    # back in a few milliseconds, every time.
    assert sorted(took)[2] > 0.01, took


async def held_still(client, cam, monkeypatch):
    """A PNG still of the camera's CAM_A whose encode is held once it starts: (the request's future, the
    Event that lets the encode go on)."""
    import asyncio
    import threading
    from actors import encode as encode_module
    encode, entered, release = encode_module.encode, threading.Event(), threading.Event()

    def held(*args, **kwargs):
        entered.set()
        release.wait(60)
        return encode(*args, **kwargs)
    await activate(client, cam, "CAM_A")
    monkeypatch.setattr(encode_module, "encode", held)
    taking = asyncio.ensure_future(still(client, cam, "CAM_A", format="png"))
    await asyncio.get_running_loop().run_in_executor(None, entered.wait, scaled(10))
    if not entered.is_set():
        release.set()
        raise AssertionError("the still's encode never started")
    return taking, release


async def test_a_still_being_encoded_does_not_hold_the_cameras_writes(client, mxid, monkeypatch):
    """Once its frame is in hand a still settles on its own: a write queued behind it is applied and answered
    while the encode (a 12 MP PNG takes seconds on a gateway) is still running."""
    import asyncio
    cam = mxid("oak-1")
    taking, release = await held_still(client, cam, monkeypatch)
    try:
        write = await asyncio.wait_for(client.post(stream_url(cam, "CAM_A", "control"), json={"brightness": 3}), scaled(30))
        assert write.status == 200 and (await write.json())["brightness"] == 3
        assert not taking.done()
    finally:
        release.set()
    resp = await taking
    assert resp.status == 200 and resp.content_type == "image/png"
    assert Image.open(io.BytesIO(await resp.read())).size == (1920, 1080)


async def test_a_still_being_encoded_when_the_service_stops_is_answered_and_the_camera_closed(
        client, mxid, backend, monkeypatch):
    """A stop (SIGTERM) while a still is being encoded: no new connection is taken, the still in flight is
    answered with its picture, and the camera is closed."""
    import asyncio
    import socket
    cam = mxid("oak-1")
    taking, release = await held_still(client, cam, monkeypatch)
    address = (client.server.host, client.server.port)

    def refused() -> bool:
        try:
            socket.create_connection(address, timeout=1).close()
            return False
        except OSError:
            return True
    try:
        stopping = asyncio.ensure_future(client.server.close())
        await wait_until(refused)                     # stopping: it waits for the request in flight
        assert not taking.done()
    finally:
        release.set()
    resp = await taking
    assert resp.status == 200 and resp.content_type == "image/png"
    assert Image.open(io.BytesIO(await resp.read())).size == (1920, 1080)
    await stopping
    assert not device_open(backend.device(cam))
