"""Desired state survives restarts: saved before the reply, restored on start."""
import asyncio
import json
import logging

import pytest

from actors.simulated.models import mxid_for
from service.app import create_app
from service.inputs import FLEET
from conftest import MODELS, activate, device_open, device_timeout, stream_url, wait_until
from timing import scaled


async def start(aiohttp_client, make_backend, state_dir, models=MODELS):
    backend = make_backend(models)
    client = await aiohttp_client(create_app(backend, state_dir=state_dir, device_timeout=device_timeout(backend), max_backoff=0.1))
    await wait_until(lambda: all(a.status == "connected" for a in client.app[FLEET].actors.values()))
    return client, backend


async def test_the_state_is_restored_after_a_restart(aiohttp_client, make_backend, tmp_path):
    client, _ = await start(aiohttp_client, make_backend, tmp_path)
    cam = mxid_for("oak-d", 0)
    await client.post(stream_url(cam, "CAM_A", "config"), json={"resolution": "THE_4_K", "fps": 20})
    await activate(client, cam, "CAM_A")
    await activate(client, cam, "DEPTH_B_C")
    control = await (await client.post(stream_url(cam, "DEPTH_B_C", "control"),
                                       json={"auto_exposure_enable": False, "exposure_time": 777})).json()
    await client.post(stream_url(cam, "CAM_C", "control"), json={"brightness": -3})     # inactive, kept too
    await client.close()

    client, backend = await start(aiohttp_client, make_backend, tmp_path)
    streams = await (await client.get(f"/cameras/{cam}/streams/")).json()
    assert [s["name"] for s in streams if s["active"]] == ["CAM_A", "DEPTH_B_C"]
    assert (await (await client.get(stream_url(cam, "CAM_A", "config"))).json())["resolution"] == "THE_4_K"
    assert await (await client.get(stream_url(cam, "DEPTH_B_C", "control"))).json() == control
    assert (await (await client.get(stream_url(cam, "CAM_C", "control"))).json())["brightness"] == -3
    device = backend.device(cam)
    assert set(device.running) == {"CAM_A", "DEPTH_B_C"}
    assert device.sensor_controls["CAM_B"]["exposure_time"] == 777


async def test_a_write_is_on_disk_when_its_reply_arrives(client, state_dir, mxid):
    cam = mxid("oak-1")
    resp = await client.post(stream_url(cam, "CAM_A", "control"), json={"saturation": 9})
    assert resp.status == 200
    saved = json.loads((state_dir / f"{cam}.json").read_text())
    assert saved["streams"]["CAM_A"]["control"]["saturation"] == 9
    assert saved["revision"] == int(resp.headers["X-State-Revision"])
    assert not list(state_dir.glob("*.tmp"))


async def test_a_corrupt_or_foreign_state_file_is_set_aside(aiohttp_client, tmp_path, caplog, make_backend):
    cam, other = mxid_for("oak-1", 0), mxid_for("oak-d", 0)
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / f"{cam}.json").write_text('{"version": 1, "streams": {"CAM_A": {"act')
    (tmp_path / f"{other}.json").write_text('{"version": 99, "streams": {}}')
    with caplog.at_level(logging.ERROR):
        client, _ = await start(aiohttp_client, make_backend, tmp_path, ["oak-1", "oak-d"])
    assert "unusable" in caplog.text and "set aside" in caplog.text and "unknown version" in caplog.text
    assert len(list(tmp_path.glob("*.unreadable-*"))) == 2
    assert (await (await client.get(f"/cameras/{cam}/streams/")).json()) == [{"name": "CAM_A", "active": False}]
    assert (await client.post(stream_url(cam, "CAM_A"))).status == 204     # and a good file is written again
    assert json.loads((tmp_path / f"{cam}.json").read_text())["streams"]["CAM_A"]["active"] is True


