"""Live video: one 1280x720 30 fps stream watched by 50 clients for 30 s.

Prints each client's frame rate (min, median), encodes a second (from /metrics), the service's CPU use and
its RSS after 5 s and at the end. VIDEO_SECONDS and VIDEO_CLIENTS override 30 and 50.
"""
import asyncio
import os
import statistics
import time

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from common import proc_stat, service

SECONDS = float(os.environ.get("VIDEO_SECONDS", 30))
CLIENTS = int(os.environ.get("VIDEO_CLIENTS", 50))
MARK = b"--frame\r\nContent-Type: image/jpeg"


async def encodes(session, base) -> float:
    text = await (await session.get(f"{base}/metrics")).text()
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "stream_encodes_total")


async def viewer(session, url, end, counts, index):
    async with session.get(url) as resp:
        tail = b""
        async for chunk in resp.content.iter_any():
            data = tail + chunk
            counts[index] += data.count(MARK)
            tail = data[-len(MARK):]
            if time.monotonic() >= end:
                return


async def main():
    with service("oak-d-lr") as base:
        pid = base.pid
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CLIENTS + 5)) as session:
            mxid = (await (await session.get(f"{base}/cameras/")).json())[0]["mxid"]
            stream = f"{base}/cameras/{mxid}/streams/CAM_A/"
            await session.post(stream + "config", json={"resolution": "THE_720_P", "fps": 30})
            await session.post(stream)
            counts = [0] * CLIENTS
            start = time.monotonic()
            end = start + SECONDS
            tasks = [asyncio.create_task(viewer(session, stream + "video", end, counts, i)) for i in range(CLIENTS)]
            await asyncio.sleep(5)
            cpu5, rss5 = proc_stat(pid)
            enc5, counts5, t5 = await encodes(session, base), list(counts), time.monotonic()
            await asyncio.gather(*tasks)
            cpu_end, rss_end = proc_stat(pid)
            enc_end, t_end = await encodes(session, base), time.monotonic()
    span = t_end - t5
    rates = sorted((c - c5) / span for c, c5 in zip(counts, counts5))
    print(f"video: {CLIENTS} clients on one 1280x720 30 fps stream for {SECONDS:g} s (figures from 5 s on)")
    print(f"  per-client frame rate: min {rates[0]:.1f}, median {statistics.median(rates):.1f}, "
          f"max {rates[-1]:.1f} frames/s (target: every client >= 25)")
    print(f"  encodes: {(enc_end - enc5) / span:.1f} a second (target: the frame rate, 30, not x{CLIENTS})")
    print(f"  service CPU: {(cpu_end - cpu5) / span:.2f} cores (target < 1)")
    print(f"  service RSS: {rss5 / 1024:.1f} MB after 5 s, {rss_end / 1024:.1f} MB at the end "
          f"(target: within 10 MB)")


if __name__ == "__main__":
    asyncio.run(main())
