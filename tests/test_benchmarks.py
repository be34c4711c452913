"""Every benchmark keeps running: each is run once here at a tiny scale (its figures come from `make bench`),
so one that breaks fails the suite instead of rotting unnoticed."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.long
BENCH = Path(__file__).resolve().parent.parent / "bench"


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
