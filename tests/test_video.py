"""Live MJPEG video through HTTP, parsed and decoded as a client would."""
import asyncio
import time

import pytest
import simplejpeg

from service.inputs import FLEET
from service.video import VIDEO
from conftest import activate, assert_error, mean, stream_url, wait_until
from timing import scaled


async def frames(resp, count, timeout=10.0):
    """The next `count` JPEG parts of a multipart/x-mixed-replace response (fewer if `timeout` runs out first),
    each with its headers (lower-case names)."""
    out, reader = [], resp.content
    deadline = time.monotonic() + scaled(timeout)
    while len(out) < count:
        try:
            line = await asyncio.wait_for(reader.readline(), deadline - time.monotonic())
        except asyncio.TimeoutError:
            break
        if line.startswith(b"--frame--") or not line:
            break
        if not line.startswith(b"--frame"):
            continue
        headers = {}
        while (line := await reader.readline()) not in (b"\r\n", b""):
            key, _, value = line.decode().partition(":")
            headers[key.strip().lower()] = value.strip()
        assert headers["content-type"] == "image/jpeg"
        out.append((headers, await reader.readexactly(int(headers["content-length"]))))
    return out


async def watch(client, cam, stream, **query):
    resp = await client.get(stream_url(cam, stream, "video"), params=query)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"] == "multipart/x-mixed-replace; boundary=frame"
    return resp


async def test_video_is_mjpeg_at_about_the_stream_rate(client, mxid):
    cam = mxid("oak-d")
    await client.post(stream_url(cam, "CAM_A", "config"), json={"fps": 20})
    await activate(client, cam, "CAM_A")
    resp = await watch(client, cam, "CAM_A")
    got = await frames(resp, 21)
    assert len(got) == 21
    assert all(simplejpeg.decode_jpeg(jpeg).shape == (1080, 1920, 3) for _, jpeg in got[:3])
    # Each part says which frame it is and when it was taken, on the camera's clock: 20 frames a second.
    numbers = [int(h["x-frame-sequence"]) for h, _ in got]
    times = [float(h["x-frame-timestamp"]) for h, _ in got]
    assert numbers == sorted(set(numbers))
    assert (times[-1] - times[0]) / (numbers[-1] - numbers[0]) == pytest.approx(1 / 20, abs=1e-4)
    assert got[1][1] != got[2][1]            # live: the marker moves from frame to frame
    resp.close()