async def test_saved_values_the_camera_cannot_do_fall_back_to_defaults(aiohttp_client, tmp_path, caplog,
                                                                    make_backend):
    cam = mxid_for("oak-1", 0)
    client, _ = await start(aiohttp_client, make_backend, tmp_path, ["oak-1"])
    await client.post(stream_url(cam, "CAM_A", "control"), json={"contrast": 5})
    await client.close()
    saved = json.loads((tmp_path / f"{cam}.json").read_text())
    saved["streams"]["CAM_A"]["config"]["resolution"] = "THE_800_P"        # not an IMX378 mode
    saved["streams"]["CAM_Z"] = saved["streams"]["CAM_A"]
    (tmp_path / f"{cam}.json").write_text(json.dumps(saved))
    with caplog.at_level(logging.WARNING):
        client, _ = await start(aiohttp_client, make_backend, tmp_path, ["oak-1"])
    assert "does not fit" in caplog.text and "CAM_Z" in caplog.text
    assert (await (await client.get(stream_url(cam, "CAM_A", "config"))).json())["resolution"] == "THE_1080_P"


async def test_a_write_that_cannot_be_saved_is_503_and_retrying_saves_it(client, state_dir, mxid):
    cam = mxid("oak-1")
    (state_dir / f"{cam}.json.tmp").mkdir()        # the temporary file cannot be created
    resp = await client.post(stream_url(cam, "CAM_A", "control"), json={"contrast": 2})
    assert resp.status == 503 and (await resp.json())["error"]["code"] == "state_not_saved"
    assert str(state_dir) not in (await resp.json())["error"]["message"]      # no path of the gateway's
    (state_dir / f"{cam}.json.tmp").rmdir()
    assert (await client.post(stream_url(cam, "CAM_A", "control"), json={"contrast": 2})).status == 200
    assert json.loads((state_dir / f"{cam}.json").read_text())["streams"]["CAM_A"]["control"]["contrast"] == 2
    assert (state_dir.stat().st_mode & 0o777, (state_dir / f"{cam}.json").stat().st_mode & 0o777) == (0o700, 0o600)


@pytest.mark.parametrize("content", [
    '{"version": 1, "streams": []}', '{"version": 1, "streams": "CAM_A"}', '{"version": 1, "streams": null}',
    '{"version": 1, "revision": 1e400, "streams": {}}', '{"version": 1, "revision": -3, "streams": {}}',
    "[" * 100000 + "]" * 100000, '{"version": 1, "streams": {"CAM_A": []}}',
    '{"version": 1, "streams": {"CAM_A": {"active": "false", "config": {}, "control": {}}}}',
    '{"version": 1, "streams": {"CAM_A": {"active": true, "config": {"fps": "x"}, "control": 7}}}',
    '"just a string"', '\xff\xfe', '{"version": true, "streams": {}}',
])
async def test_whatever_a_state_file_holds_the_service_starts_from_defaults(aiohttp_client, tmp_path, make_backend,
                                                                            content):
    cam = mxid_for("oak-1", 0)
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / f"{cam}.json").write_text(content, errors="surrogateescape")
    client, _ = await start(aiohttp_client, make_backend, tmp_path, ["oak-1"])
    assert (await (await client.get(f"/cameras/{cam}/streams/")).json()) == [{"name": "CAM_A", "active": False}]
    assert (await (await client.get(stream_url(cam, "CAM_A", "config"))).json())["fps"] == 30
    assert (await client.post(stream_url(cam, "CAM_A"))).status == 204


async def test_a_write_that_changes_nothing_is_answered_without_a_save(client, mxid, monkeypatch):
    from actors.store import StateStore
    cam = mxid("oak-1")
    first = await client.post(stream_url(cam, "CAM_A", "control"), json={"contrast": 4})
    writes = []
    write = StateStore.write
    monkeypatch.setattr(StateStore, "write", lambda self, *a: (writes.append(a), write(self, *a)))
    again = await client.post(stream_url(cam, "CAM_A", "control"), json={"contrast": 4})
    assert again.status == 200 and again.headers["X-State-Revision"] == first.headers["X-State-Revision"]
    config = await client.post(stream_url(cam, "CAM_A", "config"), json={"fps": 30})
    assert config.status == 200 and config.headers["X-State-Revision"] == first.headers["X-State-Revision"]
    off = await client.delete(stream_url(cam, "CAM_A"))
    assert off.status == 204 and off.headers["X-State-Revision"] == first.headers["X-State-Revision"]
    assert writes == []
    assert (await client.post(stream_url(cam, "CAM_A", "control"), json={"contrast": 5})).status == 200
    assert len(writes) == 1


