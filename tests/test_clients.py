"""Real clients against the live video: ffmpeg, and the operator page in headless Chromium."""
import asyncio
import shutil

import pytest
import simplejpeg

from browser import CHROMIUM, chromium, wait_for_value
from conftest import activate, stream_url

FFMPEG = shutil.which("ffmpeg")


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


# A colour stream shows its preview until "Watch live" is pressed: press it, then see what plays.
PLAYING = """(() => {
  const live = [...document.querySelectorAll("button")].find(b => b.textContent === "Watch live");
  if (live) live.click();
  const video = document.querySelector("video"), img = document.querySelector(".stream img:not(.thumb)");
  if (video) return {kind: "h264", time: video.currentTime, width: video.videoWidth};
  if (img) return {kind: "mjpeg", time: img.complete ? 1e9 : 0, width: img.naturalWidth};
  return null;
})()"""


async def page_shows_live_video(client, page, tmp_path, width, init_script=None) -> str:
    """The operator page plays live video of the stream's width; which player it chose."""
    async with chromium(str(client.make_url(page)), tmp_path / "profile", init_script) as evaluate:
        state = await wait_for_value(evaluate, PLAYING, lambda v: v and v["time"] > 1 and v["width"])
    assert state and state["time"] > 1 and state["width"] == width, state
    return state["kind"]


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)")
async def test_the_page_plays_live_h264_in_chromium_and_mjpeg_without_media_source(client, mxid, tmp_path):
    await activate(client, mxid("oak-1"), "CAM_A")
    assert await page_shows_live_video(client, "/", tmp_path / "h264", 1920) == "h264"
    # A browser without MediaSource gets the MJPEG picture (640 wide, as the page asks).
    assert await page_shows_live_video(client, "/", tmp_path / "mjpeg", 640, "delete window.MediaSource") == "mjpeg"


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)")
async def test_the_page_with_tokens_passes_its_token_on(aiohttp_client, make_backend, mxid, tmp_path):
    client = await guarded_client(aiohttp_client, make_backend(["oak-1"]))
    cam = mxid("oak-1")
    assert (await client.post(stream_url(cam, "CAM_A"), headers={"Authorization": "Bearer s3cret"})).status == 204
    await page_shows_live_video(client, "/?access_token=s3cret", tmp_path, 1920)   # and to every call and video