async def test_lower_rate_quality_and_width(client, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_A")
    resp = await watch(client, cam, "CAM_A", fps="5", quality="30", width="320")
    got = await frames(resp, 6)
    assert simplejpeg.decode_jpeg(got[0][1]).shape == (180, 320, 3)
    # At most 5 frames a second of the camera's 30: a frame at least a fifth of a second after the one before
    # (less one frame of the camera's, after frames came late), whatever the machine's load.
    times = [float(h["x-frame-timestamp"]) for h, _ in got]
    assert min(b - a for a, b in zip(times, times[1:])) >= 1 / 5 - 1 / 30 - 2e-4, times
    resp.close()


async def test_a_control_change_shows_in_the_next_frames(client, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_B")
    await client.post(stream_url(cam, "CAM_B", "control"), json={"auto_exposure_enable": False,
                                                                "exposure_time": 10000, "sensitivity_iso": 400})
    resp = await watch(client, cam, "CAM_B", width="320")
    before = mean(simplejpeg.decode_jpeg((await frames(resp, 1))[0][1], colorspace="GRAY"))
    await client.post(stream_url(cam, "CAM_B", "control"), json={"exposure_time": 2000})
    after = [mean(simplejpeg.decode_jpeg(j, colorspace="GRAY")) for _, j in await frames(resp, 3)]
    assert after[-1] < before * 0.5
    resp.close()


async def test_depth_video_is_the_8_bit_picture(client, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "DEPTH_B_C")
    resp = await watch(client, cam, "DEPTH_B_C")
    image = simplejpeg.decode_jpeg((await frames(resp, 1))[0][1], colorspace="GRAY")[..., 0]
    assert image.shape == (720, 1280) and image[360, int(1280 * 0.35)] > image[100, 640]
    resp.close()


async def test_each_frame_is_encoded_once_for_all_viewers(client, mxid):
    cam = mxid("oak-1")
    await client.post(stream_url(cam, "CAM_A", "config"), json={"fps": 10})
    await activate(client, cam, "CAM_A")
    viewers = [await watch(client, cam, "CAM_A", width="160") for _ in range(5)]
    got = await asyncio.gather(*(frames(v, 10) for v in viewers))
    feeds = list(client.app[VIDEO].feeds.values())
    assert len(feeds) == 1 and len(feeds[0].viewers) == 5
    assert feeds[0].stats.encodes <= 13                  # 10 frames each, encoded once (a few more may be in flight)
    assert all(len(g) == 10 for g in got)
    for v in viewers:
        v.close()
    await wait_until(lambda: not client.app[VIDEO].feeds)      # nobody watches: the feed stops


async def test_a_viewer_that_never_reads_holds_up_nobody_and_is_kept_the_newest_frame(client, mxid):
    """A client that asks for the video and then reads nothing (a small receive buffer, soon full): another
    viewer of the same feed gets every frame meanwhile, and what waits for the stuck one is the newest frame,
    never a queue of old ones."""
    import socket
    cam = mxid("oak-d")
    await client.post(stream_url(cam, "CAM_A", "config"), json={"fps": 30})
    await activate(client, cam, "CAM_A")
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect((client.server.host, client.server.port))
    stuck.sendall(f"GET {stream_url(cam, 'CAM_A', 'video')}?quality=95 HTTP/1.1\r\nHost: gateway\r\n\r\n".encode())
    try:
        await wait_until(lambda: sum(len(f.viewers) for f in client.app[VIDEO].feeds.values()) == 1, 30)
        [feed] = client.app[VIDEO].feeds.values()
        [waiting] = feed.viewers
        fast = await watch(client, cam, "CAM_A", quality="95")
        got = await frames(fast, 90, timeout=60)          # 3 s of video: the stuck socket is full long before
        assert len(got) == 90 and len(feed.viewers) == 2
        pending = waiting._latest
        recent = {j for _, j in got[-3:]} | {j for _, j in await frames(fast, 3)}
        assert pending.data in recent, "an old frame waits for the stuck viewer, not the newest"
        assert simplejpeg.decode_jpeg(pending.data).shape == (1080, 1920, 3)
        fast.close()
    finally:
        stuck.close()


async def test_unplugging_shows_no_signal_then_live_frames_again(client, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_A")
    resp = await watch(client, cam, "CAM_A", width="640")
    live = simplejpeg.decode_jpeg((await frames(resp, 1))[0][1])
    await client.post(f"/sim/cameras/{cam}/unplug")
    await wait_until(lambda: client.app[FLEET].get(cam).status == "disconnected")
    gray = lambda jpeg: simplejpeg.decode_jpeg_header(jpeg)[2] == "Gray"  # noqa: E731
    got = []
    while len([j for _, j in got if gray(j)]) < 3 and (part := await frames(resp, 1, timeout=3.5)):
        got += part
    no_signal = [j for _, j in got if gray(j)]
    assert len(no_signal) == 3
    assert not [h for h, j in got if j in no_signal and "x-frame-sequence" in h]      # no frame of the camera's
    image = simplejpeg.decode_jpeg(no_signal[-1], colorspace="GRAY")[..., 0]
    assert image.shape == (360, 640) and image.std() > 5 and live.std() > image.std()   # the text shows
    # Once a period, not at the frame rate: each shows the clock's next second (a picture is drawn once a second).
    assert len(set(no_signal)) == 3
    await client.post(f"/sim/cameras/{cam}/replug")
    await wait_until(lambda: client.app[FLEET].get(cam).status == "connected")
    back = await frames(resp, 10, timeout=6)
    assert simplejpeg.decode_jpeg_header(back[-1][1])[2] != "Gray"
    resp.close()


async def test_deactivating_ends_the_video_cleanly(client, mxid):
    cam = mxid("oak-1")
    await activate(client, cam, "CAM_A")
    resp = await watch(client, cam, "CAM_A", width="160")
    await frames(resp, 2)
    await client.delete(stream_url(cam, "CAM_A"))
    rest = await asyncio.wait_for(resp.content.read(), scaled(5))       # the response ends
    assert rest.rstrip().endswith(b"--frame--")


async def test_video_of_an_inactive_stream_is_409(client, mxid):
    await assert_error(await client.get(stream_url(mxid("oak-d"), "CAM_A", "video")), 409, "stream_inactive")


@pytest.mark.parametrize("query, field", [({"fps": "0"}, "fps"), ({"fps": "fast"}, "fps"),
                                          ({"quality": "0"}, "quality"), ({"quality": "101"}, "quality"),
                                          ({"quality": "8.5"}, "quality"), ({"width": "4000"}, "width"),
                                          ({"width": "8"}, "width"), ({"height": "5"}, "height")])
async def test_bad_video_parameters_are_422(client, mxid, query, field):
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_A")
    error = await assert_error(await client.get(stream_url(cam, "CAM_A", "video"), params=query), 422)
    assert field in error["fields"]


async def test_video_of_a_disconnected_camera_is_503(client, mxid):
    cam = mxid("oak-1")
    await activate(client, cam, "CAM_A")
    await client.post(f"/sim/cameras/{cam}/unplug")
    await wait_until(lambda: client.app[FLEET].get(cam).status == "disconnected")
    resp = await client.get(stream_url(cam, "CAM_A", "video"))
    await assert_error(resp, 503, "camera_unavailable")
    assert "Retry-After" in resp.headers


async def test_the_page_lists_cameras_and_is_plain_html(client):
    resp = await client.get("/")
    assert resp.status == 200 and resp.content_type == "text/html"
    text = await resp.text()
    assert "/cameras/" in text and "video" in text and "<script" in text


async def test_a_viewer_that_hangs_up_is_let_go_whatever_its_rate(client, mxid):
    cam = mxid("oak-1")
    await activate(client, cam, "CAM_A")
    hub = client.app[VIDEO]
    host, port = client.server.host, client.server.port
    writers = []
    for i in range(10):                  # each asks for a frame every few hours, then hangs up
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(f"GET {stream_url(cam, 'CAM_A', 'video')}?fps=0.000{i + 1} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        await writer.drain()
        assert b"200" in await reader.readline()
        writers.append(writer)
    await wait_until(lambda: hub.viewers_of(cam, "CAM_A") == 10)
    for writer in writers:
        writer.close()
    await wait_until(lambda: hub.viewers_of(cam, "CAM_A") == 0 and not hub.feeds, timeout=5)


async def test_feeds_per_stream_are_capped_and_a_viewer_is_told_what_it_got(client, mxid):
    cam = mxid("oak-1")
    await activate(client, cam, "CAM_A")
    hub = client.app[VIDEO]
    responses = []
    for quality in range(50, 60):
        resp = await watch(client, cam, "CAM_A", quality=str(quality), width="320")
        responses.append((quality, resp))
    assert len(hub.feeds) == 4                           # --max-feeds' default
    for quality, resp in responses:
        got = dict(part.split("=") for part in resp.headers["X-Video-Params"].split("; "))
        assert got["width"] == "320" and int(got["quality"]) in (50, 51, 52, 53)
        if quality <= 53:
            assert int(got["quality"]) == quality
        else:
            assert int(got["quality"]) == 53                 # the nearest feed there is
        assert len(await frames(resp, 1)) == 1
        resp.close()


async def test_a_viewer_can_ask_for_a_number_of_frames(client, mxid):
    cam = mxid("oak-1")
    await activate(client, cam, "CAM_A")
    resp = await watch(client, cam, "CAM_A", frames="3", width="320")
    body = await asyncio.wait_for(resp.read(), scaled(10))
    assert body.count(b"Content-Type: image/jpeg") == 3 and body.endswith(b"--frame--\r\n")


async def test_a_new_viewer_s_first_frame_is_taken_after_it_asked(client, mxid):
    # Not one held since the viewer before left (a gate keeps the last frame that crossed it, and the frame
    # that waited at it while closed): the camera's MJPEG, and raw frames encoded on the gateway.
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_A")
    for query in ({}, {"quality": "50"}, {}, {"quality": "50"}):
        asked = time.monotonic()
        resp = await watch(client, cam, "CAM_A", frames="1", **query)
        [(headers, _)] = await frames(resp, 1)
        assert float(headers["x-frame-timestamp"]) >= asked, (query, asked - float(headers["x-frame-timestamp"]))
        resp.close()
        await wait_until(lambda: not client.app[VIDEO].feeds)


async def test_a_stream_restart_keeps_its_viewers_without_no_signal(client, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_A")
    resp = await watch(client, cam, "CAM_A", width="320")
    await frames(resp, 3)
    for fps in (25, 20):            # each a restart of the stream (a rebuild on a camera)
        assert (await client.post(stream_url(cam, "CAM_A", "config"), json={"fps": fps})).status == 200
        got = await frames(resp, 15)
        assert len(got) == 15
        assert not [j for _, j in got if simplejpeg.decode_jpeg_header(j)[2] == "Gray"], "NO SIGNAL shown"
    resp.close()


@pytest.mark.parametrize("width, height, crop", [(640, 360, [0.25, 0.5]), (640, 480, [0.5, 0.25]),
                                                 (1280, 720, [0.25, 0.25])])
async def test_video_is_the_video_size_window_of_the_frame_on_every_backend(client, mxid, width, height, crop):
    """video_size cuts the video out of the frame at sensor_crop, as still_size does the still: both show the
    same pixels of the card. (On a camera the window is cut there; 1280x720 needs more than an ImageManip's
    default frame pool, R17.)"""
    cam = mxid("oak-1")
    window = {"video_size": [width, height], "still_size": [width, height], "sensor_crop": crop}
    assert (await client.post(stream_url(cam, "CAM_A", "config"), json=window)).status == 200
    await activate(client, cam, "CAM_A")
    resp = await watch(client, cam, "CAM_A", quality=100)
    (_, jpeg), = await frames(resp, 1)
    resp.close()
    video = simplejpeg.decode_jpeg(jpeg).astype(int)
    still = simplejpeg.decode_jpeg(await (await client.get(stream_url(cam, "CAM_A", "still"))).read()).astype(int)
    assert video.shape == still.shape == (height, width, 3)
    top = slice(0, height * 5 // 6)              # above the moving square that marks live video
    assert abs(video[top] - still[top]).mean() < 3
    async with client.ws_connect(stream_url(cam, "CAM_A", "video")) as ws:
        init = (await asyncio.wait_for(ws.receive(), scaled(10))).data
    assert b"avc1" in init and width.to_bytes(2, "big") + b"\x00\x00" + height.to_bytes(2, "big") in init


async def test_video_and_preview_of_a_shut_down_camera_are_409_as_its_stills(client, mxid):
    cam = mxid("oak-1")
    await activate(client, cam, "CAM_A")
    assert (await client.delete(f"/cameras/{cam}/")).status == 200
    for tail in ("video", "preview", "still"):
        await assert_error(await client.get(stream_url(cam, "CAM_A", tail)), 409, "camera_shut_down")
