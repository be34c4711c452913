import asyncio

import pytest

from service.app import create_app
from service.inputs import FLEET
from conftest import activate, assert_error, device_open, device_timeout, stream_url, wait_until
from timing import scaled

BAD_BODIES = [
    (b"", "invalid_json"), (b"   ", "invalid_json"), (b"not json", "invalid_json"), (b"{", "invalid_json"),
    (b"[]", "invalid_json"), (b"[1, 2]", "invalid_json"), (b"null", "invalid_json"), (b'"text"', "invalid_json"),
    (b"42", "invalid_json"), (b'{"contrast": NaN}', "invalid_json"), (b'{"fps": Infinity}', "invalid_json"),
    (b"\xff\xfe{}", "invalid_json"),
]


async def snapshot(client, cam):
    """Everything a client can read about a camera's streams."""
    out = {"streams": await (await client.get(f"/cameras/{cam}/streams/")).json()}
    for s in out["streams"]:
        for tail in ("config", "control"):
            out[s["name"], tail] = await (await client.get(stream_url(cam, s["name"], tail))).json()
    return out


@pytest.mark.parametrize("tail", ["config", "control"])
@pytest.mark.parametrize("body, code", BAD_BODIES)
async def test_bodies_that_are_not_a_json_object_are_422(client, mxid, tail, body, code):
    cam = mxid("oak-d")
    before = await snapshot(client, cam)
    resp = await client.post(stream_url(cam, "CAM_A", tail), data=body, headers={"Content-Type": "application/json"})
    await assert_error(resp, 422, code)
    assert await snapshot(client, cam) == before


async def test_a_huge_body_is_413_and_changes_nothing(client, mxid):
    cam = mxid("oak-d")
    before = await snapshot(client, cam)
    huge = b'{"contrast": 1, "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    await assert_error(await client.post(stream_url(cam, "CAM_A", "control"), data=huge), 413, "body_too_large")
    assert await snapshot(client, cam) == before


async def test_an_empty_object_changes_nothing(client, mxid):
    cam = mxid("oak-d")
    before = await snapshot(client, cam)
    resp = await client.post(stream_url(cam, "CAM_A", "control"), json={})
    assert resp.status == 200 and await resp.json() == before["CAM_A", "control"]


async def test_a_bug_is_a_500_with_a_request_id_and_no_traceback(client, mxid, monkeypatch, caplog):
    import service.streams

    def broken(*args):
        raise RuntimeError("secret internals")
    monkeypatch.setattr(service.streams, "control_view", broken)
    error = await assert_error(await client.get(stream_url(mxid("oak-d"), "CAM_A", "control")), 500,
                               "internal_error")
    assert "secret" not in error["message"] and "Traceback" not in error["message"]
    assert error["request_id"] in caplog.text and "secret internals" in caplog.text


@pytest.fixture
async def slow_client(aiohttp_client, make_backend):
    """Two cameras, a long device deadline (a hung call is held until released or past it) and a mailbox of
    one (no periodic health check takes its place while a test fills it: discovery, which asks for them, runs
    once at start)."""
    backend = make_backend(["oak-d", "oak-1"])
    app = create_app(backend, device_timeout=scaled(5), mailbox_size=1, discovery_interval=600)
    client = await aiohttp_client(app)
    await wait_until(lambda: len(app[FLEET].actors) == 2 and
                     all(a.status == "connected" for a in app[FLEET].actors.values()))
    yield client, backend
    for device in backend.devices:
        device.release()


async def test_a_stuck_camera_does_not_hold_up_another(slow_client):
    client, backend = slow_client
    stuck, other = (d.info.mxid for d in backend.devices)
    backend.devices[0].faults.hang_next = True
    hung = asyncio.create_task(client.post(stream_url(stuck, "CAM_A")))
    await wait_until(lambda: not backend.devices[0].faults.hang_next)              # taken: it hangs in the device
    await activate(client, other, "CAM_A")
    assert (await client.get(stream_url(other, "CAM_A", "still"))).status == 200
    assert (await client.get(stream_url(stuck, "CAM_A", "control"))).status == 200   # reads of the stuck one too
    assert not hung.done()                      # all of that while the stuck camera's call was still held
    backend.devices[0].release()
    assert (await hung).status == 204
    backend.devices[0].release()
    assert (await hung).status == 204


async def test_a_full_mailbox_is_503_with_retry_after(slow_client):
    client, backend = slow_client
    cam = backend.devices[0].info.mxid
    backend.devices[0].faults.hang_next = True
    actor = client.app[FLEET].get(cam)
    first = asyncio.create_task(client.post(stream_url(cam, "CAM_A")))          # taken, hangs in the device
    await wait_until(lambda: not backend.devices[0].faults.hang_next)
    second = asyncio.create_task(client.post(stream_url(cam, "CAM_A", "control"), json={"contrast": 2}))
    await wait_until(lambda: actor.mailbox_depth == 1)                           # waits in the mailbox
    resp = await client.post(stream_url(cam, "CAM_A", "control"), json={"contrast": 9})
    await assert_error(resp, 503, "camera_busy")                # a code of its own: the camera is there
    assert int(resp.headers["Retry-After"]) >= 1
    backend.devices[0].release()
    assert (await first).status == 204 and (await second).status == 200
    assert (await (await client.get(stream_url(cam, "CAM_A", "control"))).json())["contrast"] == 2


