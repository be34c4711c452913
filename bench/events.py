"""Push against polling: how soon a fleet controller learns of a change, and whether every event reaches every
reader under load.

1. Time from a change to its event, at 1 and at 100 SSE clients and at an MQTT subscriber (a real Mosquitto),
   beside a controller polling GET /cameras/{mxid}/ (or the config) once a second: for a camera pulled out
   (`/sim/…/unplug`: the service's own detection time plus the delivery) and for a config write by another
   client (from sending the write). Medians and p99s side by side.
2. Config writes at 1,000 a second for 30 s with 100 SSE clients and one MQTT subscriber: whether every
   client got every event, in order, none lost (no reset), and the service's RSS before and after; then the
   broker is stopped for 10 s and started again: the writes' p50/p99 before, while it is away and after, and
   whether the retained camera state is right afterwards.

EVENTS_SCALE (1) scales the counts and durations: the suite runs it at a small scale so that it keeps
working; the figures come from a full run (`make bench-events`).
"""
from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import aiomqtt

from common import proc_stat, service

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from broker import MOSQUITTO, Broker  # noqa: E402 (the tests' Mosquitto)

SCALE = float(os.environ.get("EVENTS_SCALE", 1))
CLIENTS = max(2, round(100 * SCALE))
TRIALS = max(2, round(20 * SCALE))
RATE = 1000                            # config writes a second, in part 2
LOAD_SECONDS = max(1.0, 30 * SCALE)
AWAY_SECONDS = max(1.0, 10 * SCALE)
CAMERAS = "oak-d,oak-d,oak-1,oak-1,oak-d-pro,oak-d-pro,oak-d-lr,oak-1"


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))] if values else float("nan")


def row(name: str, values: list[float]) -> str:
    return f"  {name:<34} p50 {pct(values, 50) * 1000:8.1f} ms   p99 {pct(values, 99) * 1000:8.1f} ms   (n={len(values)})"


