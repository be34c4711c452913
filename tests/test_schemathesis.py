"""Schemathesis against the service's own OpenAPI spec, every check and every phase: no 5xx, every response as
documented, generated requests and sequences of them included.

Documented exceptions, and why:
- positive_data_acceptance runs everywhere; on config, control, stills, previews, video and networks it also
  accepts a 422: a body valid for one of the three config shapes is rightly a 422 on a stream of another shape,
  as are focus on a fixed-focus sensor, depth_mm on a stream without depth, a preview of a stream without one, a
  video width above the stream's (what is valid depends on the camera, which a spec shared by every camera
  cannot say; the 422 says what the sensor can do) and a model file that is no network (a spec cannot say
  what a blob holds);
- positive_data_acceptance accepts a 412 and a 304 everywhere: an If-Match that names another revision than
  the camera's is rightly refused, and an If-None-Match naming the current one (or *) is rightly a 304 (what
  the revision is, a spec cannot say);
- negative_data_rejection is not run on config, control and fault bodies: numbers and booleans are read
  leniently, as the original API's clients need ("5000" for 5000), while the spec gives the real types;
- use_after_free is not run: DELETE of a stream deactivates it, and a deactivated stream rightly keeps its
  config and control;
- the live video is read with `frames` fixed at 2 and `fps` at 10, so that each response ends (at 1e-300 fps
  the second frame is due in an age);
- /events is not run: its answer is an endless stream (tests/test_events.py reads it);
- the /sim/ fault endpoints run on their own, on a service of their own: an unplugged or hung camera answers
  503 and 504 by design, which the checks would count as server errors on every other endpoint.
"""
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from actors.simulated.models import mxid_for
from test_cli import start, stop

pytestmark = pytest.mark.long
ST = str(Path(sys.executable).parent / "st")
CAM = mxid_for("oak-d-pro", 0)          # a model with IR, so that every camera operation applies


def schemathesis(base: str, cwd: Path, *options: str) -> subprocess.CompletedProcess:
    # Aim the generated requests at a real camera, so that they get past the 404; end the video responses.
    (cwd / "schemathesis.toml").write_text(f"""
checks.use_after_free.enabled = false
checks.positive_data_acceptance.expected-statuses = ["2xx", "304", "401", "403", "404", "409", "412"]

[parameters]
"path.mxid" = "{CAM}"
"query.frames" = 2
"query.fps" = 10

[[operations]]
include-path-regex = "/(config|control|still|preview|video|nn)$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "304", "404", "409", "412", "422"]

[[operations]]
include-path-regex = "/(config|control|faults)$"
include-method = "POST"
checks.negative_data_rejection.enabled = false
""")
    return subprocess.run(
        [ST, "run", f"{base}/api/docs/swagger.json", "--request-timeout", "10",
         "--max-examples", "30", "--phases", "examples,coverage,fuzzing,stateful", "--seed", "1", "--no-color",
         "--generation-database", "none", *options],
        cwd=cwd, capture_output=True, text=True, timeout=600)


def test_the_api_holds_to_its_spec_under_generated_requests(tmp_path):
    proc, base, _ = start("--simulate", "oak-d-pro,oak-d-lr", state_dir=tmp_path / "state")
    try:
        for stream in ("CAM_A", "DEPTH_B_C"):           # so that stills and video get past the 409 too
            urllib.request.urlopen(urllib.request.Request(f"{base}/cameras/{CAM}/streams/{stream}/", data=b"",
                                                          method="POST"), timeout=10)
        result = schemathesis(base, tmp_path, "--exclude-path-regex", "^/(sim/|events)")
        assert result.returncode == 0, result.stdout[-6000:]
        assert " passed" in result.stdout
    finally:
        stop(proc)


def test_the_fault_endpoints_hold_to_the_spec_under_generated_requests(tmp_path):
    proc, base, _ = start("--simulate", "oak-d-pro,oak-d-lr", state_dir=tmp_path / "state")
    try:
        result = schemathesis(base, tmp_path, "--include-path-regex", "^/sim/")
        assert result.returncode == 0, result.stdout[-6000:]
        assert " passed" in result.stdout
    finally:
        stop(proc)
