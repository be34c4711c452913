"""Running on a gateway: systemd, configuration, access control, TLS, logs."""
import json
import os
import shutil
import socket
import time
import ssl
import subprocess
import urllib.request
from pathlib import Path

import aiohttp
import pytest

from service.app import create_app
from service.config import parse
from service.inputs import FLEET
from conftest import activate, assert_error, stream_url, wait_until
from test_cli import COMMAND, connected_camera, start, stop
from timing import scaled

ROOT = Path(__file__).resolve().parent.parent
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed here")
def test_the_unit_passes_systemd_analyze_verify(tmp_path):
    # verify also checks that ExecStart exists: point it at this checkout's command.
    unit = (ROOT / "deploy/oak-camera-service.service").read_text()
    assert "ExecStart=/opt/oak-camera-service/.venv/bin/oak-camera-service" in unit
    copy = tmp_path / "oak-camera-service.service"
    copy.write_text(unit.replace("/opt/oak-camera-service/.venv/bin/oak-camera-service", COMMAND))
    result = subprocess.run([SYSTEMD_ANALYZE, "verify", str(copy)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    for setting in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "StateDirectory=oak-camera-service",
                    "DynamicUser=yes", "ProtectSystem=strict", "ProtectHome=yes", "NoNewPrivileges=yes",
                    "PrivateTmp=yes", "DeviceAllow=char-usb_device", "EnvironmentFile=-/etc/oak-camera-service/env",
                    "LimitNOFILE="):
        assert setting in unit


def test_ready_and_watchdog_reach_the_notify_socket(tmp_path):
    address = str(tmp_path / "notify")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(address)
    listener.settimeout(30)
    env = {**os.environ, "NOTIFY_SOCKET": address, "WATCHDOG_USEC": "400000"}
    proc = subprocess.Popen([COMMAND, "--simulate", "oak-1", "--port", "0", "--state-dir", str(tmp_path / "s")],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        messages = [listener.recv(256).decode() for _ in range(4)]
        assert messages[0] == "READY=1"
        assert messages[1:] == ["WATCHDOG=1"] * 3            # kept alive from the event loop, every 0.2 s
        proc.terminate()
        assert listener.recv(256).decode() in ("WATCHDOG=1", "STOPPING=1")
        assert proc.wait(15) == 0
    finally:
        proc.kill()
        listener.close()


def test_a_camera_wedged_too_long_stops_the_watchdog_so_systemd_restarts_the_service(tmp_path):
    import json
    import urllib.request
    from actors.simulated.models import mxid_for
    address = str(tmp_path / "notify")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(address)
    listener.settimeout(30)
    cam = mxid_for("oak-1", 0)
    env = {**os.environ, "NOTIFY_SOCKET": address, "WATCHDOG_USEC": "400000"}
    proc, base, _ = start("--simulate", "oak-1", "--device-timeout", "0.5", "--wedged-restart", "0.5",
                          state_dir=tmp_path / "s", env=env)

    def post(path, body=None):
        request = urllib.request.Request(f"{base}{path}", method="POST",
                                         data=json.dumps(body).encode() if body is not None else b"",
                                         headers={"Content-Type": "application/json"})
        try:
            return urllib.request.urlopen(request, timeout=30).status
        except urllib.error.HTTPError as exc:
            return exc.code
    try:
        assert listener.recv(256).decode() == "READY=1"
        assert connected_camera(base) == cam            # the hang is for the control write, not the boot
        assert post(f"/sim/cameras/{cam}/faults", {"hang_next": True}) == 200
        post(f"/cameras/{cam}/streams/CAM_A/control", {"contrast": 3})     # to the active sensor: never returns
        message, deadline = listener.recv(256).decode(), time.monotonic() + 60
        while message == "WATCHDOG=1" and time.monotonic() < deadline:
            message = listener.recv(256).decode()
        assert message.startswith(f"STATUS=camera {cam} wedged for"), message
        listener.settimeout(2.0)                     # five keep-alive periods: none comes any more
        with pytest.raises(socket.timeout):
            listener.recv(256)
    finally:
        proc.kill()
        proc.wait(15)
        listener.close()


@pytest.fixture
async def guarded(aiohttp_client, tmp_path, backend):
    app = create_app(backend, tokens=["s3cret", "other-token"], cors_origins=["https://fleet.example"])
    return await aiohttp_client(app)


async def test_tokens_missing_wrong_and_right(guarded, mxid):
    resp = await guarded.get("/cameras/")
    error = await assert_error(resp, 401, "unauthorized")
    assert "Bearer" in resp.headers["WWW-Authenticate"] and "token" in error["message"]
    await assert_error(await guarded.get("/cameras/", headers={"Authorization": "Bearer s3cre"}), 401)
    await assert_error(await guarded.get("/cameras/", headers={"Authorization": "Basic czNjcmV0"}), 401)
    await assert_error(await guarded.post(stream_url(mxid("oak-1"), "CAM_A")), 401)
    assert (await guarded.get("/cameras/", headers={"Authorization": "Bearer s3cret"})).status == 200
    assert (await guarded.get("/cameras/", headers={"Authorization": "bearer other-token"})).status == 200
    assert (await guarded.get("/cameras/", params={"access_token": "s3cret"})).status == 200   # for <img> tags
    assert (await guarded.get("/healthz")).status == 200
    await assert_error(await guarded.get("/metrics"), 401)
    await assert_error(await guarded.get("/api/docs/swagger.json"), 401)


async def test_the_query_token_works_where_it_is_meant_for(guarded, mxid):
    cam, token = mxid("oak-1"), {"access_token": "s3cret"}
    await wait_until(lambda: guarded.app[FLEET].get(cam) is not None and guarded.app[FLEET].get(cam).status == "connected")
    assert (await guarded.post(stream_url(cam, "CAM_A"), params=token)).status == 204
    resp = await guarded.get(stream_url(cam, "CAM_A", "still"), params={**token, "format": "png"})
    assert resp.status == 200 and resp.content_type == "image/png"
    resp = await guarded.get(stream_url(cam, "CAM_A", "video"), params={**token, "width": "320"})
    assert resp.status == 200 and resp.content_type == "multipart/x-mixed-replace"
    resp.close()
    await assert_error(await guarded.get(stream_url(cam, "CAM_A", "still"), params={"access_token": "nope"}), 401)


async def _raw(client, request: str) -> bytes:
    """A request written as is (one aiohttp's client would not send), and the whole answer to it."""
    import asyncio
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(request.encode("latin-1"))
    answer = await asyncio.wait_for(reader.read(), scaled(5))
    writer.close()
    return answer


@pytest.mark.parametrize("request_head", [
    f"GET /cameras/?access_token=SECRET123&pad={'x' * 9000} HTTP/1.1\r\nHost: x\r\n\r\n",
    f"GET /cameras/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer SECRET123{'x' * 9000}\r\n\r\n",
    "GET /cameras/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer SECRET123\x00\r\n\r\n",
], ids=["long-query", "long-header", "bad-header"])
async def test_a_request_aiohttp_cannot_parse_is_logged_without_its_token(guarded, caplog, request_head):
    assert (await _raw(guarded, request_head)).startswith(b"HTTP/1.0 400")
    await wait_until(lambda: any(r.levelname == "WARNING" and "Error handling request" in r.getMessage()
                                 for r in caplog.records))
    assert not [r for r in caplog.records if "SECRET123" in r.getMessage()], caplog.text
    assert "REDACTED" in caplog.text


async def test_cors_only_for_listed_origins(guarded, client):
    auth = {"Authorization": "Bearer s3cret"}
    resp = await guarded.get("/cameras/", headers={**auth, "Origin": "https://fleet.example"})
    assert resp.headers["Access-Control-Allow-Origin"] == "https://fleet.example"
    resp = await guarded.get("/cameras/", headers={**auth, "Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in resp.headers
    pre = await guarded.options("/cameras/ABC/streams/CAM_A/control", headers={
        "Origin": "https://fleet.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert pre.status == 204 and "POST" in pre.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in pre.headers["Access-Control-Allow-Headers"]
    # Off by default.
    resp = await client.get("/cameras/", headers={"Origin": "https://fleet.example"})
    assert "Access-Control-Allow-Origin" not in resp.headers


async def test_an_options_request_that_is_no_preflight_needs_the_token(guarded):
    """Only a browser's preflight (which carries no credentials) passes without a token: any other OPTIONS
    would tell a stranger which paths exist and what they take."""
    for path in ("/cameras/", "/nothing/here"):
        await assert_error(await guarded.options(path), 401, "unauthorized")
        await assert_error(await guarded.options(path, headers={"Origin": "https://evil.example"}), 401)
    pre = await guarded.options("/cameras/", headers={"Origin": "https://fleet.example",
                                                      "Access-Control-Request-Method": "GET",
                                                      "X-Request-ID": "preflight-1"})
    assert pre.status == 204 and pre.headers["X-Request-ID"] == "preflight-1"


@pytest.mark.parametrize("target, answer", [("OPTIONS *", b"404"), ("GET http://example.com/x?a=1", b"404"),
                                            ("DELETE http://example.com/cameras/", b"405")])
async def test_a_target_that_is_not_a_path_is_a_json_error_with_an_id(client, guarded, target, answer):
    request = f"{target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    head, body = (await _raw(client, request)).split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 " + answer) and b"X-Request-ID: " in head, head
    assert json.loads(body)["error"]["status"] == int(answer)
    head, body = (await _raw(guarded, request)).split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 401") and json.loads(body)["error"]["code"] == "unauthorized", head


async def test_an_unknown_expectation_is_ignored_and_the_request_meets_the_door(client, guarded, mxid):
    """RFC 9110 lets a server ignore an expectation it does not know; aiohttp would answer a plain-text 417
    before the token is checked."""
    resp = await client.get("/cameras/", headers={"Expect": "fast-please"})
    assert resp.status == 200 and resp.headers["X-Request-ID"] and await resp.json()
    await assert_error(await guarded.get("/cameras/", headers={"Expect": "fast-please"}), 401, "unauthorized")
    await assert_error(await client.get("/nothing", headers={"Expect": "fast-please"}), 404, "not_found")
    control = stream_url(mxid("oak-1"), "CAM_A", "control")
    resp = await client.post(control, json={"contrast": 3}, expect100=True,    # the body waits for the 100
                             timeout=aiohttp.ClientTimeout(total=scaled(10)))
    assert resp.status == 200 and (await resp.json())["contrast"] == 3


async def test_a_body_over_the_configured_limit_is_413(aiohttp_client, mxid, backend):
    client = await aiohttp_client(create_app(backend, max_body=100))
    body = {"contrast": 1, "pad": "x" * 200}
    await assert_error(await client.post(stream_url(mxid("oak-1"), "CAM_A", "control"), json=body), 413)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed here")
def test_serves_https_with_a_certificate(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    proc, base, lines = start("--simulate", "oak-1", "--tls-cert", str(cert), "--tls-key", str(key),
                              state_dir=tmp_path / "s")
    try:
        assert "https://" in lines[-1]
        https = base.replace("http://", "https://")
        context = ssl.create_default_context(cafile=str(cert))
        with urllib.request.urlopen(f"{https}/cameras/", context=context, timeout=10) as resp:
            assert len(json.loads(resp.read())) == 1
        with pytest.raises(OSError):                     # URLError, or the connection dropped
            urllib.request.urlopen(f"{base}/cameras/", timeout=5).read()     # plain HTTP is not served
    finally:
        stop(proc)


def test_flags_win_over_environment_variables_over_defaults(tmp_path):
    env = {"OAK_PORT": "9000", "OAK_SIMULATE": "oak-1,oak-d", "OAK_LOG_FORMAT": "json", "OAK_MAILBOX_SIZE": "",
           "OAK_STATE_DIR": str(tmp_path)}
    args = parse(["--port", "9100"], env)
    assert args.port == 9100                                  # the flag
    assert args.simulate == ["oak-1", "oak-d"] and args.log_format == "json"     # the environment
    assert args.mailbox_size == 128 and args.host == "127.0.0.1"                 # the defaults
    assert args.state_dir == tmp_path


@pytest.mark.parametrize("env, words", [
    ({"OAK_PORT": "eighty"}, "OAK_PORT='eighty'"), ({"OAK_PORT": "70000"}, "65535"),
    ({"OAK_SIMULATE": "oak-9"}, "oak-9"), ({"OAK_LOG_LEVEL": "loud"}, "OAK_LOG_LEVEL"),
    ({"OAK_TOKEN_FILE": "/no/such/file"}, "not a readable file"), ({"OAK_TLS_CERT": "/etc/hostname"}, "go together"),
    ({"OAK_CORS_ORIGINS": "fleet.example"}, "https://"), ({"OAK_DEVICE_TIMEOUT": "-1"}, "greater than 0"),
])
def test_a_bad_value_stops_the_start_with_a_message_and_exit_code_2(tmp_path, env, words):
    result = subprocess.run([COMMAND, "--state-dir", str(tmp_path)], env={**os.environ, **env},
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and words in result.stderr, result.stderr


def test_a_token_file_without_a_token_is_refused(tmp_path):
    (tmp_path / "tokens").write_text("# nothing yet\n\n")
    result = subprocess.run([COMMAND, "--state-dir", str(tmp_path), "--token-file", str(tmp_path / "tokens")],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "holds no token" in result.stderr


def test_json_logs_carry_the_request_id(tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text("t0k3n\n")
    proc, base, _ = start("--simulate", "oak-1", "--log-format", "json", "--token-file", str(tokens),
                          state_dir=tmp_path / "s")
    try:
        mxid = json.loads(urllib.request.urlopen(urllib.request.Request(
            f"{base}/cameras/", headers={"Authorization": "Bearer t0k3n"}), timeout=10).read())[0]["mxid"]
        request = urllib.request.Request(f"{base}/cameras/{mxid}/streams/CAM_A/", data=b"", method="POST",
                                         headers={"Authorization": "Bearer t0k3n", "X-Request-ID": "fleet-42"})
        with urllib.request.urlopen(request, timeout=10) as resp:
            assert resp.status == 204 and resp.headers["X-Request-ID"] == "fleet-42"
    finally:
        stop(proc)
    lines = [json.loads(line) for line in proc.stdout.read().splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message", "request_id"} <= set(line) for line in lines)
    about = [line for line in lines if "activated" in line["message"]]
    assert about and about[0]["request_id"] == "fleet-42"


async def test_odd_tokens_and_probes(guarded):
    for header in ("Bearer \xff", "Bearer \u00e9t\u00e9", "Bearer " + "x" * 5000):
        await assert_error(await guarded.get("/cameras/", headers={"Authorization": header.encode().decode("latin-1")}),
                           401, "unauthorized")
    for path in ("/healthz", "/healthz/", "/readyz", "/readyz/"):       # a load balancer probes without a token
        assert (await guarded.get(path)).status == 200, path


async def test_past_the_connection_cap_idle_connections_make_room_and_busy_ones_get_503(client, mxid):
    import asyncio
    from service.limits import cap_connections
    server = client.server.runner.server
    host, port = client.server.host, client.server.port
    await wait_until(lambda: not server.connections)
    cap_connections(server, 3)
    idle = [await asyncio.open_connection(host, port) for _ in range(3)]       # slow clients that send nothing
    await wait_until(lambda: len(server.connections) == 3)
    assert (await client.get("/healthz")).status == 200                        # the oldest idle one made room
    assert await asyncio.wait_for(idle[0][0].read(), scaled(5)) == b""                 # closed
    for _, writer in idle:
        writer.close()
    cam = mxid("oak-1")
    await activate(client, cam, "CAM_A")
    busy = [await client.get(stream_url(cam, "CAM_A", "video")) for _ in range(3)]      # requests in progress
    await wait_until(lambda: len(server.connections) == 3)
    reader, writer = await asyncio.open_connection(host, port)
    answer = await asyncio.wait_for(reader.read(), scaled(5))
    assert answer.startswith(b"HTTP/1.1 503") and b'"too_many_connections"' in answer
    for resp in busy:
        resp.close()


async def test_every_answer_names_its_request_id_streams_and_errors_too(client, mxid):
    """A client's X-Request-ID comes back (else a new one) on every answer: plain, error, and the streaming
    ones its handler prepares itself (MJPEG video, the video and results WebSockets, the events)."""
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_A")
    ids = iter(f"fleet-{n}" for n in range(100))

    async def check(response_of):
        sent = next(ids)
        resp = await response_of({"X-Request-ID": sent})
        assert resp.headers.get("X-Request-ID") == sent, (sent, dict(resp.headers))
        resp.close()
    await check(lambda h: client.get("/cameras/", headers=h))
    await check(lambda h: client.get(f"/cameras/{cam}/streams/CAM_Z/", headers=h))             # a 404
    await check(lambda h: client.post(stream_url(cam, "CAM_A", "control"), json={"contrast": 99}, headers=h))
    await check(lambda h: client.get(stream_url(cam, "CAM_A", "video"), params={"frames": "1"}, headers=h))
    await check(lambda h: client.get("/events", headers=h))
    async with client.ws_connect(stream_url(cam, "CAM_A", "video"), headers={"X-Request-ID": "fleet-ws"}) as ws:
        assert ws._response.headers.get("X-Request-ID") == "fleet-ws"
    fresh = (await client.get("/cameras/")).headers["X-Request-ID"]
    assert fresh and not fresh.startswith("fleet-")
