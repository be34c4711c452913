"""The oak-camera-service command as an operator runs it."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

COMMAND = str(Path(sys.executable).parent / "oak-camera-service")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(*args):
    port = free_port()
    proc = subprocess.Popen([COMMAND, "--port", str(port), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    deadline = time.monotonic() + 30
    lines = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if "ready: serving on" in line:
            return proc, f"http://127.0.0.1:{port}", lines
        if not line and proc.poll() is not None:
            break
    proc.kill()
    pytest.fail("no ready line:\n" + "".join(lines))


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0


def get(url):
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


@pytest.mark.parametrize("args, cameras", [(["--simulate", "oak-d,oak-1,oak-d"], 3), ([], 0)])
def test_starts_logs_ready_serves_and_exits_cleanly(args, cameras):
    proc, base, _ = start(*args)
    try:
        assert len(get(f"{base}/cameras/")) == cameras
    finally:
        stop(proc)


def test_help_explains_every_option():
    out = subprocess.run([COMMAND, "--help"], capture_output=True, text=True, check=True).stdout
    for option in ("--host", "--port", "--simulate", "--device-timeout", "--discovery-interval", "--mailbox-size",
                   "--log-level"):
        assert option in out


@pytest.mark.parametrize("args, words", [(["--simulate", "oak-d,oak-7"], "oak-7"), (["--port", "x"], "--port"),
                                         (["--device-timeout", "0"], "greater than 0")])
def test_a_bad_option_is_refused_with_a_message(args, words):
    result = subprocess.run([COMMAND, *args], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and words in result.stderr