@pytest.mark.hangs
async def test_a_device_that_does_not_answer_is_504_and_the_camera_recovers_once_the_call_returns(client, backend,
                                                                                                    mxid):
    cam = mxid("oak-1")
    device = backend.device(cam)
    device.faults.hang_next = True
    await assert_error(await client.post(stream_url(cam, "CAM_A")), 504, "device_timeout")
    streams = await (await client.get(f"/cameras/{cam}/streams/")).json()
    assert streams == [{"name": "CAM_A", "active": False}]          # the failed activation changed nothing
    device.release()               # the call leaves the device: only then may the reopen enter it
    fleet = client.app[FLEET]
    await wait_until(lambda: fleet.get(cam).status == "connected")
    await activate(client, cam, "CAM_A")
    assert (await client.get(stream_url(cam, "CAM_A", "still"))).status == 200
    assert fleet.get(cam).reconnects == 1
    assert all(a.reconnects == 0 for m, a in fleet.actors.items() if m != cam)   # the others never noticed


async def test_a_command_in_hand_when_the_camera_stops_is_answered(aiohttp_client, make_backend):
    backend = make_backend(["oak-1"])
    app = create_app(backend, device_timeout=device_timeout(backend, hangs=True))
    client = await aiohttp_client(app)
    device = backend.devices[0]
    await wait_until(lambda: app[FLEET].get(device.info.mxid).status == "connected")
    device.faults.hang_next = True
    pending = asyncio.create_task(client.post(stream_url(device.info.mxid, "CAM_A")))
    await wait_until(lambda: not device.faults.hang_next)    # the activation is in the actor's hands, stuck in the device
    try:
        await app[FLEET].get(device.info.mxid).stop()
        await assert_error(await asyncio.wait_for(pending, scaled(5)), 503, "camera_unavailable")
    finally:
        device.release()
    # The stop closes the camera once the stuck call leaves it (the device is not left running, read by nobody).
    await wait_until(lambda: not device_open(device), timeout=10)


async def test_hostile_bodies_are_4xx_in_the_error_shape(client, mxid, caplog):
    import gzip
    url = stream_url(mxid("oak-1"), "CAM_A", "control")
    deep = "[" * 1000 + "]" * 1000
    for depth in (980, 1000, 30000):
        body = '{"contrast": ' + "[" * depth + "]" * depth + "}"
        await assert_error(await client.post(url, data=body, headers={"Content-Type": "application/json"}), 422)
    resp = await client.post(url, data=b"not gzip at all", headers={"Content-Encoding": "gzip",
                                                                     "Content-Type": "application/json"})
    await assert_error(resp, 400, "bad_request")
    resp = await client.post(url, data=gzip.compress(b'{"contrast": 3}'),
                             headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert resp.status == 200 and (await resp.json())["contrast"] == 3
    assert deep and "Traceback" not in caplog.text


async def test_a_client_that_hangs_up_mid_body_is_no_error(client, mxid, caplog):
    import asyncio
    host, port = client.server.host, client.server.port
    reader, writer = await asyncio.open_connection(host, port)
    path = stream_url(mxid("oak-1"), "CAM_A", "control")
    writer.write(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Content-Length: 1000\r\n\r\n{\"contrast\":".encode())
    await writer.drain()
    server = client.server.runner.server
    await wait_until(lambda: len(server.connections) == 1)
    import socket
    import struct
    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()                                                # a reset, as a pulled cable or a killed client
    await wait_until(lambda: not server.connections)              # the service saw the client go
    resp = await client.get(path)
    assert (await resp.json())["contrast"] == 0
    assert "ERROR" not in [r.levelname for r in caplog.records], caplog.text


async def test_small_contract_holes(client, mxid):
    cam = mxid("oak-1")
    await assert_error(await client.get(f"/cameras/{cam}%0A/"), 422, "validation_error")
    await assert_error(await client.get(f"/cameras/{cam}/streams/CAM_A%0A/config"), 422, "validation_error")
    for path in ("/healthz", "/readyz", "/cameras/", f"/cameras/{cam}/streams/CAM_A/control"):
        resp = await client.head(path)
        assert resp.status == 200 and await resp.read() == b"", path
    spec = await (await client.get("/api/docs/swagger.json")).json()
    video = spec["paths"]["/cameras/{mxid}/streams/{stream_name}/video"]["get"]["parameters"]
    fps = next(p for p in video if p["name"] == "fps")["schema"]
    assert fps["minimum"] == 0 and fps["exclusiveMinimum"] is True


async def test_a_fixed_path_allows_only_its_own_methods(client):
    resp = await client.get("/cameras/refresh")
    assert resp.status in (405, 422)
    resp = await client.options("/cameras/refresh")
    await assert_error(resp, 405, "method_not_allowed")
    assert resp.headers["Allow"] == "POST"
