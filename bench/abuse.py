"""Hostile clients against the service on simulated cameras, one round after another, with /healthz probed every
50 ms on new connections throughout. Each round prints the service's RSS, threads and open files before and
after (and RSS during), the /healthz median and p99 during it, and failed probes; at the end, whether the
service is still alive. Rounds: paths that match no route; MJPEG viewers asking for a frame every few hours
that hang up; slowloris (idle connections past the cap); H.264 sessions that take two messages and leave;
MJPEG `?frames=1` one after another; bodies that never arrive; clients that hang up mid-body; empty and
bomb model uploads; multipart bodies of 100,000 parts; networks whose outputs are too large.

ABUSE_SCALE (1) scales every round's count and duration: the suite runs it at a small scale so that it keeps
working; the figures come from a full run (`make bench-abuse`).
"""
from __future__ import annotations

import asyncio
import io
import json
import lzma
import os
import statistics
import sys
import tarfile
import time
from pathlib import Path

import aiohttp

from common import proc_stat, service

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import blobs  # noqa: E402 (the model files the tests make)

SCALE = float(os.environ.get("ABUSE_SCALE", 1))
BODY_TIMEOUT = max(1.0, 10 * SCALE)       # the service's --body-timeout, 10 s at full scale as by default
CAM = "863F25B05C53186695"            # the simulated OAK-D
VIDEO = f"/cameras/{CAM}/streams/CAM_A/video"
NN = f"/cameras/{CAM}/streams/CAM_A/nn"


def count(n: int) -> int:
    return max(1, round(n * SCALE))


def port_of(base: str) -> int:
    return int(base.rsplit(":", 1)[1])


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


def resources(pid: int) -> tuple[int, int, int]:
    """RSS in kB, threads (native ones too) and open file descriptors of the service."""
    return proc_stat(pid)[1], len(os.listdir(f"/proc/{pid}/task")), len(os.listdir(f"/proc/{pid}/fd"))


async def unmatched(base: str) -> None:
    """8 clients asking for paths that match no route, as fast as they can."""
    async def one(i: int) -> None:
        async with aiohttp.ClientSession() as session:
            n, end = 0, time.monotonic() + 10 * SCALE
            while time.monotonic() < end:
                async with session.get(f"{base}/nope/{i}/{n}") as r:
                    await r.read()
                n += 1
    await asyncio.gather(*(one(i) for i in range(8)))


async def leaving_viewers(base: str) -> None:
    """200 viewers each asking for a frame every few hours, hanging up after 2 s."""
    sockets = []
    for i in range(count(200)):
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(base))
        writer.write(f"GET {VIDEO}?fps=0.0001{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        sockets.append(writer)
    await asyncio.sleep(2)
    for writer in sockets:
        writer.close()


async def slowloris(base: str) -> None:
    """1,100 connections that never finish their headers (the cap is 1,024), held 10 s: past the cap the oldest
    are closed to make room."""
    held = []
    for _ in range(count(1100)):
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port_of(base))
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")         # and never the blank line
            held.append(writer)
        except OSError:
            break
    await asyncio.sleep(10 * SCALE)
    for writer in held:
        writer.close()


async def h264_sessions(base: str) -> None:
    """200 WebSocket viewers one after another, each taking the init segment and a fragment and leaving."""
    async with aiohttp.ClientSession() as session:
        for _ in range(count(200)):
            async with session.ws_connect(base.replace("http", "ws") + VIDEO) as ws:
                for _ in range(2):
                    await ws.receive(timeout=10)


async def mjpeg_frames(base: str) -> None:
    """300 MJPEG requests for one frame, one after another."""
    async with aiohttp.ClientSession() as session:
        for _ in range(count(300)):
            async with session.get(f"{base}{VIDEO}?frames=1") as r:
                await r.read()


async def stalled_bodies(base: str) -> None:
    """1,030 connections that send a POST's headers and never its body, held past the body timeout."""
    held = []
    for _ in range(count(1030)):
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port_of(base))
            writer.write(f"POST /cameras/{CAM}/streams/CAM_A/control HTTP/1.1\r\nHost: x\r\n"
                         "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n".encode())
            held.append(writer)
        except OSError:
            break
    await asyncio.sleep(BODY_TIMEOUT * 1.5)
    for writer in held:
        writer.close()


async def hang_ups(base: str) -> None:
    """100 clients that send half a body (JSON or an upload) and hang up."""
    for i in range(count(100)):
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(base))
        path, kind = (f"/cameras/{CAM}/streams/CAM_A/control", "application/json") if i % 2 else \
            (NN, "multipart/form-data; boundary=b")
        writer.write(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {kind}\r\nContent-Length: 5000\r\n\r\n"
                     "--b\r\n".encode())
        await writer.drain()
        await asyncio.sleep(0.02)
        writer.close()


def form(model: bytes, config: dict, filename: str = "model.blob") -> aiohttp.FormData:
    data = aiohttp.FormData()
    data.add_field("model", model, filename=filename, content_type="application/octet-stream")
    data.add_field("config", json.dumps(config))
    return data


def bomb() -> bytes:
    """An NN archive whose model.blob inflates to 1 GiB, a few kB long (its tar header is all a check needs)."""
    config = blobs.archive_config().encode()
    info, big = tarfile.TarInfo("config.json"), tarfile.TarInfo("model.blob")
    info.size, big.size = len(config), 1 << 30
    raw = (info.tobuf(format=tarfile.GNU_FORMAT) + config + bytes(-len(config) % 512)
           + big.tobuf(format=tarfile.GNU_FORMAT) + bytes(1 << 20))
    return lzma.compress(raw)


