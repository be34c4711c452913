"""Push against polling: how soon a fleet controller learns of a change, and whether every event reaches every
reader under load.

1. Time from a change to its event, at 1 and at 100 SSE clients and at an MQTT subscriber (a real Mosquitto),
   beside a controller polling GET /cameras/{mxid}/ (or the config) once a second: for a camera pulled out
   (`/sim/…/unplug`: the service's own detection time plus the delivery) and for a config write by another
   client (from sending the write). Medians and p99s side by side.
2. Config writes due at 1,000 a second for 30 s (each sent when due, answered or not the ones before, up to
   WAITING unanswered; its time counted from when it was due) with 100 SSE clients and one MQTT subscriber:
   the rate answered, whether every client got every event, in order, none lost (no reset), how long after
   its time an event reached a client, the service's RSS before and after, and the CPU the service, the
   writers and the readers used (with the machine's load average: the figures are the service's share of a
   shared machine). The readers run in a process of their own and find only each event's seq, type, camera,
   revision and time, so that what is measured is the service, not the load generator. Then the broker is
   stopped for 10 s and started again under writes at a fifth of the rate: the writes' p50/p99 before, while
   it is away and after, and whether the retained camera state is right afterwards.

EVENTS_SCALE (1) scales the counts and durations: the suite runs it at a small scale so that it keeps
working; the figures come from a full run (`make bench-events`).
"""
from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import re
import resource
import sys
import tempfile
import time
from array import array
from datetime import datetime
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
WAITING = 256                          # writes that may wait for their answers at once
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


# The readers of part 2 run in a process of their own, so that the writers' latencies are not the readers'
# parsing, and read cheaply: whole chunks, each event's seq, type, mxid, revision and time found by one regular
# expression over its JSON (whose keys come in this order), never a json.loads an event.
EVENT = re.compile(rb'\{"id": "[^"]*", "seq": (\d+), "boot_id": "[^"]*", "type": "(\w+)", '
                   rb'"mxid": (?:"([^"]*)"|null), "revision": (\d+|null), "time": "([^"]+)"')


class Tally:
    """What one reader got: the revisions of each camera's events in arrival order, whether the seqs rose,
    the resets; with `lags`, how long after its time each event arrived."""

    def __init__(self, lags: bool = False):
        self.revisions: dict[bytes, array] = {}
        self.seq, self.in_order, self.resets, self.count = 0, True, 0, 0
        self.lags: list[float] | None = [] if lags else None

    def add(self, match: re.Match, now: float) -> None:
        seq, type_, mxid, revision, when = match.groups()
        seq = int(seq)
        self.in_order &= seq > self.seq
        self.seq, self.count = seq, self.count + 1
        if type_ == b"reset":
            self.resets += 1
        elif type_ == b"config":
            self.revisions.setdefault(mxid, array("q")).append(int(revision))
        if self.lags is not None:
            self.lags.append(now - datetime.fromisoformat(when.decode()).timestamp())

    def complete(self, expected: dict[bytes, list[int]]) -> bool:
        """Every change's event, each once."""
        return self.revisions.keys() == expected.keys() and all(
            sorted(self.revisions[m]) == revisions for m, revisions in expected.items())


async def _read_sse(session, base: str, params: dict, tally: Tally, ready: asyncio.Event) -> None:
    async with session.get(base + "/events", params=params,
                           timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as resp:
        ready.set()
        rest = b""
        async for chunk in resp.content.iter_any():
            data = rest + chunk
            end = data.rfind(b"\r\n\r\n") + 4        # whole events only; the rest waits for its end
            now = time.time()
            for match in EVENT.finditer(data, 0, end):
                tally.add(match, now)
            rest = data[end:]


async def _read_mqtt(port: int, topic: str, tally: Tally, ready: asyncio.Event) -> None:
    async with aiomqtt.Client("127.0.0.1", port, max_queued_incoming_messages=0) as client:
        await client.subscribe(topic, qos=1)
        ready.set()
        async for message in client.messages:
            if (match := EVENT.match(message.payload)) is not None:
                tally.add(match, time.time())


async def _readers(base: str, clients: int, params: dict, mqtt_port: int, mqtt_topic: str, conn) -> None:
    loop = asyncio.get_running_loop()
    sse = [Tally(lags=i == 0) for i in range(clients)]
    mqtt = Tally(lags=True)
    readies = [asyncio.Event() for _ in range(clients + 1)]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        tasks = [asyncio.create_task(_read_sse(session, base, params, t, r)) for t, r in zip(sse, readies)]
        tasks.append(asyncio.create_task(_read_mqtt(mqtt_port, mqtt_topic, mqtt, readies[-1])))
        await asyncio.gather(*(r.wait() for r in readies))
        conn.send("ready")
        cpu, started = sum(resource.getrusage(resource.RUSAGE_SELF)[:2]), time.monotonic()
        expected = await loop.run_in_executor(None, conn.recv)
        cpu = (sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) - cpu) / (time.monotonic() - started)
        expected = {m.encode(): sorted(r) for m, r in expected.items()}
        # What is still on its way arrives: until every reader has every change, or nothing came for 5 s.
        quiet, counts = time.monotonic(), None
        while not all(t.complete(expected) for t in (*sse, mqtt)) and time.monotonic() - quiet < 5:
            await asyncio.sleep(0.2)
            if counts != (counts := [t.count for t in (*sse, mqtt)]):
                quiet = time.monotonic()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    got = sum(1 for m, revisions in expected.items() for r in set(revisions) & set(mqtt.revisions.get(m, ())))
    conn.send({"complete": sum(t.complete(expected) for t in sse), "in_order": sum(t.in_order for t in sse),
               "resets": sum(t.resets for t in sse), "mqtt": got, "mqtt_resets": mqtt.resets,
               "sse_lags": sse[0].lags, "mqtt_lags": mqtt.lags, "cpu": cpu})


