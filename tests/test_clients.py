"""Real clients against the live video: ffmpeg, and the operator page in headless Chromium."""
import asyncio
import shutil

import numpy as np
import pytest
import simplejpeg
from PIL import Image

from conftest import activate, stream_url

FFMPEG, CHROMIUM = shutil.which("ffmpeg"), shutil.which("chromium") or shutil.which("chromium-browser")


async def run(*args, timeout=60):
    proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        raise
    return proc.returncode, out.decode(errors="replace")


@pytest.mark.skipif(FFMPEG is None, reason="ffmpeg is not installed (Debian: apt-get install ffmpeg)")
async def test_ffmpeg_reads_the_video_and_writes_frames_that_decode(client, mxid, tmp_path):
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_A")
    url = str(client.make_url(stream_url(cam, "CAM_A", "video"))) + "?width=640"
    code, out = await run(FFMPEG, "-hide_banner", "-loglevel", "error", "-i", url, "-frames:v", "5",
                          str(tmp_path / "frame%d.jpg"))
    assert code == 0, out
    files = sorted(tmp_path.glob("frame*.jpg"))
    assert len(files) == 5
    assert all(simplejpeg.decode_jpeg(f.read_bytes()).shape == (360, 640, 3) for f in files)


async def guarded_client(aiohttp_client, backend):
    from service.app import create_app
    from service.inputs import FLEET
    from conftest import wait_until
    client = await aiohttp_client(create_app(backend, tokens=["s3cret"], discovery_interval=0.05))
    await wait_until(lambda: client.app[FLEET].actors and
                     all(a.status == "connected" for a in client.app[FLEET].actors.values()))
    return client


async def page_shows_live_video(client, page, tmp_path) -> None:
    shot = tmp_path / "page.png"
    code, out = await run(CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,1600",
                          "--virtual-time-budget=4000", f"--screenshot={shot}", str(client.make_url(page)))
    assert shot.exists(), out
    image = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    # The live picture is a test card: its saturated colour bars appear nowhere else on the page.
    saturated = (image.max(axis=2) - image.min(axis=2)) > 120
    assert saturated.sum() > 5000, "no live video on the page"


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)")
async def test_the_page_shows_live_video_in_chromium(client, mxid, tmp_path):
    await activate(client, mxid("oak-1"), "CAM_A")
    await page_shows_live_video(client, "/", tmp_path)


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)")
async def test_the_page_with_tokens_passes_its_token_on(aiohttp_client, make_backend, mxid, tmp_path):
    client = await guarded_client(aiohttp_client, make_backend(["oak-1"]))
    cam = mxid("oak-1")
    assert (await client.post(stream_url(cam, "CAM_A"), headers={"Authorization": "Bearer s3cret"})).status == 204
    await page_shows_live_video(client, "/?access_token=s3cret", tmp_path)   # and to every call and video
