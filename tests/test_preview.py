"""The preview output: the centre of the frame at preview_size, made by the camera."""
import io

import numpy as np
import pytest
from PIL import Image

from browser import CHROMIUM, chromium, wait_for_value
from conftest import activate, assert_error, stream_url, wait_until
from service.inputs import FLEET


async def preview(client, cam, stream="CAM_A") -> np.ndarray:
    resp = await client.get(stream_url(cam, stream, "preview"))
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "image/jpeg"
    return np.asarray(Image.open(io.BytesIO(await resp.read())).convert("RGB")).astype(int)


def is_white(pixel) -> bool:
    return min(pixel) > 150 and max(pixel) - min(pixel) < 30


def is_yellow(pixel) -> bool:
    r, g, b = pixel
    return r > 130 and g > 130 and b < 90


async def test_the_preview_is_the_centre_of_the_frame_at_preview_size(client, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_A")
    square = await preview(client, cam)            # default 300x300 from a 16:9 frame
    assert square.shape == (300, 300, 3)
    # The colour bars span the frame: a 16:9 frame cut to a square at its centre starts inside the second bar
    # (yellow), where the whole frame starts with the first (white).
    assert is_yellow(square[10, 3]), square[10, 3]
    resp = await client.post(stream_url(cam, "CAM_A", "config"), json={"preview_size": [640, 360]})
    assert resp.status == 200 and (await resp.json())["preview_size"] == [640, 360]
    wide = await preview(client, cam)
    assert wide.shape == (360, 640, 3)
    assert is_white(wide[10, 3]), wide[10, 3]


async def test_the_preview_follows_the_control(client, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_A")
    before = (await preview(client, cam)).mean()
    resp = await client.post(stream_url(cam, "CAM_A", "control"), json={
        "auto_exposure_enable": False, "exposure_time": 1000, "sensitivity_iso": 100})
    assert resp.status == 200
    assert (await preview(client, cam)).mean() < before * 0.6


async def test_no_preview_on_mono_or_depth_and_none_while_inactive(client, mxid):
    cam = mxid("oak-d")
    await assert_error(await client.get(stream_url(cam, "CAM_A", "preview")), 409, "stream_inactive")
    for stream in ("CAM_B", "DEPTH_B_C"):
        await activate(client, cam, stream)
        await assert_error(await client.get(stream_url(cam, stream, "preview")), 422, "no_preview")


async def test_no_preview_while_the_camera_is_away(client, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_A")
    await client.post(f"/sim/cameras/{cam}/unplug")
    await wait_until(lambda: client.app[FLEET].get(cam).status == "disconnected")
    error = await assert_error(await client.get(stream_url(cam, "CAM_A", "preview")), 503, "camera_unavailable")
    assert "disconnected" in error["message"]


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)")
async def test_the_operator_page_shows_the_preview_as_a_thumbnail(client, mxid, tmp_path):
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_A")
    thumb = "(() => { const i = document.querySelector('img.thumb'); return i && i.complete && " \
            "[i.naturalWidth, i.naturalHeight, !!document.querySelector('video')]; })()"
    async with chromium(str(client.make_url("/")), tmp_path / "profile") as evaluate:
        state = await wait_for_value(evaluate, thumb, lambda v: v and v[0] > 0)
    assert state == [300, 300, False], state
