"""The events to a real Mosquitto broker: the gateway's availability retained with a Last Will, each camera's
state retained, every event published; a broker that is away never slows the API, its drops are counted and
the retained state is right again once it returns."""
import asyncio
import json
import signal

import aiomqtt
import blobs
import pytest
from broker import MOSQUITTO, Broker, Subscriber
from conftest import activate, device_timeout, stream_url, wait_until
from sse import watch
from test_cli import start, stop
from test_hotplug import sim
from test_metrics import scrape, value
from test_nn import MOBILENET, upload

import service.events
import service.mqtt
from service.app import create_app
from service.inputs import FLEET
from service.mqtt import MqttTarget
from timing import scaled


async def serve(aiohttp_client, backend, url, **options):
    client = await aiohttp_client(create_app(backend, device_timeout=device_timeout(backend), max_backoff=0.1,
                                             discovery_interval=0.05, mqtt_target=MqttTarget.parse(url), **options))
    await wait_until(lambda: all(a.status == "connected" for a in client.app[FLEET].actors.values()))
    return client


async def gateway_id(client) -> str:
    return (await (await client.get("/gateway")).json())["id"]


async def test_the_state_is_retained_and_every_event_published(aiohttp_client, make_backend, broker, mxid):
    backend = make_backend(["oak-d", "oak-1"])
    client = await serve(aiohttp_client, backend, broker.url("fleet"))
    base = f"fleet/{await gateway_id(client)}"
    await until_metric(client, "mqtt_connected", 1)
    # A subscriber that comes later still sees the retained state.
    async with Subscriber(broker.port, "fleet/#") as sub:
        cams = [mxid("oak-d"), mxid("oak-1")]
        await wait_until(lambda: all(f"{base}/cameras/{c}" in sub.latest for c in cams) and f"{base}/status" in
                         sub.latest and f"{base}/gateway" in sub.latest, timeout=10)
        assert sub.latest[f"{base}/status"] == b"online"
        assert sub.json(f"{base}/gateway")["id"] == (await (await client.get("/gateway")).json())["id"]
        bodies = {cam: await (await client.get(f"/cameras/{cam}/")).json() for cam in cams}
        # What was retained before the subscriber came may be a moment older (booting): the update follows.
        await wait_until(lambda: all(sub.json(f"{base}/cameras/{cam}") == bodies[cam] for cam in cams), timeout=10)
        resp = await client.post(stream_url(cams[0], "CAM_A", "config"), json={"fps": 11})
        await wait_until(lambda: sub.events("config"), timeout=10)
        [event] = sub.events("config")
        assert event["mxid"] == cams[0] and event["data"]["config"] == await resp.json()
        assert event["revision"] == int(resp.headers["X-State-Revision"])
        await sim(client, cams[1], "unplug")
        await wait_until(lambda: sub.json(f"{base}/cameras/{cams[1]}")["state"] == "disconnected", timeout=10)
        assert any(e["data"]["state"] == "disconnected" for e in sub.events("camera_state"))


async def test_a_burst_of_changes_reaches_the_subscriber_and_every_sse_client_whole_and_in_order(
        aiohttp_client, make_backend, broker, mxid, monkeypatch):
    """Events published together go out together (one write to each SSE client; to the broker in batches,
    one wait each): still every one, once, in order."""
    monkeypatch.setattr(service.mqtt, "BATCH", 4)      # the burst is several batches
    backend = make_backend(["oak-d"])
    client = await serve(aiohttp_client, backend, broker.url("fleet"))
    url = stream_url(mxid("oak-d"), "CAM_A", "control")
    await until_metric(client, "mqtt_connected", 1)
    assert (await client.post(url, json={"contrast": 0})).status == 200
    async with Subscriber(broker.port, "fleet/+/events/control") as sub:
        readers = [await watch(client, mxid=mxid("oak-d"), type="control") for _ in range(3)]
        answers = await asyncio.gather(*(client.post(url, json={"contrast": c}) for c in range(-10, 11) if c))
        assert all(a.status == 200 for a in answers)
        revisions = sorted(int(a.headers["X-State-Revision"]) for a in answers)    # each one a change
        for reader in readers:
            assert [(await reader.next())["revision"] for _ in answers] == revisions
        await wait_until(lambda: len(sub.events("control")) >= len(answers), timeout=10)
        assert [e["revision"] for e in sub.events("control")] == revisions
    assert value(await scrape(client), "mqtt_dropped_total") == 0


async def until_metric(client, name, wanted, timeout=20.0):
    """Scrape /metrics until the metric has the wanted value (or passes `wanted`, a predicate)."""
    deadline = asyncio.get_running_loop().time() + scaled(timeout)
    while True:
        got = value(await scrape(client), name)
        if (wanted(got) if callable(wanted) else got == wanted):
            return
        assert asyncio.get_running_loop().time() < deadline, (name, got)
        await asyncio.sleep(0.05)