async def test_retry_after_says_when_the_next_reconnect_is_due(aiohttp_client, make_backend, tmp_path):
    backend = make_backend(["oak-1"])
    client = await aiohttp_client(create_app(backend, device_timeout=device_timeout(backend), max_backoff=8, discovery_interval=30))
    cam = mxid_for("oak-1", 0)
    actor = client.app[FLEET].get(cam)
    await wait_until(lambda: actor is not None and actor.status == "connected")
    backend.device(cam).unplug()
    await wait_until(lambda: (actor.ask_health_check(), actor.status == "disconnected")[1])      # as the discovery loop does
    await wait_until(lambda: actor.reconnect_due is not None and actor.reconnect_due - asyncio.get_running_loop().time() > 3,
                     timeout=15)
    resp = await client.post(stream_url(cam, "CAM_A"))
    assert resp.status == 503 and int(resp.headers["Retry-After"]) > 2


async def test_stopping_a_camera_does_not_block_the_loop_on_a_slow_save(client, backend, mxid, monkeypatch):
    import threading
    from actors.store import StateStore
    cam = mxid("oak-1")
    entered, held, expired = threading.Event(), threading.Event(), []
    write = StateStore.write
    monkeypatch.setattr(StateStore, "write", lambda self, *a: (entered.set(), held.wait(scaled(5)) or expired.append(1),
                                                               write(self, *a)))
    pending = asyncio.create_task(client.post(stream_url(cam, "CAM_A", "control"), json={"contrast": 2}))
    await wait_until(entered.is_set)                        # the save is under way, held up
    stopping = asyncio.create_task(client.app[FLEET].get(cam).stop())
    await wait_until(lambda: not device_open(backend.device(cam)))    # the stop is past the close, at the save
    assert (await asyncio.wait_for(client.get("/healthz"), scaled(2))).status == 200      # the loop still answers
    assert not expired                                      # and did so while the save was still held up
    held.set()
    await stopping
    await pending


async def test_a_request_that_reaches_a_stopped_camera_is_answered_not_left_waiting(client, mxid, caplog):
    cam = mxid("oak-1")
    await client.app[FLEET].get(cam).stop()            # as at the service's stop, with this request behind it
    resp = await asyncio.wait_for(client.post(stream_url(cam, "CAM_A", "control"), json={"contrast": 2}),
                                  scaled(5))
    assert resp.status == 503 and (await resp.json())["error"]["code"] == "camera_unavailable"
    await client.close()                                # the service's stop stops that camera again: no harm
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


async def test_a_write_that_cannot_be_saved_leaves_the_device_as_the_api_says(client, backend, state_dir, mxid):
    cam = mxid("oak-1")
    await activate(client, cam, "CAM_A")
    await client.post(stream_url(cam, "CAM_A", "control"), json={"contrast": 1})
    (state_dir / f"{cam}.json.tmp").mkdir()
    resp = await client.post(stream_url(cam, "CAM_A", "control"), json={"contrast": 7})
    assert resp.status == 503
    assert (await (await client.get(stream_url(cam, "CAM_A", "control"))).json())["contrast"] == 1
    assert backend.device(cam).sensor_controls["CAM_A"]["contrast"] == 1          # put back
    resp = await client.post(stream_url(cam, "CAM_A", "config"), json={"fps": 20})
    assert resp.status == 503
    assert backend.device(cam).running["CAM_A"].config["fps"] == 30


