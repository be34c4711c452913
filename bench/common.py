"""Shared pieces of the benchmarks: servers in subprocesses, wrk runs, medians."""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        raw = resp.read()
        return json.loads(raw) if raw and resp.headers.get_content_type() == "application/json" else raw


@contextmanager
def server(args: list[str], ready_url: str):
    """A server process, up once `ready_url` answers; stopped with SIGTERM afterwards."""
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(ready_url, timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"server exited: {log.read().decode()}")
                time.sleep(0.05)
        yield proc
    finally:
        proc.terminate()
        proc.wait(10)


class Base(str):
    """The service's base URL, knowing the service's process id."""
    pid: int


READY = re.compile(rb"ready: serving on https?://[^ ]+:(\d+) ")


@contextmanager
def service(models: str = "oak-d", *extra: str):
    """The service on simulated cameras, with a fresh state directory, on a port the system picks (no other
    service started meanwhile can take it first): the port from its ready line."""
    with tempfile.TemporaryDirectory() as state, tempfile.TemporaryFile() as log:
        proc = subprocess.Popen([str(BIN / "oak-camera-service"), "--simulate", models, "--port", "0",
                                 "--log-level", "info", "--state-dir", state, *extra],
                                stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            deadline = time.monotonic() + 60
            # pread: the service writes through the same file offset, which a seek here would move.
            while not (ready := READY.search(os.pread(log.fileno(), 1 << 20, 0))):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the service did not start: {os.pread(log.fileno(), 1 << 20, 0).decode()}")
                time.sleep(0.05)
            base = Base(f"http://127.0.0.1:{int(ready[1])}")
            base.pid = proc.pid
            yield base
        finally:
            proc.terminate()
            proc.wait(10)


def proc_stat(pid: int) -> tuple[float, int]:
    """CPU seconds a process used so far, and its RSS in kB."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), rss


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        sys.exit(f"{tool} is not installed (Debian: apt-get install {tool})")
    return path


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk(url: str, *, connections: int = 32, seconds: int = 4, script: str | None = None,
        headers: tuple[str, ...] = ()) -> dict:
    """One wrk run with one thread (the other core stays for the server): requests/s, p50/p99 ms, errors."""
    args = [need("wrk"), "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    for header in headers:
        args[1:1] = ["-H", header]
    if script is not None:
        fd, path = tempfile.mkstemp(suffix=".lua")
        os.write(fd, script.encode())
        os.close(fd)
        args[1:1] = ["-s", path]
    return wrk_figures(subprocess.run(args, capture_output=True, text=True, check=True).stdout)


def wrk_figures(out: str) -> dict:
    """Requests/s, p50/p99 ms and errors from wrk's output (it pads a figure in seconds: "1.20s ")."""
    latency = {p: float(v) * _UNITS[u] for p, v, u in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s) ?$", out, re.M)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50": latency["50"],
            "p99": latency["99"], "errors": int(errors.group(1)) if errors else 0}


def median(values) -> float:
    return statistics.median(values)
