"""Every benchmark keeps running: each is run once here at a tiny scale (its figures come from `make bench`),
so one that breaks fails the suite instead of rotting unnoticed."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.mark.long
@pytest.mark.parametrize("script, env, ends_with", [
    ("abuse.py", {"ABUSE_SCALE": "0.02"}, "alive at the end: True"),
    ("activation.py", {"ACTIVATION_SCALE": "0.05"}, "left connected: never"),
    ("events.py", {"EVENTS_SCALE": "0.02"}, "retained camera state right afterwards: True"),
    ("api.py", {"API_ROUNDS": "1", "API_SECONDS": "1"}, "non-2xx: 0"),
    ("middleware.py", {"MIDDLEWARE_ROUNDS": "1", "MIDDLEWARE_SECONDS": "1"}, "(target < 10%)"),
    ("still.py", {"STILL_ROUNDS": "8"}, "(target <= 1.5)"),
    ("video.py", {"VIDEO_SECONDS": "1.5", "VIDEO_CLIENTS": "2", "WS_CLIENTS": "2"}, "bytes per client: MJPEG / H.264"),
    ("soak.py", {"SOAK_SECONDS": "6", "SOAK_CLIENTS": "10"}, "MB at the end"),
    ("nn.py", {"NN_SECONDS": "1.5", "NN_CLIENTS": "2"}, "clients / 1 client:"),
])
def test_the_benchmark_runs(script, env, ends_with):
    run = subprocess.run([sys.executable, script], cwd=BENCH, env={**os.environ, **env}, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert ends_with in run.stdout, run.stdout


WRK_SLOW = """Running 3s test @ http://127.0.0.1:8765/
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.20s   145.62us   1.20s    75.00%
    Req/Sec     1.00      0.00     1.00    100.00%
  Latency Distribution
""" + "".join(f"    {p:3d}%    1.20s \n" for p in (50, 75, 90, 99)) + """\
  4 requests in 3.01s, 612.00B read
Requests/sec:      1.33
Transfer/sec:     203.53B
"""             # the space after "1.20s" is wrk's own padding, written where no editor strips it


def test_a_latency_of_seconds_is_read_from_wrk():
    """wrk pads a figure in seconds with a space ("1.20s "), as it prints them: a run with a second-long
    request is a figure, not a benchmark that stops."""
    spec = importlib.util.spec_from_file_location("bench_common", BENCH / "common.py")
    common = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(common)
    assert common.wrk_figures(WRK_SLOW) == {"rps": 1.33, "p50": 1200.0, "p99": 1200.0, "errors": 0}
