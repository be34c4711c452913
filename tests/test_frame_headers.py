"""Stills and previews say which frame they are, when it was taken and with what exposure, ISO and lens
position; a network's results carry the same number and time for the same frame."""
import asyncio
import json
import time

import aiohttp
from aiohttp import WSMsgType

from conftest import activate, stream_url
from test_nn import deploy
from timing import scaled

TIMES = ("X-Frame-Sequence", "X-Frame-Timestamp", "X-Frame-Device-Timestamp", "X-Frame-Host-Time")


def frame_of(resp) -> dict:
    assert resp.status == 200
    return {name: (int if name == "X-Frame-Sequence" else float)(resp.headers[name]) for name in TIMES}


async def test_a_still_says_which_frame_it_is_and_how_it_was_taken(client, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_A")
    await client.post(stream_url(cam, "CAM_A", "control"), json={
        "auto_exposure_enable": False, "exposure_time": 4000, "sensitivity_iso": 800,
        "focus": {"auto_focus_mode": "OFF", "lens_position": 0.6}})
    first = await client.get(stream_url(cam, "CAM_A", "still"))
    assert first.headers["X-Exposure-Time"] == "4000" and first.headers["X-Sensitivity-ISO"] == "800"
    assert float(first.headers["X-Lens-Position"]) == 0.6
    before = frame_of(first)
    assert before["X-Frame-Timestamp"] <= time.monotonic()               # the gateway's monotonic clock
    assert 0 <= before["X-Frame-Device-Timestamp"] <= before["X-Frame-Timestamp"]   # the camera's, since boot
    assert abs(before["X-Frame-Host-Time"] - time.time()) < 60           # Unix time
    after = frame_of(await client.get(stream_url(cam, "CAM_A", "still") + "?format=png"))
    assert after["X-Frame-Sequence"] > before["X-Frame-Sequence"]
    assert all(after[name] > before[name] for name in TIMES[1:])
    # Automatic exposure reports what the algorithm chose, and autofocus where it put the lens.
    await client.post(stream_url(cam, "CAM_A", "control"), json={
        "auto_exposure_enable": True, "focus": {"auto_focus_mode": "CONTINUOUS_VIDEO"}})
    auto = await client.get(stream_url(cam, "CAM_A", "still"))          # taken after the update
    control = await (await client.get(stream_url(cam, "CAM_A", "control"))).json()
    assert int(auto.headers["X-Exposure-Time"]) == control["exposure_time"] != 4000
    assert 0 <= float(auto.headers["X-Lens-Position"]) <= 1

    # Mono: exposure and ISO, and no lens position (fixed focus); depth: the frame's number and times only.
    await activate(client, cam, "CAM_B")
    mono = await client.get(stream_url(cam, "CAM_B", "still"))
    frame_of(mono)
    assert int(mono.headers["X-Sensitivity-ISO"]) >= 100 and "X-Lens-Position" not in mono.headers
    await activate(client, cam, "DEPTH_B_C")
    depth = await client.get(stream_url(cam, "DEPTH_B_C", "still") + "?depth_mm=true")
    frame_of(depth)
    assert not {"X-Exposure-Time", "X-Sensitivity-ISO", "X-Lens-Position"} & set(depth.headers)


async def test_a_preview_says_which_frame_it_is_and_how_it_was_taken(client, mxid):
    cam = mxid("oak-1")
    await activate(client, cam, "CAM_A")
    await client.post(stream_url(cam, "CAM_A", "control"), json={
        "auto_exposure_enable": False, "exposure_time": 2500, "sensitivity_iso": 300,
        "focus": {"auto_focus_mode": "OFF", "lens_position": 0.25}})
    still = frame_of(await client.get(stream_url(cam, "CAM_A", "still")))
    resp = await client.get(stream_url(cam, "CAM_A", "preview"))
    preview = frame_of(resp)
    assert resp.headers["X-Exposure-Time"] == "2500" and resp.headers["X-Sensitivity-ISO"] == "300"
    assert float(resp.headers["X-Lens-Position"]) == 0.25
    assert preview["X-Frame-Sequence"] > still["X-Frame-Sequence"]
    assert preview["X-Frame-Timestamp"] > still["X-Frame-Timestamp"]


async def test_a_browser_on_another_origin_may_read_the_frame_headers(aiohttp_client, backend, state_dir, mxid):
    from conftest import serve, wait_until
    from service.app import create_app
    from service.inputs import FLEET
    app = create_app(backend, state_dir=state_dir, cors_origins=["https://fleet.example"])
    client = await aiohttp_client(await serve(app))
    await wait_until(lambda: all(a.status == "connected" for a in app[FLEET].actors.values()))
    cam = mxid("oak-1")
    await activate(client, cam, "CAM_A")
    resp = await client.get(stream_url(cam, "CAM_A", "still"), headers={"Origin": "https://fleet.example"})
    exposed = {h.strip() for h in resp.headers["Access-Control-Expose-Headers"].split(",")}
    assert set(TIMES) | {"X-Exposure-Time", "X-Sensitivity-ISO", "X-Lens-Position"} <= exposed


async def test_a_detection_and_a_still_of_the_same_frame_carry_the_same_number_and_time(client, mxid):
    cam = mxid("oak-1")
    await client.post(stream_url(cam, "CAM_A", "config"), json={"fps": 10})
    await activate(client, cam, "CAM_A")
    await deploy(client, cam, "CAM_A")
    seen: dict[int, float] = {}
    async with client.ws_connect(stream_url(cam, "CAM_A", "nn"), timeout=aiohttp.ClientWSTimeout(ws_close=5)) as ws:

        async def read() -> None:
            while True:
                message = await ws.receive()
                if message.type != WSMsgType.TEXT:
                    return
                result = json.loads(message.data)
                seen[result["sequence"]] = result["timestamp"]

        reader = asyncio.create_task(read())
        try:
            matched = 0
            for _ in range(30):               # a slow reader may miss a result; the next still is matched then
                still = frame_of(await client.get(stream_url(cam, "CAM_A", "still")))
                number = still["X-Frame-Sequence"]
                deadline = asyncio.get_running_loop().time() + scaled(5)
                while max(seen, default=-1) <= number and asyncio.get_running_loop().time() < deadline:
                    await asyncio.sleep(0.02)
                if number in seen:
                    assert abs(seen[number] - still["X-Frame-Timestamp"]) < 1e-5, (seen[number], still)
                    matched += 1
                    if matched == 3:
                        break
            assert matched == 3, (sorted(seen)[-5:], still)
        finally:
            reader.cancel()
