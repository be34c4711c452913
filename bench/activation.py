"""Activation and config changes on the DepthAI backend over its test stand-in: 200 activate/deactivate
toggles of one stream, then config changes of an active one on a USB camera (OAK-D) and a PoE camera
(OAK-D-LR), with the device opens, pipelines and reconnects each costs, the median time of each, and whether
the camera ever left `connected`. The stand-in's cameras take REBOOT seconds to be listed again after a
rebuild closed them (its model of a reboot, not a measurement of a camera). Then the link bytes a second of
a 1080p30 colour stream the camera encodes, with nobody watching and with a viewer of raw frames (MJPEG at
another quality, encoded on the gateway), on a USB3 and a PoE (GigE) link as the stand-in models them.
ACTIVATION_SCALE scales counts and durations."""
from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from standin import Bus  # noqa: E402

from actors.depthai_backend import DepthAIBackend  # noqa: E402
from actors.simulated.models import mxid_for  # noqa: E402
from service.app import create_app  # noqa: E402
from service.inputs import FLEET  # noqa: E402

SCALE = float(os.environ.get("ACTIVATION_SCALE", 1))
TOGGLES, CHANGES = max(2, round(200 * SCALE)), max(2, round(20 * SCALE))
REBOOT = {"usb": 1.5, "poe": 4.0}        # the stand-in's reboot before a closed camera is listed again


async def toggles() -> None:
    bus = Bus(["oak-d"])
    app = create_app(DepthAIBackend(bus.dai), device_timeout=10, discovery_interval=1)
    server = TestServer(app)
    await server.start_server()
    board, mxid = bus.boards[0], mxid_for("oak-d", 0)
    url = f"http://127.0.0.1:{server.port}/cameras/{mxid}/streams/CAM_A/"
    while not app[FLEET].actors or app[FLEET].get(mxid).status != "connected":
        await asyncio.sleep(0.01)
    async with ClientSession() as session:
        async def call(method: str, path: str = "", **kw) -> None:
            async with session.request(method, url + path, **kw) as resp:
                assert resp.status in (200, 204), await resp.text()

        await call("POST")                        # the first activation builds the pipeline
        await call("DELETE")
        opens, pipelines, took = board.counts["opens"], board.counts["pipelines"], []
        for _ in range(TOGGLES):
            start = time.perf_counter()
            await call("POST")
            await call("DELETE")
            took.append(time.perf_counter() - start)
        print(f"toggles: {TOGGLES}, device opens per toggle {(board.counts['opens'] - opens) / TOGGLES:g}, "
              f"pipelines per toggle {(board.counts['pipelines'] - pipelines) / TOGGLES:g}, "
              f"median {statistics.median(took) * 1000:.2f} ms (activate + deactivate)")
    await server.close()


async def changes(model: str) -> None:
    """Config changes that rebuild, on a camera that reboots as the stand-in's `model` does."""
    bus = Bus([model])
    bus.reboot = REBOOT
    app = create_app(DepthAIBackend(bus.dai), device_timeout=10, discovery_interval=1)
    server = TestServer(app)
    await server.start_server()
    board, mxid = bus.boards[0], mxid_for(model, 0)
    actor = None
    while actor is None or actor.status != "connected":
        await asyncio.sleep(0.01)
        actor = app[FLEET].get(mxid)
    left = []

    async def watch() -> None:
        while True:
            if actor.status != "connected":
                left.append(actor.status)
            await asyncio.sleep(0.005)
    watching = asyncio.create_task(watch())
    url = f"http://127.0.0.1:{server.port}/cameras/{mxid}/streams/CAM_B/"
    async with ClientSession() as session:
        async with session.post(url) as resp:
            assert resp.status == 204, await resp.text()
        opens, pipelines, took, statuses = board.counts["opens"], board.counts["pipelines"], [], set()
        for i in range(CHANGES):
            start = time.perf_counter()
            async with session.post(url + "config", json={"fps": 20 if i % 2 == 0 else 25}) as resp:
                statuses.add(resp.status)
            took.append(time.perf_counter() - start)
    watching.cancel()
    protocol = board.info.protocol
    print(f"config changes on {model} ({protocol}, reboot {REBOOT[protocol]:g} s on the stand-in): {CHANGES}, "
          f"answers {sorted(statuses)}, device opens per change {(board.counts['opens'] - opens) / CHANGES:g}, "
          f"pipelines per change {(board.counts['pipelines'] - pipelines) / CHANGES:g}, reconnects "
          f"{actor.reconnects}, left connected: {'never' if not left else sorted(set(left))}, "
          f"median {statistics.median(took) * 1000:.0f} ms")
    await server.close()


async def link(kind: str) -> None:
    """Link bytes a second of CAM_A (1080p, 30 fps, H.264 and MJPEG from the camera's encoder) of an OAK-D on
    a `kind` link ("usb3" or "gige"): without a viewer, with one of the camera's MJPEG, with one that needs raw
    frames."""
    bus = Bus(["oak-d"])
    bus.boards[0].link = kind
    app = create_app(DepthAIBackend(bus.dai), device_timeout=10, discovery_interval=1)
    server = TestServer(app)
    await server.start_server()
    board, mxid = bus.boards[0], mxid_for("oak-d", 0)
    while not app[FLEET].actors or app[FLEET].get(mxid).status != "connected":
        await asyncio.sleep(0.01)
    url = f"http://127.0.0.1:{server.port}/cameras/{mxid}/streams/CAM_A/"
    window, settle = max(0.5, 3 * SCALE), min(1.0, max(0.3, 10 * SCALE))    # a measurement, a wait for a change to settle

    async def rate() -> dict[str, float]:
        before, start = dict(board.link_bytes), time.perf_counter()
        await asyncio.sleep(window)
        took = time.perf_counter() - start
        return {k: (board.link_bytes[("CAM_A", k)] - before.get(("CAM_A", k), 0)) / took for k in ("raw", "h264", "mjpeg")}

    async with ClientSession() as session:
        async with session.post(url) as resp:
            assert resp.status == 204, await resp.text()
        await asyncio.sleep(settle)
        alone = await rate()

        async def watched(params: dict) -> dict[str, float]:
            async def watch() -> None:
                async with session.get(url + "video", params=params) as resp:
                    async for _ in resp.content.iter_any():
                        pass
            viewer = asyncio.create_task(watch())
            await asyncio.sleep(settle)
            got = await rate()
            viewer.cancel()
            await asyncio.sleep(settle / 2)
            return got
        camera_jpegs = await watched({})
        raw = await watched({"quality": 50})
    mb = lambda r: (f"{sum(r.values()) / 1e6:.1f} MB/s (raw {r['raw'] / 1e6:.1f}, H.264 {r['h264'] / 1e6:.2f}, "  # noqa: E731
                    f"MJPEG {r['mjpeg'] / 1e6:.2f})")
    print(f"link of a camera-encoded 1080p30 stream on {kind} (the stand-in's link model): nobody watching "
          f"{mb(alone)}; with a viewer of the camera's MJPEG {mb(camera_jpegs)}; with a viewer of raw frames "
          f"(another quality) {mb(raw)}")
    await server.close()


async def main() -> None:
    await toggles()
    for model in ("oak-d", "oak-d-lr"):
        await changes(model)
    for kind in ("usb3", "gige"):
        await link(kind)


if __name__ == "__main__":
    asyncio.run(main())