def test_a_save_syncs_the_file_before_the_rename_and_the_directory_after(tmp_path, monkeypatch):
    import os
    import stat
    from actors.store import StateStore
    from schemas.state import SavedStateReader
    calls = []
    fsync, replace = os.fsync, os.replace

    def recorded_fsync(fd):
        calls.append(("fsync", "dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"))
        fsync(fd)

    def recorded_replace(a, b):
        calls.append(("rename", os.path.basename(b)))
        replace(a, b)
    monkeypatch.setattr(os, "fsync", recorded_fsync)
    monkeypatch.setattr(os, "replace", recorded_replace)
    StateStore(tmp_path, SavedStateReader()).write("ABC", b'{"version": 1}')
    assert calls == [("fsync", "file"), ("rename", "ABC.json"), ("fsync", "dir")]
    assert (tmp_path / "ABC.json").read_bytes() == b'{"version": 1}'


async def test_a_saved_state_with_two_streams_of_one_sensor_active_starts_with_one(aiohttp_client, tmp_path,
                                                                                   make_backend):
    """A hand-edited file cannot make a camera run two streams of one sensor: the last one named wins."""
    cam = mxid_for("oak-d", 0)
    client, _ = await start(aiohttp_client, make_backend, tmp_path, ["oak-d"])
    await activate(client, cam, "DEPTH_B_C")
    await client.close()
    saved = json.loads((tmp_path / f"{cam}.json").read_text())
    saved["streams"]["CAM_B"]["active"] = True                    # shares its sensor with DEPTH_B_C
    (tmp_path / f"{cam}.json").write_text(json.dumps(saved))
    client, backend = await start(aiohttp_client, make_backend, tmp_path, ["oak-d"])
    active = [s["name"] for s in await (await client.get(f"/cameras/{cam}/streams/")).json() if s["active"]]
    assert active == ["DEPTH_B_C"]
    assert set(backend.device(cam).running) == {"DEPTH_B_C"}


async def test_a_write_the_camera_refuses_leaves_the_saved_state_as_it_was(aiohttp_client, tmp_path, make_backend):
    """The state file is written while the camera applies a write; a refused write is taken back from the file
    too, so a restart comes back to what was acknowledged."""
    cam = mxid_for("oak-d", 0)
    client, _ = await start(aiohttp_client, make_backend, tmp_path, ["oak-d"])
    await activate(client, cam, "CAM_A")
    assert (await client.post(f"/sim/cameras/{cam}/faults", json={"refused_fps": 12})).status == 200
    resp = await client.post(stream_url(cam, "CAM_A", "config"), json={"fps": 12})
    assert resp.status == 422, await resp.text()
    assert json.loads((tmp_path / f"{cam}.json").read_text())["streams"]["CAM_A"]["config"]["fps"] == 30
    await client.close()
    client, _ = await start(aiohttp_client, make_backend, tmp_path, ["oak-d"])
    assert (await (await client.get(stream_url(cam, "CAM_A", "config"))).json())["fps"] == 30


async def test_a_discovery_that_ends_after_the_stop_opens_no_camera(aiohttp_client, make_backend, state_dir):
    """A refresh in flight when the service stops finds its cameras after the stop: it must not open one that
    nothing will ever close (its frames would be read on, by a thread no one ends)."""
    import threading
    backend = make_backend(["oak-1"])
    client, _ = await start(aiohttp_client, lambda models: backend, state_dir)
    fleet = client.app[FLEET]
    await fleet.get(mxid_for("oak-1", 0)).stop()
    fleet.actors.clear()                                 # as if the camera had not been found before
    searching, release = threading.Event(), threading.Event()
    discover = backend.discover

    def slow_discover():
        searching.set()
        release.wait(scaled(10))
        return discover()
    backend.discover = slow_discover
    refresh = asyncio.create_task(fleet.discover())
    await wait_until(searching.is_set)
    await fleet.stop()                                   # the service stops while the search runs
    release.set()
    await refresh
    assert fleet.actors == {}
