"""GET .../control throughput against a bare aiohttp handler, and POST .../control latency, at 32 connections.

Both servers run as their own single process; wrk runs with one thread, rounds alternate between the two.
"""
import json
import os
import sys
import tempfile

from common import BIN, free_port, http, median, server, service, wrk

ROUNDS = int(os.environ.get("API_ROUNDS", 5))
SECONDS = int(os.environ.get("API_SECONDS", 4))      # a wrk run
POST = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local i = 0
request = function()
  i = i + 1
  return wrk.format(nil, nil, nil, string.format('{"contrast": %d, "exposure_time": %d}', i % 21 - 10, 1 + i % 33000))
end
"""


def main():
    with service("oak-d") as base:
        mxid = http("GET", f"{base}/cameras/")[0]["mxid"]
        control = f"{base}/cameras/{mxid}/streams/CAM_A/control"
        http("POST", f"{base}/cameras/{mxid}/streams/CAM_A/")
        with tempfile.NamedTemporaryFile("w", suffix=".json") as body:
            json.dump(http("GET", control), body)
            body.flush()
            port = free_port()
            with server([str(BIN / "python"), "bench/bare.py", str(port), body.name],
                        f"http://127.0.0.1:{port}/control"):
                bare = f"http://127.0.0.1:{port}/control"
                ours, theirs, ratios = [], [], []
                for _ in range(ROUNDS):
                    o, t = wrk(control, seconds=SECONDS)["rps"], wrk(bare, seconds=SECONDS)["rps"]
                    ours.append(o), theirs.append(t), ratios.append(o / t)
        posts = [wrk(control, script=POST, seconds=SECONDS + 1) for _ in range(ROUNDS)]
    print(f"GET control, 32 connections, {ROUNDS} alternating rounds of {SECONDS} s")
    print(f"  service: median {median(ours):8.0f} req/s   bare aiohttp: median {median(theirs):8.0f} req/s")
    print(f"  ratio service/bare: median {median(ratios):.2f} (target >= 0.60); rounds "
          + " ".join(f"{r:.2f}" for r in ratios))
    print(f"POST control, 32 connections, one camera, {ROUNDS} runs of {SECONDS + 1} s")
    print(f"  p99 latency: median {median(p['p99'] for p in posts):.2f} ms (target < 10); runs "
          + " ".join(f"{p['p99']:.2f}" for p in posts))
    print(f"  p50 latency: median {median(p['p50'] for p in posts):.2f} ms; throughput "
          f"{median(p['rps'] for p in posts):.0f} req/s; non-2xx: {sum(p['errors'] for p in posts)}")
    if sum(p["errors"] for p in posts):
        sys.exit(1)


if __name__ == "__main__":
    main()
