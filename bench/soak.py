"""Soak: 200 concurrent clients mixing reads, writes, activations and stills over 8 simulated cameras while
cameras are unplugged and replugged. Prints status counts, whether the final state equals the last
acknowledged write of every field, and the service's RSS over time. SOAK_SECONDS overrides the 60 s."""
import asyncio
import os
import random
import sys
import time
from collections import Counter

import aiohttp

from common import proc_stat, service

SECONDS = float(os.environ.get("SOAK_SECONDS", 60))
CLIENTS = int(os.environ.get("SOAK_CLIENTS", 200))
MODELS = "oak-d,oak-d,oak-d-pro,oak-d-pro,oak-1,oak-1,oak-d-lr,oak-d-lr"
FIELDS = {"control": ("contrast", "brightness", "saturation"), "config": ("fps",)}


async def main():
    with service(MODELS, "--device-timeout", "2", "--discovery-interval", "0.5") as base:
        pid = base.pid
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CLIENTS)) as session:
            cameras = await (await session.get(f"{base}/cameras/")).json()
            streams = {c["mxid"]: c["streams"] for c in cameras}
            statuses: Counter = Counter()
            acked: dict = {}                 # (mxid, stream, part, field) -> (revision, value)
            end = time.monotonic() + SECONDS
            rng = random.Random(1)

            async def client():
                while time.monotonic() < end:
                    mxid = rng.choice(list(streams))
                    stream = rng.choice(streams[mxid])
                    url = f"{base}/cameras/{mxid}/streams/{stream}/"
                    roll = rng.random()
                    try:
                        if roll < 0.5:
                            resp = await session.get(url + rng.choice(("control", "config")))
                        elif roll < 0.8:
                            part = "control" if roll < 0.7 else "config"
                            field = rng.choice(FIELDS[part])
                            value = rng.randint(2, 15) if field == "fps" else rng.randint(-10, 10)
                            resp = await session.post(url + part, json={field: value})
                            if resp.status == 200:
                                revision = int(resp.headers["X-State-Revision"])
                                key = (mxid, stream, part, field)
                                if revision > acked.get(key, (-1, None))[0]:
                                    acked[key] = (revision, (await resp.json())[field])
                        elif roll < 0.9:
                            resp = await session.request(rng.choice(("POST", "DELETE")), url)
                        else:
                            resp = await session.get(url + "still")
                        await resp.read()
                        statuses[resp.status] += 1
                    except aiohttp.ClientError as exc:
                        statuses[type(exc).__name__] += 1

            async def chaos():
                while time.monotonic() < end - 3:
                    mxid = rng.choice(list(streams))
                    await session.post(f"{base}/sim/cameras/{mxid}/unplug")
                    await asyncio.sleep(rng.uniform(0.5, 2))
                    await session.post(f"{base}/sim/cameras/{mxid}/replug")
                    await asyncio.sleep(rng.uniform(0.5, 2))

            async def memory(samples):
                while time.monotonic() < end:
                    samples.append((time.monotonic(), proc_stat(pid)[1]))
                    await asyncio.sleep(1)

            rss: list = []
            started = time.monotonic()
            await asyncio.gather(chaos(), memory(rss), *(client() for _ in range(CLIENTS)))
            for _ in range(100):                 # every camera back before the final comparison
                cams = await (await session.get(f"{base}/cameras/")).json()
                if all(c["state"] == "connected" for c in cams):
                    break
                await asyncio.sleep(0.1)
            mismatches = []
            for (mxid, stream, part, field), (_, value) in acked.items():
                got = (await (await session.get(f"{base}/cameras/{mxid}/streams/{stream}/{part}")).json())[field]
                if got != value:
                    mismatches.append((mxid, stream, field, value, got))
    total = sum(statuses.values())
    bad = {k: v for k, v in statuses.items() if not (isinstance(k, int) and (k < 500 or k in (503, 504)))}
    after5 = next(kb for t, kb in rss if t - started >= 5)
    print(f"soak: {CLIENTS} clients, 8 cameras, {SECONDS:g} s, cameras unplugged and replugged throughout")
    print(f"  requests: {total} ({total / SECONDS:.0f}/s); statuses: {dict(sorted(statuses.items(), key=str))}")
    print(f"  5xx other than 503/504 and client errors: {sum(bad.values())} {bad or ''}")
    print(f"  fields checked against their last acknowledged write: {len(acked)}, mismatches: {len(mismatches)}"
          + (f" {mismatches[:5]}" if mismatches else ""))
    print(f"  RSS: {after5 / 1024:.1f} MB after 5 s, {rss[-1][1] / 1024:.1f} MB at the end "
          f"(max {max(kb for _, kb in rss) / 1024:.1f} MB)")
    if bad or mismatches:
        sys.exit(1)


if __name__ == "__main__":
    asyncio.run(main())
