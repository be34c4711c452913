"""Still latency of a 1920x1080 colour stream against encoding the same frame with simplejpeg alone.

Rounds alternate: one still over HTTP (a kept-alive connection), then one encode of the same simulated frame
in this process, so both see the same machine load. A still is the first frame taken after the request, as on
a camera: the stream runs at 60 fps, so a still waits 8 ms for its frame on average (0 to 16.7 ms). What the
service adds is the time from the frame's capture (its X-Frame-Timestamp, on the same monotonic clock as this
process's) to the answer: that is compared with the encode alone.
"""
import http.client
import os
import time
from urllib.parse import urlparse

import simplejpeg

from actors.model import default_config, default_control, streams_of
from actors.simulated.device import SimStream
from actors.simulated.models import camera_info
from common import http as call, median, service

ROUNDS = int(os.environ.get("STILL_ROUNDS", 200))


def main():
    info = camera_info("oak-d", 0)
    spec = streams_of(info)["CAM_A"]
    frame = SimStream(spec, default_config(spec), default_control(spec), {}, time.monotonic()).frame()
    assert (frame.width, frame.height) == (1920, 1080)
    with service("oak-d") as base:
        mxid = call("GET", f"{base}/cameras/")[0]["mxid"]
        call("POST", f"{base}/cameras/{mxid}/streams/CAM_A/config", {"fps": 60})
        call("POST", f"{base}/cameras/{mxid}/streams/CAM_A/")
        url = urlparse(f"{base}/cameras/{mxid}/streams/CAM_A/still")
        conn = http.client.HTTPConnection(url.hostname, url.port)
        stills, waits, served, encodes = [], [], [], []
        for i in range(ROUNDS):
            started = time.monotonic()
            conn.request("GET", url.path)
            resp = conn.getresponse()
            body = resp.read()
            answered = time.monotonic()
            taken = float(resp.getheader("X-Frame-Timestamp"))
            assert resp.status == 200 and simplejpeg.decode_jpeg_header(body)[:2] == (1080, 1920)
            # The same planes every round, as the simulated camera serves the same cached planes every time: both
            # sides read memory that is equally warm (copying a fresh frame here would flush the server's).
            encode = time.perf_counter()
            simplejpeg.encode_jpeg_yuv_planes(*frame.planes, quality=85)
            if i >= 5:                       # the first rounds warm caches on both sides
                stills.append(answered - started), waits.append(taken - started), served.append(answered - taken)
                encodes.append(time.perf_counter() - encode)
    s, w, a, e = (median(x) * 1e3 for x in (stills, waits, served, encodes))
    ratios = [a / b for a, b in zip(served, encodes)]
    print(f"still of a 1920x1080 colour stream at 60 fps, {len(stills)} alternating rounds")
    print(f"  GET still: median {s:.2f} ms, of which waiting for the next frame: median {w:.2f} ms")
    print(f"  from the frame's capture to the answer: median {a:.2f} ms   simplejpeg encode alone: median {e:.2f} ms")
    print(f"  ratio of medians {a / e:.2f}, median of per-round ratios {median(ratios):.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
