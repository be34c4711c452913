"""Neural network results: a MobileNet network on one 1280x720 30 fps simulated stream, its WebSocket watched
by 1 client, then by 50, 20 s each, side by side in one run.

Prints for each: the clients' message rates (min, median), the service's CPU use and RSS; then the ratio of
CPU at 50 clients to CPU at 1 (one reader per network, whatever the number of watchers: the extra cost is
only sending). NN_SECONDS and NN_CLIENTS override 20 and 50.
"""
import asyncio
import os
import statistics
import sys
import time

import aiohttp

from common import ROOT, proc_stat, service

sys.path.insert(0, str(ROOT / "tests"))
import blobs  # noqa: E402 (a model file depthai accepts)

SECONDS = float(os.environ.get("NN_SECONDS", 20))
CLIENTS = int(os.environ.get("NN_CLIENTS", 50))
WARMUP = min(3.0, SECONDS / 2)       # s before the figures are read


async def watcher(session, url, end, counts, index):
    async with session.ws_connect(url) as ws:
        async for _ in ws:
            counts[index] += 1
            if time.monotonic() >= end:
                return


async def phase(session, pid, url, clients) -> float:
    counts = [0] * clients
    end = time.monotonic() + SECONDS
    tasks = [asyncio.create_task(watcher(session, url, end, counts, i)) for i in range(clients)]
    await asyncio.sleep(WARMUP)
    cpu3, _ = proc_stat(pid)
    counts3, t3 = list(counts), time.monotonic()
    await asyncio.gather(*tasks)
    cpu_end, rss = proc_stat(pid)
    span = time.monotonic() - t3
    rates = sorted((c - c3) / span for c, c3 in zip(counts, counts3))
    cores = (cpu_end - cpu3) / span
    print(f"  per-client results: min {rates[0]:.1f}, median {statistics.median(rates):.1f} a second "
          f"(target: the stream's 30)")
    print(f"  service CPU: {cores:.2f} cores, RSS {rss / 1024:.1f} MB")
    return cores


async def main():
    with service("oak-d") as base:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CLIENTS + 5)) as session:
            mxid = (await (await session.get(f"{base}/cameras/")).json())[0]["mxid"]
            stream = f"{base}/cameras/{mxid}/streams/CAM_A/"
            await session.post(stream + "config", json={"resolution": "THE_720_P", "fps": 30})
            await session.post(stream)
            form = aiohttp.FormData()
            form.add_field("model", blobs.blob(), filename="mobilenet.blob")
            form.add_field("config", '{"type": "MobileNet", "labels": ["bars", "star"]}')
            assert (await session.post(stream + "nn", data=form)).status == 200
            url = stream.replace("http", "ws", 1) + "nn"
            print(f"nn results: MobileNet on one 1280x720 30 fps stream, {SECONDS:g} s a phase (figures from {WARMUP:g} s on)")
            print("1 client:")
            one = await phase(session, base.pid, url, 1)
            print(f"{CLIENTS} clients:")
            many = await phase(session, base.pid, url, CLIENTS)
    print(f"CPU, {CLIENTS} clients / 1 client: {many / max(one, 1e-3):.1f}")


if __name__ == "__main__":
    asyncio.run(main())