async def bad_models(base: str) -> None:
    """Empty blobs, empty archived blobs and 1 GiB archive bombs, 2 at a time, 10 of each."""
    empty_archive = io.BytesIO()
    with tarfile.open(fileobj=empty_archive, mode="w:xz") as tar:
        for name, data in (("config.json", blobs.archive_config().encode()), ("model.blob", b"")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    files = [(b"", "model.blob"), (empty_archive.getvalue(), "m.tar.xz"), (bomb(), "bomb.tar.xz")] * count(10)
    statuses: dict[int, int] = {}

    async def one(session, model, name):
        async with session.post(base + NN, data=form(model, {"type": "MobileNet"}, name)) as r:
            statuses[r.status] = statuses.get(r.status, 0) + 1
    async with aiohttp.ClientSession() as session:
        for i in range(0, len(files), 2):
            await asyncio.gather(*(one(session, m, n) for m, n in files[i:i + 2]))
    print(f"{'':>18}  model answers: {statuses}")


async def many_parts(base: str) -> None:
    """4 multipart bodies of 100,000 tiny parts each, at once."""
    body = b"".join(b'--b\r\nContent-Disposition: form-data; name="x%d"\r\n\r\n1\r\n' % i for i in range(100_000))
    body += b"--b--\r\n"

    async def one(session):
        async with session.post(base + NN, data=body,
                                headers={"Content-Type": "multipart/form-data; boundary=b"}) as r:
            await r.read()
    async with aiohttp.ClientSession() as session:
        for _ in range(count(3)):
            await asyncio.gather(*(one(session) for _ in range(4)))


async def large_outputs(base: str) -> None:
    """Generic networks declaring a 65535^4 output, and 100 outputs of 65,536 values."""
    huge = blobs.blob(64, 32, {"huge": (65535, 65535, 65535, 65535)})
    wide = blobs.blob(64, 32, {f"o{i}": (1, 65536) for i in range(100)})
    async with aiohttp.ClientSession() as session:
        for _ in range(count(5)):
            for model in (huge, wide):
                async with session.post(base + NN, data=form(model, {"type": "Generic"})) as r:
                    await r.read()


async def phase(name: str, base, attack) -> None:
    probe, stop = Probe(base), asyncio.Event()
    probing = asyncio.create_task(probe.run(stop))
    rss_before, threads_before, fds_before = resources(base.pid)
    attacking = asyncio.create_task(attack(base))
    peak = rss_before
    while not attacking.done():
        peak = max(peak, resources(base.pid)[0])
        await asyncio.wait([attacking], timeout=0.25)
    attacking.result()
    await asyncio.sleep(min(3.0, 30 * SCALE))      # the clients have gone: what does the service keep?
    rss_after, threads_after, fds_after = resources(base.pid)
    stop.set()
    await probing
    times = sorted(probe.times)
    p99 = times[max(0, int(len(times) * 0.99) - 1)] if times else float("nan")
    median = statistics.median(times) if times else float("nan")
    print(f"{name:>18}: RSS {rss_before / 1024:.1f} -> peak {peak / 1024:.1f} -> {rss_after / 1024:.1f} MB; "
          f"threads {threads_before} -> {threads_after}; fds {fds_before} -> {fds_after}; /healthz median "
          f"{median:.2f} ms, p99 {p99:.2f} ms, {probe.failures} failed of {len(times) + probe.failures}")


ROUNDS = [("unmatched routes", unmatched), ("leaving viewers", leaving_viewers), ("slowloris", slowloris),
          ("h264 sessions", h264_sessions), ("mjpeg frames=1", mjpeg_frames), ("stalled bodies", stalled_bodies),
          ("hang-ups mid-body", hang_ups), ("bad models", bad_models), ("100k parts", many_parts),
          ("large outputs", large_outputs)]


async def main() -> None:
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")       # as the systemd unit runs it
    with service("oak-d", "--body-timeout", str(BODY_TIMEOUT)) as base:
        cold = proc_stat(base.pid)[1]
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{base}/cameras/{CAM}/streams/CAM_A/") as r:
                assert r.status == 204, await r.text()
            # Warm up as a day's use would: the picture cache, an H.264 session, 4 MJPEG feeds, a model check.
            for quality in (60, 70, 80, 90):
                async with session.get(f"{base}{VIDEO}?frames=30&quality={quality}") as r:
                    await r.read()
            async with session.ws_connect(base.replace("http", "ws") + VIDEO) as ws:
                await ws.receive(timeout=10)
            async with session.post(base + NN, data=form(b"", {"type": "MobileNet"})) as r:
                await r.read()
        print(f"RSS {cold / 1024:.1f} MB cold, {proc_stat(base.pid)[1] / 1024:.1f} MB warm (scale {SCALE:g})")
        for name, attack in ROUNDS:
            await phase(name, base, attack)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/healthz") as r:
                rss = proc_stat(base.pid)[1]
                print(f"alive at the end: {r.status == 200} (pid {base.pid}, RSS {rss / 1024:.1f} MB)")


if __name__ == "__main__":
    asyncio.run(main())
