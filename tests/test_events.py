"""GET /events: one Server-Sent Event per change, ordered, resumable with Last-Event-ID from a bounded history,
a reset where the history cannot cover the gap, filters, keep-alives, bounded queues, tokens; the camera states
come from each backend."""
import asyncio

import blobs
import pytest
from aiohttp import ClientSession
from conftest import activate, assert_error, device_timeout, stream_url, wait_until
from sse import watch
from test_hotplug import sim
from test_metrics import scrape, value
from test_nn import MOBILENET, upload

import service.events
import service.sse
from service.app import create_app
from service.inputs import FLEET
from timing import scaled


async def boot_id(client) -> str:
    return (await (await client.get("/gateway")).json())["boot_id"]


async def test_every_change_is_an_event_with_its_camera_revision_and_new_value(client, mxid):
    cam, pro = mxid("oak-d"), mxid("oak-d-pro")
    events = await watch(client)
    resp = await client.post(stream_url(cam, "CAM_A", "config"), json={"fps": 12})
    assert resp.status == 200
    [config] = await events.until(lambda e: True)
    assert (config["event"], config["type"], config["mxid"]) == ("config", "config", cam)
    assert config["revision"] == int(resp.headers["X-State-Revision"])
    assert config["data"] == {"stream": "CAM_A", "config": await resp.json()}
    assert config["boot_id"] == await boot_id(client) and config["sse_id"] == config["id"] == \
        f"{config['boot_id']}:{config['seq']}"

    await activate(client, cam, "CAM_B")
    await activate(client, cam, "DEPTH_B_C")          # deactivates CAM_B: two events of one write
    resp = await client.post(stream_url(cam, "CAM_A", "control"), json={"contrast": 3})
    await client.post(f"/cameras/{pro}/ir", json={"flood_light": 0.25})
    got = await events.until(lambda e: e["type"] == "ir")
    assert [(e["type"], e["data"].get("stream")) for e in got] == [
        ("stream_activated", "CAM_B"), ("stream_deactivated", "CAM_B"), ("stream_activated", "DEPTH_B_C"),
        ("control", "CAM_A"), ("ir", None)]
    assert got[3]["data"]["control"] == {**(await resp.json()), "exposure_time": got[3]["data"]["control"]
                                         ["exposure_time"], "sensitivity_iso": got[3]["data"]["control"]
                                         ["sensitivity_iso"], "manual_whitebalance": 5500}
    assert got[4]["mxid"] == pro and got[4]["data"] == {"ir": {"dot_projector": 0.0, "flood_light": 0.25}}
    seqs = [config["seq"]] + [e["seq"] for e in got]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert got[1]["revision"] == got[2]["revision"]       # one write, one revision


async def test_a_lost_camera_and_its_return_are_events(client, mxid):
    cam = mxid("oak-d")
    events = await watch(client, mxid=cam, type="camera_state")
    await sim(client, cam, "unplug")
    [lost] = await events.until(lambda e: True)
    assert lost["data"]["state"] == "disconnected" and lost["data"]["last_error"]
    await sim(client, cam, "replug")
    got = await events.until(lambda e: e["data"]["state"] == "connected")
    assert got[-1]["data"]["reconnects"] == 1 and got[-1]["data"]["last_error"]
    body = await (await client.get(f"/cameras/{cam}/")).json()
    assert body["state"] == "connected" and body["state_since"] == got[-1]["data"]["state_since"]


async def test_shut_down_boot_and_networks_are_events(client, mxid):
    cam = mxid("oak-d")
    events = await watch(client, mxid=cam)
    assert (await client.delete(f"/cameras/{cam}/")).status == 200
    assert (await client.post(f"/cameras/{cam}/")).status == 200
    await activate(client, cam, "CAM_A")
    resp = await client.post(stream_url(cam, "CAM_A", "nn"), data=upload(blobs.blob(), MOBILENET))
    assert resp.status == 200
    assert (await client.delete(stream_url(cam, "CAM_A", "nn"))).status == 204
    got = await events.until(lambda e: e["type"] == "nn_removed")
    states = [e["data"]["state"] for e in got if e["type"] == "camera_state"]
    assert states == ["shut_down", "booting", "connected"]
    deployed = next(e for e in got if e["type"] == "nn_deployed")
    assert deployed["data"] == {"stream": "CAM_A", "nn": await resp.json()}
    assert deployed["revision"] == int(resp.headers["X-State-Revision"])


