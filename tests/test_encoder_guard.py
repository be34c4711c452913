"""The encoders never read past a plane: odd colour sizes are refused at the API and by the encoders, checked
in a subprocess whose Y plane ends right before a page that faults when read."""
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import assert_error, stream_url

ROOT = Path(__file__).resolve().parent.parent

GUARDED = """
import ctypes, mmap, sys
import numpy as np
from actors.encode import encode
from actors.frames import Frame, YUV420
from actors.video import VideoParams, encode_video
w, h, what = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
page, size = mmap.PAGESIZE, w * h
pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE + 1
buf = mmap.mmap(-1, pages * page)
base = ctypes.addressof(ctypes.c_char.from_buffer(buf))
assert ctypes.CDLL(None).mprotect(ctypes.c_void_p(base + (pages - 1) * page), page, 0) == 0   # the guard page
y = np.frombuffer(buf, np.uint8, count=size, offset=(pages - 1) * page - size).reshape(h, w)
y.flags.writeable = False
u = np.full(((h + 1) // 2, (w + 1) // 2), 128, np.uint8)
frame = Frame(YUV420, (y, u, u.copy()), 0.0, 0)
try:
    if what == "still":
        encode(frame, "jpeg")
    else:
        encode_video(frame, VideoParams(quality=50))
    print("encoded")
except ValueError as exc:
    print("refused:", exc)
"""


@pytest.mark.parametrize("what", ["still", "video"])
@pytest.mark.parametrize("size, answer", [((1279, 720), "refused"), ((1280, 719), "refused"),
                                          ((1279, 719), "refused"), ((1280, 720), "encoded")])
def test_the_encoders_refuse_odd_colour_planes_instead_of_reading_past_them(size, answer, what):
    run = subprocess.run([sys.executable, "-c", GUARDED, str(size[0]), str(size[1]), what], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, f"exit {run.returncode}: {run.stderr[-500:]}"
    assert run.stdout.strip().splitlines()[-1].startswith(answer), run.stdout     # after depthai's own log lines


@pytest.mark.parametrize("field", ["video_size", "still_size", "preview_size"])
async def test_an_odd_colour_size_is_422_and_changes_nothing(client, mxid, field):
    cam = mxid("oak-d")
    before = await (await client.get(stream_url(cam, "CAM_A", "config"))).json()
    for size in ([1279, 719], [1280, 719], [1279, 720]):
        error = await assert_error(await client.post(stream_url(cam, "CAM_A", "config"), json={field: size}), 422,
                                   "not_supported")
        assert "even" in " ".join(error["fields"][field])
    assert await (await client.get(stream_url(cam, "CAM_A", "config"))).json() == before
