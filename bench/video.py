"""Live video: one 1280x720 30 fps simulated stream (the issue's figures are for 1080p30; 720p keeps 50 viewers
within one core here), watched in turn by nobody, 1 and 50 MJPEG clients, and 1 and 50 WebSocket (H.264 in
fragmented MP4) clients, 30 s each.

Prints one row a phase: the service's threads and CPU (cores), the clients' frame rates (min, median), encodes a
second (from /metrics), its RSS after the warm-up and at the end, and the bytes a second each client receives;
then the ratio of MJPEG's bytes to H.264's for the same picture. The phase with nobody watching is the cost of
reading frames alone. VIDEO_SECONDS, VIDEO_CLIENTS and WS_CLIENTS override 30, 50 and 50.
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
WS_CLIENTS = int(os.environ.get("WS_CLIENTS", 50))
WARMUP = min(5.0, SECONDS / 2)       # s before the figures are read
MARK = b"--frame\r\nContent-Type: image/jpeg"


async def encodes(session, base) -> float:
    text = await (await session.get(f"{base}/metrics")).text()
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "stream_encodes_total")


def threads(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Threads:"))


async def mjpeg_viewer(session, url, end, frames, sizes, index):
    async with session.get(url) as resp:
        tail = b""
        async for chunk in resp.content.iter_any():
            data = tail + chunk
            frames[index] += data.count(MARK)
            sizes[index] += len(chunk)
            tail = data[-len(MARK):]
            if time.monotonic() >= end:
                return


async def ws_viewer(session, url, end, frames, sizes, index):
    async with session.ws_connect(url, max_msg_size=0) as ws:
        async for message in ws:
            frames[index] += 1
            sizes[index] += len(message.data)
            if time.monotonic() >= end:
                return


async def watch(session, base, pid, url, viewer, clients) -> tuple[str, float]:
    """One phase: `clients` viewers for SECONDS; its row of figures, and the bytes a second per client."""
    frames, sizes = [0] * clients, [0] * clients
    end = time.monotonic() + SECONDS
    tasks = [asyncio.create_task(viewer(session, url, end, frames, sizes, i)) for i in range(clients)]
    await asyncio.sleep(WARMUP)
    cpu5, rss5 = proc_stat(pid)
    enc5, frames5, sizes5, t5 = await encodes(session, base), list(frames), list(sizes), time.monotonic()
    await asyncio.gather(*tasks)
    await asyncio.sleep(max(0.0, end - time.monotonic()))         # nobody watching: the phase lasts as long
    count = threads(pid)
    cpu_end, rss_end = proc_stat(pid)
    enc_end, t_end = await encodes(session, base), time.monotonic()
    span = t_end - t5
    rates = sorted((c - c5) / span for c, c5 in zip(frames, frames5)) or [0.0]
    rate_bytes = statistics.median((s - s5) / span for s, s5 in zip(sizes, sizes5)) if clients else 0.0
    row = (f"{count:7d} {(cpu_end - cpu5) / span:6.2f} {rates[0]:6.1f} {statistics.median(rates):6.1f} "
           f"{(enc_end - enc5) / span:8.1f} {rss5 / 1024:7.1f} {rss_end / 1024:7.1f} {rate_bytes / 1000:8.0f}")
    return row, rate_bytes


async def main():
    with service("oak-d-lr") as base:
        pid = base.pid
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CLIENTS + WS_CLIENTS + 5)) as session:
            mxid = (await (await session.get(f"{base}/cameras/")).json())[0]["mxid"]
            stream = f"{base}/cameras/{mxid}/streams/CAM_A/"
            await session.post(stream + "config", json={"resolution": "THE_720_P", "fps": 30})
            await session.post(stream)
            mjpeg, ws = stream + "video", stream.replace("http", "ws", 1) + "video"
            print(f"video: one 1280x720 30 fps stream, {SECONDS:g} s a phase (figures from {WARMUP:g} s on)")
            print(f"{'viewers':<22} {'threads':>7} {'cores':>6} {'fps min':>6} {'median':>6} {'encodes/s':>8} "
                  f"{'RSS MB':>7} {'at end':>7} {'kB/s each':>8}")
            rates = {}
            for label, url, viewer, clients in (("nobody", mjpeg, mjpeg_viewer, 0),
                                                ("1 MJPEG (quality 80)", mjpeg, mjpeg_viewer, 1),
                                                (f"{CLIENTS} MJPEG", mjpeg, mjpeg_viewer, CLIENTS),
                                                ("1 H.264 WebSocket", ws, ws_viewer, 1),
                                                (f"{WS_CLIENTS} H.264 WebSocket", ws, ws_viewer, WS_CLIENTS)):
                row, rates[label] = await watch(session, base, pid, url, viewer, clients)
                print(f"{label:<22} {row}", flush=True)
    print(f"bytes per client: MJPEG / H.264 = {rates[f'{CLIENTS} MJPEG'] / rates[f'{WS_CLIENTS} H.264 WebSocket']:.1f} "
          "(the same picture)")


if __name__ == "__main__":
    asyncio.run(main())