async def test_a_client_that_reconnects_gets_every_event_it_missed(client, mxid):
    cam = mxid("oak-d")
    first = await watch(client)
    await client.post(stream_url(cam, "CAM_A", "control"), json={"contrast": 1})
    seen = await first.until(lambda e: True)
    first.resp.close()
    for contrast in (2, 3, 4):
        await client.post(stream_url(cam, "CAM_A", "control"), json={"contrast": contrast})
    again = await watch(client, last_event_id=seen[-1]["id"])
    got = [await again.next() for _ in range(3)]
    assert [e["data"]["control"]["contrast"] for e in got] == [2, 3, 4]
    assert [e["seq"] for e in got] == [seen[-1]["seq"] + i for i in (1, 2, 3)]
    # The query parameter does the same, for clients that cannot send the header.
    resumed = await watch(client, last_event_id=f"{got[0]['id']}")
    assert [(await resumed.next())["seq"] for _ in range(2)] == [got[1]["seq"], got[2]["seq"]]


async def test_from_the_start_a_client_sees_the_gateway_start_and_its_cameras_appear(client, backend):
    events = await watch(client, last_event_id=f"{await boot_id(client)}:0")
    started = await events.next()
    assert started["type"] == "gateway_started" and started["seq"] == 1 and started["mxid"] is None
    assert started["data"]["boot_id"] == started["boot_id"]
    assert started["data"]["id"] == (await (await client.get("/gateway")).json())["id"]     # the saved one
    cameras, names = {d.info.mxid for d in backend.devices}, set()

    def all_added(event) -> bool:
        if event["type"] == "camera_added":
            assert event["data"] == body_of[event["mxid"]] | {
                k: event["data"][k] for k in ("state", "state_since", "last_error")}
            names.add(event["mxid"])
        return names == cameras
    body_of = {mxid: await (await client.get(f"/cameras/{mxid}/")).json() for mxid in cameras}
    await events.until(all_added)


async def test_an_event_of_another_run_or_older_than_the_history_gets_a_reset(aiohttp_client, make_backend,
                                                                             monkeypatch, mxid):
    monkeypatch.setattr(service.events, "HISTORY", 5)
    backend = make_backend(["oak-d"])
    client = await aiohttp_client(create_app(backend, device_timeout=device_timeout(backend)))
    await wait_until(lambda: all(a.status == "connected" for a in client.app[FLEET].actors.values()))
    cam = mxid("oak-d")
    other_run = await watch(client, last_event_id="0" * 32 + ":3")
    reset = await other_run.next()
    assert reset["type"] == reset["event"] == "reset" and "restarted" in reset["data"]["reason"]
    current = reset["seq"]
    for contrast in range(1, 9):
        await client.post(stream_url(cam, "CAM_A", "control"), json={"contrast": contrast})
    old = await watch(client, last_event_id=f"{await boot_id(client)}:{current}")
    reset = await old.next()
    assert reset["type"] == "reset" and "older" in reset["data"]["reason"] and reset["seq"] == current + 8
    # After the reset, the stream goes on; resuming from the reset's id misses nothing.
    await client.post(stream_url(cam, "CAM_A", "control"), json={"contrast": 0})
    assert (await old.next())["seq"] == current + 9
    future = await watch(client, last_event_id=f"{await boot_id(client)}:{current + 100}")
    assert (await future.next())["type"] == "reset"


async def test_filters_by_camera_and_type(client, mxid):
    cam, other = mxid("oak-d"), mxid("oak-1")
    events = await watch(client, mxid=cam, type="control,stream_activated")
    await client.post(stream_url(other, "CAM_A", "control"), json={"contrast": 1})
    await client.post(stream_url(cam, "CAM_A", "config"), json={"fps": 10})
    await activate(client, other, "CAM_A")
    await activate(client, cam, "CAM_A")
    await client.post(stream_url(cam, "CAM_A", "control"), json={"contrast": 2})
    got = await events.until(lambda e: e["type"] == "control")
    assert [(e["type"], e["mxid"]) for e in got] == [("stream_activated", cam), ("control", cam)]


