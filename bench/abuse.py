"""Hostile clients against the service on simulated cameras, one after another, with /healthz probed every
50 ms throughout: requests to paths that match no route, video viewers asking for a frame every few hours
that hang up, and slowloris (idle connections past the connection cap). Prints RSS before, during and after
each, /healthz latency (median and p99) under each, and whether the service is still alive."""
from __future__ import annotations

import asyncio
import os
import statistics
import time

import aiohttp

from common import proc_stat, service

CAM = "863F25B05C53186695"            # the simulated OAK-D
VIDEO = f"/cameras/{CAM}/streams/CAM_A/video"


class Probe:
    """/healthz every 50 ms, each on a new connection (as a load balancer probes), recording the latency."""

    def __init__(self, base: str):
        self.base, self.times, self.failures = base, [], 0

    async def run(self, stop: asyncio.Event) -> None:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
            while not stop.is_set():
                started = time.perf_counter()
                try:
                    async with session.get(self.base + "/healthz", timeout=aiohttp.ClientTimeout(total=5)) as r:
                        await r.read()
                        ok = r.status == 200
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    ok = False
                if ok:
                    self.times.append((time.perf_counter() - started) * 1000)
                else:
                    self.failures += 1
                await asyncio.sleep(0.05)


async def unmatched(base: str, seconds: float) -> None:
    """8 clients asking for paths that match no route, as fast as they can."""
    async def one(i: int) -> None:
        async with aiohttp.ClientSession() as session:
            n, end = 0, time.monotonic() + seconds
            while time.monotonic() < end:
                async with session.get(f"{base}/nope/{i}/{n}") as r:
                    await r.read()
                n += 1
    await asyncio.gather(*(one(i) for i in range(8)))


async def leaving_viewers(base: str, seconds: float) -> None:
    """200 viewers each asking for a frame every few hours, hanging up after 2 s, in rounds."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sockets = []
        for i in range(200):
            reader, writer = await asyncio.open_connection("127.0.0.1", int(base.rsplit(":", 1)[1]))
            writer.write(f"GET {VIDEO}?fps=0.0001{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            sockets.append(writer)
        await asyncio.sleep(2)
        for writer in sockets:
            writer.close()


async def slowloris(base: str, seconds: float) -> None:
    """1,100 connections that never finish a request (the cap is 1,024), held open: past the cap the oldest
    of them are closed to make room."""
    port = int(base.rsplit(":", 1)[1])
    held = []
    for _ in range(1100):
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")         # and never the blank line
            held.append(writer)
        except OSError:
            break
    await asyncio.sleep(seconds)
    for writer in held:
        writer.close()


async def phase(name: str, base, attack, seconds: float) -> None:
    probe, stop = Probe(base), asyncio.Event()
    probing = asyncio.create_task(probe.run(stop))
    rss_before = proc_stat(base.pid)[1]
    attacking = asyncio.create_task(attack(base, seconds))
    await asyncio.sleep(seconds / 2)
    rss_during = proc_stat(base.pid)[1]
    await attacking
    await asyncio.sleep(3)                  # the clients have gone: what does the service keep?
    rss_after = proc_stat(base.pid)[1]
    stop.set()
    await probing
    times = sorted(probe.times)
    p99 = times[int(len(times) * 0.99) - 1] if times else float("nan")
    print(f"{name:>16}: RSS {rss_before / 1024:.1f} -> {rss_during / 1024:.1f} -> {rss_after / 1024:.1f} MB "
          f"(after/before {rss_after / rss_before:.2f}); /healthz median {statistics.median(times):.2f} ms, "
          f"p99 {p99:.2f} ms, {probe.failures} failed of {len(times) + probe.failures}")


async def main() -> None:
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")       # as the systemd unit runs it
    with service("oak-d") as base:
        cold = proc_stat(base.pid)[1]
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{base}/cameras/{CAM}/streams/CAM_A/") as r:
                assert r.status == 204, await r.text()
            # Warm up as a day's use would: the picture cache, the encoder and reader threads, 4 video feeds.
            for quality in (60, 70, 80, 90):
                async with session.get(f"{base}{VIDEO}?frames=30&quality={quality}") as r:
                    await r.read()
        print(f"RSS {cold / 1024:.1f} MB cold, {proc_stat(base.pid)[1] / 1024:.1f} MB after watching 4 feeds")
        await phase("unmatched routes", base, unmatched, 10)
        await phase("leaving viewers", base, leaving_viewers, 10)
        await phase("slowloris", base, slowloris, 10)
        alive = base.pid and proc_stat(base.pid)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/healthz") as r:
                print(f"alive at the end: {r.status == 200} (pid {base.pid}, RSS {alive[1] / 1024:.1f} MB)")


if __name__ == "__main__":
    asyncio.run(main())
