"""Activation and config changes on the DepthAI backend over its test stand-in: 200 activate/deactivate
toggles of one stream and 20 config changes of an active one, with the device opens and pipelines each
costs and the median time of each (on the stand-in the time is the service's own; on a camera a rebuild
adds the reboot, a toggle only two messages)."""
from __future__ import annotations

import asyncio
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

TOGGLES, CHANGES = 200, 20


async def main() -> None:
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
        await call("POST")
        opens, pipelines, took = board.counts["opens"], board.counts["pipelines"], []
        for i in range(CHANGES):
            start = time.perf_counter()
            await call("POST", "config", json={"fps": 25 if i % 2 == 0 else 30})
            took.append(time.perf_counter() - start)
        print(f"config changes: {CHANGES}, device opens per change {(board.counts['opens'] - opens) / CHANGES:g}, "
              f"pipelines per change {(board.counts['pipelines'] - pipelines) / CHANGES:g}, "
              f"median {statistics.median(took) * 1000:.2f} ms")
    await server.close()


if __name__ == "__main__":
    asyncio.run(main())