class SseClient:
    """Reads /events, noting when each event arrived."""

    def __init__(self, session: aiohttp.ClientSession, base: str, **params):
        self.session, self.base, self.params = session, base, params
        self.events: list[tuple[float, dict]] = []
        self.ready = asyncio.Event()

    async def run(self) -> None:
        async with self.session.get(self.base + "/events", params=self.params,
                                    timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as resp:
            self.ready.set()
            async for line in resp.content:
                if line.startswith(b"data: "):
                    self.events.append((time.monotonic(), json.loads(line[6:])))

    def first(self, predicate, after: float) -> float | None:
        return next((t for t, e in self.events if t >= after and predicate(e)), None)


class MqttClient:
    def __init__(self, port: int, topic: str):
        self.port, self.topic = port, topic
        self.events: list[tuple[float, dict]] = []
        self.latest: dict[str, bytes] = {}
        self.ready = asyncio.Event()

    async def run(self) -> None:
        async with aiomqtt.Client("127.0.0.1", self.port, max_queued_incoming_messages=0) as client:
            await client.subscribe(self.topic, qos=1)
            self.ready.set()
            async for message in client.messages:
                topic = str(message.topic)
                self.latest[topic] = message.payload
                if "/events/" in topic:
                    self.events.append((time.monotonic(), json.loads(message.payload)))

    def first(self, predicate, after: float) -> float | None:
        return next((t for t, e in self.events if t >= after and predicate(e)), None)


async def poll(session, url: str, predicate, period: float = 1.0, phase: float = 0.0) -> float:
    """A controller polling once a second (its phase is wherever its clock happens to be): when it sees it."""
    await asyncio.sleep(phase)
    while True:
        async with session.get(url) as resp:
            if predicate(await resp.json()):
                return time.monotonic()
        await asyncio.sleep(period)


async def wait_for(getter, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while (value := getter()) is None:
        if time.monotonic() > deadline:
            raise TimeoutError("no event in time")
        await asyncio.sleep(0.002)
    return value


async def latency(base: str, broker: Broker, prefix: str) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        cameras = [c["mxid"] for c in await (await session.get(base + "/cameras/")).json()]
        cam = cameras[0]
        mqtt = MqttClient(broker.port, f"{prefix}/+/events/#")
        tasks = [asyncio.create_task(mqtt.run())]
        await mqtt.ready.wait()
        results: dict[str, dict[str, list[float]]] = {}
        for clients in (1, CLIENTS):
            readers = [SseClient(session, base) for _ in range(clients)]
            tasks += [asyncio.create_task(r.run()) for r in readers]
            await asyncio.gather(*(r.ready.wait() for r in readers))
            for kind in ("unplug", "config"):
                got = results.setdefault(kind, {})
                for trial in range(TRIALS):
                    phase = (trial / TRIALS)          # polling clocks spread over the second
                    if kind == "unplug":
                        action = "unplug" if trial % 2 == 0 else "replug"
                        wanted = "disconnected" if action == "unplug" else "connected"

                        def event(e, wanted=wanted):
                            return e["type"] == "camera_state" and e["mxid"] == cam and e["data"]["state"] == wanted
                        sent = time.monotonic()
                        poller = asyncio.create_task(poll(session, f"{base}/cameras/{cam}/",
                                                          lambda b, w=wanted: b["state"] == w, phase=phase))
                        await session.post(f"{base}/sim/cameras/{cam}/{action}")
                    else:
                        fps = 10 + trial % 2 * 5 + clients % 2

                        def event(e, fps=fps):
                            return e["type"] == "config" and e["mxid"] == cam and e["data"]["config"]["fps"] == fps
                        sent = time.monotonic()
                        poller = asyncio.create_task(poll(session, f"{base}/cameras/{cam}/streams/CAM_A/config",
                                                          lambda b, f=fps: b["fps"] == f, phase=phase))
                        await session.post(f"{base}/cameras/{cam}/streams/CAM_A/config", json={"fps": fps})
                    for reader in readers:
                        got.setdefault(f"SSE, {clients} client(s)", []).append(
                            await wait_for(lambda r=reader: r.first(event, sent)) - sent)
                    got.setdefault("MQTT subscriber", []).append(await wait_for(lambda: mqtt.first(event, sent)) - sent)
                    got.setdefault("polling at 1 Hz", []).append(await poller - sent)
            for reader_task in tasks[1:]:
                reader_task.cancel()
            del tasks[1:]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    print("time from a change to a controller knowing of it:")
    for kind, what in (("unplug", "a camera pulled out (/sim/…/unplug, replug)"),
                       ("config", "a config write by another client")):
        print(f" {what}:")
        for name in sorted(results[kind], key=lambda n: ("SSE" not in n, "polling" in n, len(n), n)):
            print(row(name, results[kind][name]))


async def load(base: str, broker: Broker, prefix: str) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        cameras = [c["mxid"] for c in await (await session.get(base + "/cameras/")).json()]
        gateway = (await (await session.get(base + "/gateway")).json())["id"]
        readers = [SseClient(session, base, type="config") for _ in range(CLIENTS)]
        mqtt = MqttClient(broker.port, f"{prefix}/#")
        tasks = [asyncio.create_task(c.run()) for c in (*readers, mqtt)]
        await asyncio.gather(*(c.ready.wait() for c in (*readers, mqtt)))
        rss_before = proc_stat(base.pid)[1]
        latencies: dict[str, list[float]] = {"load": [], "before": [], "away": [], "after": []}
        changes: set[tuple[str, int]] = set()      # (mxid, revision) of every acknowledged write: one event each
        phase = "load"

        async def writer(i: int, count: int, period: float) -> None:
            cam = cameras[i % len(cameras)]
            start = time.monotonic()
            for n in range(count):
                await asyncio.sleep(max(0.0, start + n * period - time.monotonic()))
                sent = time.monotonic()
                async with session.post(f"{base}/cameras/{cam}/streams/CAM_A/config", json={"fps": 5 + (n * 7 + i) % 25}) as r:
                    await r.read()
                    if r.status == 200:
                        changes.add((cam, int(r.headers["X-State-Revision"])))
                latencies[phase].append(time.monotonic() - sent)

        writers = 50
        per_writer = round(RATE * LOAD_SECONDS / writers)
        started = time.monotonic()
        await asyncio.gather(*(writer(i, per_writer, writers / RATE) for i in range(writers)))
        took = time.monotonic() - started
        await asyncio.sleep(2)
        rss_after = proc_stat(base.pid)[1]
        acked = len(changes)
        complete = sum(1 for r in readers if {(e["mxid"], e["revision"]) for _, e in r.events} == changes)
        in_order = sum(1 for r in readers if all(a[1]["seq"] < b[1]["seq"] for a, b in zip(r.events, r.events[1:])))
        resets = sum(1 for r in readers for _, e in r.events if e["type"] == "reset")
        mqtt_configs = len({(e["mxid"], e["revision"]) for _, e in mqtt.events if e["type"] == "config"} & changes)
        writes = writers * per_writer
        print(f"{writes} config writes in {took:.1f} s ({writes / took:.0f}/s) over {len(cameras)} cameras, {acked} of "
              f"them changes, with {CLIENTS} SSE clients and one MQTT subscriber:")
        print(f"  SSE clients with every event: {complete}/{CLIENTS}; in order: {in_order}/{CLIENTS}; resets: {resets}")
        print(f"  MQTT subscriber: {mqtt_configs}/{acked} config events")
        print(row("config writes during it", latencies["load"]))
        print(f"  service RSS: {rss_before / 1024:.1f} MiB before, {rss_after / 1024:.1f} MiB after")

        for reader_task in tasks[:-1]:
            reader_task.cancel()
        short = max(1, round(RATE * AWAY_SECONDS / writers / 5))     # a fifth of the rate, SSE clients gone
        phase = "before"
        await asyncio.gather(*(writer(i, short, writers * 5 / RATE) for i in range(writers)))
        broker.stop()
        phase = "away"
        await asyncio.gather(*(writer(i, short, writers * 5 / RATE) for i in range(writers)))
        unplugged = cameras[-1]
        await session.post(f"{base}/sim/cameras/{unplugged}/unplug")   # while away: must be retained right after
        broker.start()
        phase = "after"
        await asyncio.gather(*(writer(i, short, writers * 5 / RATE) for i in range(writers)))
        tasks[-1].cancel()
        check = MqttClient(broker.port, f"{prefix}/{gateway}/cameras/+")
        checking = asyncio.create_task(check.run())
        deadline = time.monotonic() + 30
        right = False
        while time.monotonic() < deadline and not right:
            await asyncio.sleep(0.2)
            states = {c: (await (await session.get(f"{base}/cameras/{c}/")).json())["state"] for c in cameras}
            right = all(json.loads(check.latest.get(f"{prefix}/{gateway}/cameras/{c}", b"{}")).get("state") == state
                        for c, state in states.items())
        checking.cancel()
        await asyncio.gather(*tasks, checking, return_exceptions=True)
        print(f"broker stopped for {AWAY_SECONDS:g} s under writes at {RATE // 5}/s:")
        for name in ("before", "away", "after"):
            print(row(f"config writes, broker {'away' if name == 'away' else name}", latencies[name]))
        metrics = await (await session.get(base + "/metrics")).text()
        dropped = next((line.split()[-1] for line in metrics.splitlines() if line.startswith("mqtt_dropped_total")), "?")
        print(f"  events the publisher dropped while the broker was away: {dropped}")
        print(f"retained camera state right afterwards: {right}")


async def main() -> None:
    if MOSQUITTO is None:
        sys.exit("mosquitto is not installed (Debian: apt-get install mosquitto)")
    with tempfile.TemporaryDirectory() as directory:
        broker = Broker(Path(directory))
        broker.start()
        try:
            with service(CAMERAS, "--mqtt-url", broker.url("bench")) as base:
                await latency(base, broker, "bench")
                await load(base, broker, "bench")
        finally:
            broker.stop()


if __name__ == "__main__":
    asyncio.run(main())
