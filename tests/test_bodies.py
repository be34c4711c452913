"""Bodies that do not arrive: a stalled body is a 408 after the body timeout, a connection waiting for one makes
room under the connection cap, and a client that hangs up mid-body is one line at info, counted as 499."""
import asyncio
import re
import logging

import pytest

from timing import scaled
from conftest import serve, device_timeout, stream_url, wait_until
from service.app import create_app
from service.inputs import FLEET
from service.limits import WAITING_FOR_BODY, cap_connections

BODY_TIMEOUT = 0.5


@pytest.fixture
async def served(aiohttp_client, backend, state_dir):
    app = create_app(backend, state_dir=state_dir, device_timeout=device_timeout(backend), max_backoff=0.1,
                     discovery_interval=0.05, body_timeout=BODY_TIMEOUT)
    # aiohttp keeps reading a connection whose body was not read for its lingering time (10 s) before it closes
    # it: an hour here, so that a connection the service does not end itself stays open past any test's wait.
    client = await aiohttp_client(await serve(app, lingering_time=3600))
    await wait_until(lambda: all(a.status == "connected" for a in app[FLEET].actors.values()))
    return client


def stalled(path: str, content_type: str = "application/json") -> bytes:
    """A POST whose headers promise a body that never comes (a few bytes of it, then nothing)."""
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: 1000\r\n\r\n"
            '{"fps": '.encode())


@pytest.mark.parametrize("tail, content_type", [("control", "application/json"),
                                                ("nn", "multipart/form-data; boundary=b")])
async def test_a_body_that_stops_arriving_is_a_408_and_changes_nothing(served, mxid, tail, content_type):
    cam = mxid("oak-d")
    before = await (await served.get(stream_url(cam, "CAM_A", "control"))).json()
    reader, writer = await asyncio.open_connection(served.server.host, served.server.port)
    writer.write(stalled(stream_url(cam, "CAM_A", tail), content_type))
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), scaled(BODY_TIMEOUT * 10))
    length = int(re.search(rb"\r\nContent-Length: (\d+)", head)[1])
    answer = head + await asyncio.wait_for(reader.readexactly(length), scaled(5))
    assert answer.startswith(b"HTTP/1.1 408") and b'"request_timeout"' in answer, answer
    assert b"\r\nConnection: close\r\n" in head                  # the connection ends with it, at once
    assert await asyncio.wait_for(reader.read(), scaled(5)) == b""
    writer.close()
    assert await (await served.get(stream_url(cam, "CAM_A", "control"))).json() == before


async def test_connections_waiting_for_a_body_make_room_under_the_cap(served, mxid):
    server = served.server.runner.server
    await wait_until(lambda: not server.connections)
    cap_connections(server, 3)
    cam = mxid("oak-d")
    held = []
    for _ in range(3):
        reader, writer = await asyncio.open_connection(served.server.host, served.server.port)
        writer.write(stalled(stream_url(cam, "CAM_A", "control")))
        held.append((reader, writer))
    await wait_until(lambda: len(server.connections) == 3)
    assert (await served.get("/healthz")).status == 200          # a stalled one made room
    for _, writer in held:
        writer.close()


async def test_a_client_that_hangs_up_mid_body_is_one_info_line_counted_as_499(served, mxid, caplog):
    cam = mxid("oak-d")
    caplog.set_level(logging.INFO)
    for tail, content_type in (("control", "application/json"), ("nn", "multipart/form-data; boundary=b")):
        reader, writer = await asyncio.open_connection(served.server.host, served.server.port)
        writer.write(stalled(stream_url(cam, "CAM_A", tail), content_type))
        await wait_until(lambda: len(WAITING_FOR_BODY) == 1)          # the handler reads the body
        writer.close()
        await wait_until(lambda: not WAITING_FOR_BODY)
    await wait_until(lambda: sum("the client closed the connection" in r.getMessage() for r in caplog.records) == 2)
    metrics = (await (await served.get("/metrics")).text()).splitlines()
    for tail in ("control", "nn"):
        assert any(f'/{tail}"' in line and 'status="499"' in line for line in metrics), tail
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info], caplog.records


async def test_a_client_gone_before_its_undecodable_body_is_answered_leaves_no_error(served, mxid, caplog):
    # The whole request, a gzip body that does not decode, and the client hangs up at once: the 400 finds the
    # connection closed, which is the client's doing, not a fault of the service.
    cam = mxid("oak-d")
    caplog.set_level(logging.INFO)
    path, body = stream_url(cam, "CAM_A", "control"), b"not gzip at all"
    for _ in range(5):
        reader, writer = await asyncio.open_connection(served.server.host, served.server.port)
        writer.write(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                     f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        writer.close()

    async def answered() -> dict[str, float]:           # POST control's answers by status, from /metrics
        lines = (await (await served.get("/metrics")).text()).splitlines()
        return {re.search(r'status="(\d+)"', line)[1]: float(line.rsplit(" ", 1)[1]) for line in lines
                if line.startswith("http_requests_total{") and '/control"' in line and 'method="POST"' in line}
    deadline = asyncio.get_running_loop().time() + scaled(5)
    while sum((got := await answered()).values()) < 5:
        assert asyncio.get_running_loop().time() < deadline, got
        await asyncio.sleep(0.02)
    assert set(got) <= {"400", "499"}, got              # answered, or counted as the client's hang-up
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], caplog.records
