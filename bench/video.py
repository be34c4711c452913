"""Live video: one 1280x720 30 fps simulated stream, watched first by 50 MJPEG clients, then by 20 WebSocket
(H.264 in fragmented MP4) clients, 30 s each.

Prints for each: the clients' frame rates (min, median), encodes a second (from /metrics), the service's CPU
use, its RSS after 5 s and at the end, and the bytes a second each client receives; then the ratio of MJPEG's
bytes to H.264's for the same picture. VIDEO_SECONDS, VIDEO_CLIENTS and WS_CLIENTS override 30, 50 and 20.
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
WS_CLIENTS = int(os.environ.get("WS_CLIENTS", 20))
MARK = b"--frame\r\nContent-Type: image/jpeg"


async def encodes(session, base) -> float:
    text = await (await session.get(f"{base}/metrics")).text()
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "stream_encodes_total")


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


async def watch(session, base, pid, url, viewer, clients) -> float:
    """One phase: `clients` viewers for SECONDS; prints its figures, returns bytes a second per client."""
    frames, sizes = [0] * clients, [0] * clients
    end = time.monotonic() + SECONDS
    tasks = [asyncio.create_task(viewer(session, url, end, frames, sizes, i)) for i in range(clients)]
    await asyncio.sleep(5)
    cpu5, rss5 = proc_stat(pid)
    enc5, frames5, sizes5, t5 = await encodes(session, base), list(frames), list(sizes), time.monotonic()
    await asyncio.gather(*tasks)
    cpu_end, rss_end = proc_stat(pid)
    enc_end, t_end = await encodes(session, base), time.monotonic()
    span = t_end - t5
    rates = sorted((c - c5) / span for c, c5 in zip(frames, frames5))
    rate_bytes = statistics.median((s - s5) / span for s, s5 in zip(sizes, sizes5))
    print(f"  per-client frame rate: min {rates[0]:.1f}, median {statistics.median(rates):.1f}, "
          f"max {rates[-1]:.1f} frames/s (target: every client >= 25)")
    print(f"  encodes: {(enc_end - enc5) / span:.1f} a second (target: the frame rate, 30, not x{clients})")
    print(f"  service CPU: {(cpu_end - cpu5) / span:.2f} cores")
    print(f"  service RSS: {rss5 / 1024:.1f} MB after 5 s, {rss_end / 1024:.1f} MB at the end "
          f"(target: within 10 MB)")
    print(f"  received: {rate_bytes / 1000:.0f} kB/s per client (median)")
    return rate_bytes


async def main():
    with service("oak-d-lr") as base:
        pid = base.pid
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CLIENTS + WS_CLIENTS + 5)) as session:
            mxid = (await (await session.get(f"{base}/cameras/")).json())[0]["mxid"]
            stream = f"{base}/cameras/{mxid}/streams/CAM_A/"
            await session.post(stream + "config", json={"resolution": "THE_720_P", "fps": 30})
            await session.post(stream)
            print(f"video: one 1280x720 30 fps stream, {SECONDS:g} s a phase (figures from 5 s on)")
            print(f"MJPEG (quality 80), {CLIENTS} clients:")
            mjpeg = await watch(session, base, pid, stream + "video", mjpeg_viewer, CLIENTS)
            print(f"H.264 over WebSocket, {WS_CLIENTS} clients:")
            h264 = await watch(session, base, pid, stream.replace("http", "ws", 1) + "video", ws_viewer, WS_CLIENTS)
    print(f"bytes per client: MJPEG / H.264 = {mjpeg / h264:.1f} (the same picture)")


if __name__ == "__main__":
    asyncio.run(main())