def readers_main(*args) -> None:
    asyncio.run(_readers(*args))


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
        conn, child_conn = multiprocessing.Pipe()
        readers = multiprocessing.get_context("spawn").Process(
            target=readers_main, args=(str(base), CLIENTS, {"type": "config"}, broker.port, f"{prefix}/#", child_conn))
        readers.start()
        loop = asyncio.get_running_loop()
        assert await loop.run_in_executor(None, conn.recv) == "ready"
        cpu_before, rss_before = proc_stat(base.pid)
        latencies: dict[str, list[float]] = {"load": [], "before": [], "away": [], "after": []}
        changes: set[tuple[str, int]] = set()      # (mxid, revision) of every acknowledged write: one event each
        phase = "load"

        statuses: dict[int, int] = {}

        async def write(n: int, due: float) -> None:
            cam = cameras[n % len(cameras)]
            try:
                async with session.post(f"{base}/cameras/{cam}/streams/CAM_A/config",
                                        json={"fps": 5 + n // len(cameras) % 25}) as r:   # each a change of its camera
                    await r.read()
                    if r.status == 200:
                        changes.add((cam, int(r.headers["X-State-Revision"])))
                    status = r.status
            except aiohttp.ClientError as exc:
                status = type(exc).__name__
            statuses[status] = statuses.get(status, 0) + 1
            latencies[phase].append(time.monotonic() - due)

        async def writes(rate: float, seconds: float) -> float:
            """Writes at `rate` a second for `seconds`, each sent when it is due whether or not the ones before
            were answered (a client waiting for its answers would send fewer as the service slows: the rate
            asked of it would not be the rate measured), up to WAITING unanswered at a time (then the next waits
            for room); each write's time counts from when it was due. How long they took, to the last answer."""
            count, start, sent, pending = round(rate * seconds), time.monotonic(), 0, set()
            while sent < count:
                due_now = min(count, int((time.monotonic() - start) * rate) + 1, sent + WAITING - len(pending))
                for n in range(sent, due_now):
                    task = asyncio.create_task(write(n, start + n / rate))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                sent = due_now
                await asyncio.sleep(max(0.001, start + sent / rate - time.monotonic()))
            await asyncio.gather(*pending)
            return time.monotonic() - start

        rss: list[int] = []

        async def sample_rss() -> None:
            while True:
                await asyncio.sleep(LOAD_SECONDS / 6)
                rss.append(proc_stat(base.pid)[1])

        mine = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
        sampling = asyncio.create_task(sample_rss())
        took = await writes(RATE, LOAD_SECONDS)
        sampling.cancel()
        cpu = proc_stat(base.pid)[0] - cpu_before
        mine = sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) - mine
        await asyncio.sleep(2)
        rss_after = proc_stat(base.pid)[1]
        expected: dict[str, list[int]] = {}
        for cam, revision in changes:
            expected.setdefault(cam, []).append(revision)
        conn.send(expected)
        got = await loop.run_in_executor(None, conn.recv)
        readers.join()
        acked = len(changes)
        count = len(latencies["load"])
        print(f"{count} config writes due at {RATE}/s (at most {WAITING} unanswered), answered in {took:.1f} s "
              f"({count / took:.0f}/s) over {len(cameras)} cameras, {acked} of them changes (answers: {statuses}), "
              f"with {CLIENTS} SSE clients and one MQTT subscriber:")
        print(f"  SSE clients with every event: {got['complete']}/{CLIENTS}; in order: {got['in_order']}/{CLIENTS}; "
              f"resets: {got['resets']}")
        print(f"  MQTT subscriber: {got['mqtt']}/{acked} config events; resets: {got['mqtt_resets']}")
        print(row("config writes during it", latencies["load"]))
        print(row("event's time to an SSE client", got["sse_lags"]))
        print(row("event's time to the MQTT subscriber", got["mqtt_lags"]))
        print(f"  service RSS: {rss_before / 1024:.1f} MiB before; during it, every {LOAD_SECONDS / 6:.3g} s: "
              f"{', '.join(f'{kb / 1024:.1f}' for kb in rss)}; {rss_after / 1024:.1f} MiB after")
        print(f"  CPU during it: service {cpu / took:.0%} of a core, writers' process {mine / took:.0%}, "
              f"readers' process {got['cpu']:.0%}; the machine's load average {os.getloadavg()[0]:.1f} "
              f"on {os.cpu_count()} cores")

        phase = "before"                # a fifth of the rate, the SSE clients gone
        await writes(RATE / 5, AWAY_SECONDS)
        broker.stop()
        phase = "away"
        await writes(RATE / 5, AWAY_SECONDS)
        unplugged = cameras[-1]
        await session.post(f"{base}/sim/cameras/{unplugged}/unplug")   # while away: must be retained right after
        broker.start()
        phase = "after"
        await writes(RATE / 5, AWAY_SECONDS)
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
        await asyncio.gather(checking, return_exceptions=True)
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