async def test_a_broker_that_is_away_never_slows_the_api_and_the_state_is_right_after(
        aiohttp_client, make_backend, broker, mxid, monkeypatch):
    monkeypatch.setattr(service.events, "QUEUE", 8)
    backend = make_backend(["oak-d"])
    client = await serve(aiohttp_client, backend, broker.url("fleet"))
    cam, base = mxid("oak-d"), f"fleet/{await gateway_id(client)}"

    def until(name, wanted):
        return until_metric(client, name, wanted)

    await until("mqtt_connected", 1)
    broker.stop()
    await until("mqtt_connected", 0)
    await sim(client, cam, "unplug")      # the retained state must say so once the broker is back
    await wait_until(lambda: client.app[FLEET].get(cam).status == "disconnected")
    for contrast in range(20):            # more events than the publisher's queue holds: the unplug's is dropped
        resp = await client.post(stream_url(cam, "CAM_A", "control"), json={"contrast": contrast % 10})
        assert resp.status == 200
    await until("mqtt_dropped_total", lambda v: v > 0)
    broker.start()
    await until("mqtt_connected", 1)
    await until("mqtt_connects_total", 2)
    async with Subscriber(broker.port, f"{base}/#") as sub:
        await wait_until(lambda: f"{base}/cameras/{cam}" in sub.latest and f"{base}/status" in sub.latest,
                         timeout=10)
        assert sub.latest[f"{base}/status"] == b"online"
        assert sub.json(f"{base}/cameras/{cam}")["state"] == "disconnected"
        await sim(client, cam, "replug")
        await wait_until(lambda: sub.json(f"{base}/cameras/{cam}")["state"] == "connected", timeout=10)


async def test_a_clean_stop_says_offline(aiohttp_client, make_backend, broker):
    backend = make_backend(["oak-1"])
    client = await serve(aiohttp_client, backend, broker.url("fleet"))
    base = f"fleet/{await gateway_id(client)}"
    async with Subscriber(broker.port, f"{base}/#") as sub:
        await wait_until(lambda: sub.latest.get(f"{base}/status") == b"online", timeout=10)
        await client.server.close()
        await wait_until(lambda: sub.latest.get(f"{base}/status") == b"offline", timeout=10)
        assert sub.events("gateway_stopped")


async def test_a_killed_gateway_is_offline_by_its_last_will_and_a_password_comes_from_a_file(tmp_path):
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto; .ci/run installs it)")
    guarded = Broker(tmp_path / "broker", users={"gateway": "pa ss:word"})
    guarded.start()
    try:
        (tmp_path / "password").write_text("pa ss:word\n")
        proc, _, _ = start("--simulate", "oak-1", "--mqtt-url", guarded.url("site", user="gateway"),
                                  "--mqtt-password-file", str(tmp_path / "password"), state_dir=tmp_path / "state")
        try:
            gateway = (tmp_path / "state" / "gateway-id").read_text().strip()
            topic = f"site/{gateway}/status"
            async with aiomqtt.Client("127.0.0.1", guarded.port, username="gateway", password="pa ss:word") as c:
                await c.subscribe(topic, qos=1)
                async with asyncio.timeout(20):
                    async for message in c.messages:
                        if message.payload == b"online":
                            break
                    proc.send_signal(signal.SIGKILL)
                    proc.wait(10)
                    async for message in c.messages:
                        if message.payload == b"offline":
                            break
        finally:
            if proc.poll() is None:
                stop(proc)
    finally:
        guarded.stop()


async def test_with_results_on_each_networks_results_go_to_its_streams_topic(aiohttp_client, make_backend, broker,
                                                                             mxid):
    backend = make_backend(["oak-d"])
    client = await serve(aiohttp_client, backend, broker.url("fleet"), mqtt_results=True)
    cam = mxid("oak-d")
    topic = f"fleet/{await gateway_id(client)}/cameras/{cam}/streams/CAM_A/nn"
    async with Subscriber(broker.port, topic) as sub:
        await activate(client, cam, "CAM_A")
        resp = await client.post(stream_url(cam, "CAM_A", "nn"), data=upload(blobs.blob(), MOBILENET))
        assert resp.status == 200, await resp.text()
        await wait_until(lambda: len(sub.messages) >= 3, timeout=20)
        results = [json.loads(payload) for _, payload, _ in sub.messages]
        assert all({"detections", "timestamp", "sequence"} <= set(r) for r in results)
        assert {d["label_name"] for r in results for d in r["detections"]} <= {"bars", "star"}
        assert [r["sequence"] for r in results] == sorted(r["sequence"] for r in results)