@pytest.mark.parametrize("params, headers, field", [
    ({"type": "config,nonsense"}, {}, "type"), ({"mxid": "lower"}, {}, "mxid"),
    ({"last_event_id": "12"}, {}, "last_event_id"), ({}, {"Last-Event-ID": "abc:1"}, "Last-Event-ID"),
])
async def test_bad_filters_and_ids_are_422(client, params, headers, field):
    error = await assert_error(await client.get("/events", params=params, headers=headers), 422, "validation_error")
    assert field in error["fields"]


async def test_a_keep_alive_comes_while_nothing_happens(client, monkeypatch):
    monkeypatch.setattr(service.sse, "KEEPALIVE", 0.05)
    events = await watch(client)
    for _ in range(2):
        line = await asyncio.wait_for(events.resp.content.readline(), scaled(5))
        assert line.startswith(b":") and await events.resp.content.readline() == b"\r\n"


async def test_a_client_that_falls_behind_gets_a_reset_and_its_queue_is_cleared(aiohttp_client, make_backend,
                                                                               monkeypatch, mxid):
    monkeypatch.setattr(service.events, "QUEUE", 2)
    backend = make_backend(["oak-d"])
    client = await aiohttp_client(create_app(backend, device_timeout=device_timeout(backend)))
    await wait_until(lambda: all(a.status == "connected" for a in client.app[FLEET].actors.values()))
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_B")
    await activate(client, cam, "CAM_C")
    events = await watch(client, mxid=cam)
    await activate(client, cam, "DEPTH_B_C")          # three events at once: more than the queue holds
    await client.post(stream_url(cam, "CAM_A", "control"), json={"contrast": 5})
    got = await events.until(lambda e: e["type"] == "control")
    assert [e["type"] for e in got] == ["reset", "control"]
    assert "behind" in got[0]["data"]["reason"] and got[0]["seq"] == got[1]["seq"] - 1
    assert value(await scrape(client), "events_resets_total") == 1


async def test_tokens_guard_the_events_and_the_query_token_opens_them(aiohttp_client, backend):
    client = await aiohttp_client(create_app(backend, tokens=["s3cret"]))
    await assert_error(await client.get("/events"), 401, "unauthorized")
    events = await watch(client, access_token="s3cret")
    assert events.resp.status == 200


async def test_a_client_that_leaves_is_let_go(client, mxid):
    async with ClientSession() as session:
        resp = await session.get(client.make_url("/events"))
        assert resp.status == 200
        await wait_until(lambda: len(client.app[service.events.EVENTS].subscribers) == 1)
        resp.close()
    await wait_until(lambda: True)
    deadline = asyncio.get_running_loop().time() + scaled(10)
    while value(await scrape(client), "events_readers") != 0:
        assert asyncio.get_running_loop().time() < deadline, "the reader was not let go"
        await asyncio.sleep(0.05)


async def test_the_gateway_stop_is_the_last_event(aiohttp_client, make_backend):
    backend = make_backend(["oak-1"])
    client = await aiohttp_client(create_app(backend, device_timeout=device_timeout(backend)))
    events = await watch(client)
    await client.server.close()
    got = await events.until(lambda e: e["type"] == "gateway_stopped")
    assert got[-1]["mxid"] is None and await events.ended()


async def test_each_write_of_a_batch_is_its_own_event_with_the_revision_its_answer_names(client, mxid):
    """Writes queued behind a slow one are applied together; each still has its own event."""
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_A")
    events = await watch(client, mxid=cam, type="control")
    assert (await client.post(f"/sim/cameras/{cam}/faults", json={"latency_ms": 300})).status == 200
    url = stream_url(cam, "CAM_A", "control")
    answers = await asyncio.gather(*(client.post(url, json={"contrast": c}) for c in (1, 2, 3, 4)))
    assert all(a.status == 200 for a in answers)
    got = [await events.next() for _ in answers]
    assert [(e["revision"], e["data"]["control"]["contrast"]) for e in got] == \
        [(int(a.headers["X-State-Revision"]), (await a.json())["contrast"]) for a in answers]
