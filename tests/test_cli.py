"""The oak-camera-service command as an operator runs it."""
import json
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from timing import scaled

COMMAND = str(Path(sys.executable).parent / "oak-camera-service")


READY = re.compile(r"ready: serving on https?://[^ ]+:(\d+) ")


def start(*args, state_dir, env=None):
    """The service on a port the system picks (`--port 0`: no other test's service can take it first), once it
    says it is ready; the port from its ready line."""
    proc = subprocess.Popen([COMMAND, "--port", "0", "--state-dir", str(state_dir), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    deadline = time.monotonic() + scaled(30)
    lines = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if ready := READY.search(line):
            return proc, f"http://127.0.0.1:{ready[1]}", lines
        if not line and proc.poll() is not None:
            break
    proc.kill()
    pytest.fail("no ready line:\n" + "".join(lines))


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0


def get(url):
    with urllib.request.urlopen(url, timeout=scaled(10)) as resp:
        return json.loads(resp.read())


def post(url, body=None):
    return urllib.request.urlopen(urllib.request.Request(
        url, data=json.dumps(body).encode() if body is not None else b"", method="POST"), timeout=scaled(10))


def connected_camera(base) -> str:
    """The mxid of the service's one camera, once it is connected: the service is ready before its cameras,
    and a fault injected while a camera still starts hits its start, not the call a test means."""
    deadline = time.monotonic() + scaled(10)
    while (cameras := get(f"{base}/cameras/"))[0]["state"] != "connected":
        assert time.monotonic() < deadline, cameras
        time.sleep(0.05)
    return cameras[0]["mxid"]


@pytest.mark.parametrize("args, cameras", [(["--simulate", "oak-d,oak-1,oak-d"], 3), ([], 0)])
def test_starts_logs_ready_serves_and_exits_cleanly(args, cameras, tmp_path):
    proc, base, _ = start(*args, state_dir=tmp_path)
    try:
        assert len(get(f"{base}/cameras/")) == cameras
    finally:
        stop(proc)


def test_help_explains_every_option():
    out = subprocess.run([COMMAND, "--help"], capture_output=True, text=True, check=True).stdout
    for option in ("--host", "--port", "--simulate", "--state-dir", "--device-timeout", "--discovery-interval", "--mailbox-size",
                   "--log-level"):
        assert option in out


@pytest.mark.parametrize("args, words", [(["--simulate", "oak-d,oak-7"], "oak-7"), (["--port", "x"], "--port"),
                                         (["--device-timeout", "0"], "greater than 0"),
                                         (["--state-dir", "/proc/no/such"], "not a writable directory"),
                                         (["--mqtt-url", "http://broker"], "mqtt://"),
                                         (["--mqtt-url", "mqtt://:1883"], "no broker host"),
                                         (["--mqtt-url", "mqtt://broker/a/#"], "wildcard"),
                                         (["--mqtt-password-file", "/no/such"], "--mqtt-password-file")])
def test_a_bad_option_is_refused_with_a_message(args, words):
    result = subprocess.run([COMMAND, *args], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and words in result.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_finishes_requests_in_flight_and_exits_0(tmp_path, sig):
    """The signal comes while an activation is inside the camera (its call held there for 3 s): the activation
    is answered, and the service then exits 0."""
    import os
    import threading
    proc, base, _ = start("--simulate", "oak-1", "--device-timeout", str(scaled(10)), state_dir=tmp_path,
                          env={**os.environ, "OAK_SIM_HANG_LIMIT": "3"})
    mxid = connected_camera(base)
    urllib.request.urlopen(urllib.request.Request(f"{base}/cameras/{mxid}/streams/CAM_A/", method="DELETE"),
                           timeout=scaled(10))           # it streams from the start: activating it again is no work
    post(f"{base}/sim/cameras/{mxid}/faults", {"hang_next": True})
    result = {}
    slow = threading.Thread(target=lambda: result.update(status=post(f"{base}/cameras/{mxid}/streams/CAM_A/").status))
    slow.start()
    deadline = time.monotonic() + scaled(10)
    while get(f"{base}/sim/cameras/{mxid}/faults")["hang_next"]:      # taken: the call is in the camera
        assert time.monotonic() < deadline, "the activation never reached the camera"
        time.sleep(0.01)
    proc.send_signal(sig)
    slow.join(scaled(10))
    assert result.get("status") == 204                       # the request in flight was answered
    assert proc.wait(scaled(10)) == 0
    out = proc.stdout.read()
    assert "stopped" in out and "Traceback" not in out


def test_a_device_call_that_never_returns_does_not_hold_up_the_exit(tmp_path):
    """A camera whose device call hangs for good: the service still stops on SIGTERM, answers what it can, logs
    that it stopped and exits 0, without waiting for the call (systemd would otherwise wait out its stop
    timeout and kill it)."""
    import threading
    import os
    # The hung call outlasts the test: the service can only be found stopped if it does not wait for it.
    proc, base, _ = start("--simulate", "oak-1", "--device-timeout", "1", state_dir=tmp_path,
                          env={**os.environ, "OAK_SIM_HANG_LIMIT": "3600"})
    mxid = connected_camera(base)
    request = lambda url, body=None, method="POST": urllib.request.urlopen(urllib.request.Request(  # noqa: E731
        url, data=json.dumps(body).encode() if body is not None else b"", method=method), timeout=30)
    caught = {}

    def hung():
        try:
            request(f"{base}/cameras/{mxid}/streams/CAM_A", method="DELETE")
        except urllib.error.HTTPError as exc:
            caught["status"] = exc.code
    try:
        request(f"{base}/sim/cameras/{mxid}/faults", {"hang_next": True})
        waiting = threading.Thread(target=hung)
        waiting.start()
        waiting.join(scaled(10))
        assert caught.get("status") == 504                       # the device deadline answered it
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(scaled(15)) == 0
    finally:
        proc.kill()                                              # (gone already, unless the test failed)
    out = proc.stdout.read()
    assert "stopped" in out and "Traceback" not in out


def test_cameras_stream_from_the_start_unless_told_otherwise(tmp_path):
    import json
    import urllib.request
    from actors.simulated.models import mxid_for
    cam = mxid_for("oak-d", 0)
    for args, active in (((), ["CAM_A", "CAM_B", "CAM_C"]), (("--initial-streams", "none"), [])):
        state = tmp_path / "-".join(args or ("default",))
        proc, base, _ = start("--simulate", "oak-d", *args, state_dir=state)
        try:
            streams = json.loads(urllib.request.urlopen(f"{base}/cameras/{cam}/streams", timeout=10).read())
            assert [s["name"] for s in streams if s["active"]] == active
            if active:                      # a still without activating anything, as Studio takes it
                still = urllib.request.urlopen(f"{base}/cameras/{cam}/streams/CAM_A/still", timeout=10)
                assert still.status == 200 and still.headers["Content-Type"] == "image/jpeg"
        finally:
            stop(proc)
    # Saved state wins: a camera whose streams were switched off starts with them off.
    proc, base, _ = start("--simulate", "oak-d", state_dir=tmp_path / "saved")
    try:
        urllib.request.urlopen(urllib.request.Request(f"{base}/cameras/{cam}/streams/CAM_A", method="DELETE"))
    finally:
        stop(proc)
    proc, base, _ = start("--simulate", "oak-d", state_dir=tmp_path / "saved")
    try:
        streams = json.loads(urllib.request.urlopen(f"{base}/cameras/{cam}/streams", timeout=10).read())
        assert [s["name"] for s in streams if s["active"]] == ["CAM_B", "CAM_C"]
    finally:
        stop(proc)


def test_the_state_directory_is_created_private_whatever_the_umask(tmp_path):
    import os
    import stat
    state = tmp_path / "new" / "state"
    umask = os.umask(0o022)                # the usual one: it leaves a plain mkdir 0755
    try:
        proc, base, _ = start("--simulate", "oak-1", state_dir=state)
    finally:
        os.umask(umask)
    try:
        cam = get(f"{base}/cameras/")[0]["mxid"]
        urllib.request.urlopen(urllib.request.Request(f"{base}/cameras/{cam}/streams/CAM_A", method="DELETE"))
        assert stat.S_IMODE(state.stat().st_mode) == 0o700
        assert stat.S_IMODE((state / f"{cam}.json").stat().st_mode) == 0o600
    finally:
        stop(proc)


def test_help_and_the_readme_name_every_endpoint_open_without_a_token():
    out = " ".join(subprocess.run([COMMAND, "--help"], capture_output=True, text=True, check=True).stdout.split())
    assert "every endpoint but /healthz and /readyz needs one" in out
    readme = " ".join((Path(__file__).parent.parent / "README.md").read_text().split())
    assert "every request but `GET /healthz` and `GET /readyz`" in readme


def test_a_simulate_seed_gives_a_gateway_mxids_of_its_own(tmp_path):
    seen = {}
    for seed in ("", "gateway-1", "gateway-2", "gateway-1"):
        proc, base, _ = start("--simulate", "oak-d,oak-1", *(("--simulate-seed", seed) if seed else ()),
                              state_dir=tmp_path / (seed or "none"))
        try:
            mxids = [c["mxid"] for c in get(f"{base}/cameras/")]
        finally:
            stop(proc)
        assert len(set(mxids)) == 2 and all(m.isalnum() and m.isupper() for m in mxids)
        assert seen.setdefault(seed, mxids) == mxids             # the same seed: the same mxids on every start
    assert len({m for mxids in seen.values() for m in mxids}) == 6, seen     # each seed its own


def test_a_simulated_gateway_loads_depthai_only_to_read_a_calibration(tmp_path):
    """Simulated cameras need no depthai (68 MB and a second of start and stop), except for a calibration, which
    is depthai's own CalibrationHandler."""
    proc, base, _ = start("--simulate", "oak-d", state_dir=tmp_path)
    try:
        def depthai_loaded() -> bool:         # depthai's module, mapped into the service's memory
            return "/depthai.cpython-" in Path(f"/proc/{proc.pid}/maps").read_text()
        cam = get(f"{base}/cameras/")[0]["mxid"]
        assert post(f"{base}/cameras/{cam}/streams/CAM_A").status == 204
        assert get(f"{base}/cameras/{cam}/streams/CAM_A/control")["exposure_time"] > 0
        assert not depthai_loaded()
        assert get(f"{base}/cameras/{cam}/calibration")["streams"]
        assert depthai_loaded()
    finally:
        stop(proc)
