"""Crash safety: SIGKILL at random moments under a stream of writes never loses an acknowledged write."""
import asyncio
import os
import random
import signal

import aiohttp
import pytest

from actors.simulated.models import mxid_for
from test_cli import COMMAND, READY
from timing import scaled

pytestmark = pytest.mark.long
KILLS = 12


async def start(state_dir):
    proc = await asyncio.create_subprocess_exec(
        COMMAND, "--simulate", "oak-d", "--port", "0", "--state-dir", str(state_dir),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    while ready := await asyncio.wait_for(proc.stdout.readline(), scaled(30)):     # its port: no other test's service
        if port := READY.search(ready.decode()):
            break
    else:
        pytest.fail("the service ended before it was ready")
    proc.drained = asyncio.ensure_future(proc.stdout.read())       # what it logs from now on, never a full pipe
    base = f"http://127.0.0.1:{port[1]}"
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            try:
                async with session.get(f"{base}/cameras/") as resp:
                    cameras = await resp.json()
                    if cameras and cameras[0]["state"] == "connected":
                        return proc, base
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    proc.kill()
    pytest.fail("service did not start")


WRITERS = {   # (stream, part, field): value for the n-th write
    ("CAM_A", "control", "exposure_time"): lambda n: n,
    ("DEPTH_B_C", "control", "exposure_time"): lambda n: 33000 - n,
    ("CAM_B", "config", "fps"): lambda n: 2 + (n % 10000) / 100,
}


async def write_until_killed(base, cam, key, progress, stop):
    stream, part, field = key
    async with aiohttp.ClientSession() as session:
        while not stop.is_set():
            n = progress[key]["next"]
            progress[key]["in_flight"] = n
            try:
                async with session.post(f"{base}/cameras/{cam}/streams/{stream}/{part}",
                                        json={field: WRITERS[key](n)}) as resp:
                    body = await resp.json()
                    assert resp.status == 200, body
            except (aiohttp.ClientError, asyncio.TimeoutError):
                return                     # the server died under us: this write is not acknowledged
            progress[key]["acked"], progress[key]["next"] = n, n + 1


async def test_sigkill_never_loses_an_acknowledged_write(tmp_path):
    cam = mxid_for("oak-d", 0)
    progress = {key: {"next": 1, "acked": None, "in_flight": None} for key in WRITERS}
    rng = random.Random(4)
    checked = 0
    proc, base = await start(tmp_path)
    async with aiohttp.ClientSession() as session:
        await session.post(f"{base}/cameras/{cam}/streams/CAM_A/")
        await session.post(f"{base}/cameras/{cam}/streams/DEPTH_B_C/")
        await session.post(f"{base}/cameras/{cam}/streams/CAM_A/control", json={"auto_exposure_enable": False})
        await session.post(f"{base}/cameras/{cam}/streams/DEPTH_B_C/control", json={"auto_exposure_enable": False})
    for _ in range(KILLS):
        stop = asyncio.Event()
        writers = [asyncio.create_task(write_until_killed(base, cam, key, progress, stop)) for key in WRITERS]
        await asyncio.sleep(rng.uniform(0.05, 0.5))
        os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()
        stop.set()
        await asyncio.gather(*writers)
        proc, base = await start(tmp_path)
        async with aiohttp.ClientSession() as session:
            for (stream, part, field), p in progress.items():
                async with session.get(f"{base}/cameras/{cam}/streams/{stream}/{part}") as resp:
                    value = (await resp.json())[field]
                allowed = {WRITERS[stream, part, field](n) for n in (p["acked"], p["in_flight"]) if n is not None}
                assert value in allowed or p["acked"] is None, (stream, field, value, p)
                if p["acked"] is not None:
                    checked += 1
                if value == WRITERS[stream, part, field](p["in_flight"] or 0):
                    p["acked"] = p["in_flight"]          # the unacknowledged write had landed: it is the base now
                p["next"] = (p["in_flight"] or 0) + 1
    proc.terminate()
    await proc.wait()
    assert checked >= KILLS * len(WRITERS) * 0.8                  # the writers really wrote between kills
    assert sum(p["acked"] or 0 for p in progress.values()) > KILLS
