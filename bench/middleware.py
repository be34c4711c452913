"""What access control and metrics cost: GET .../control throughput with a token required and /metrics on,
against both off, two services side by side, alternating rounds of wrk at 32 connections."""
import os
import tempfile

from common import http, median, service, wrk

ROUNDS = int(os.environ.get("MIDDLEWARE_ROUNDS", 10))
SECONDS = int(os.environ.get("MIDDLEWARE_SECONDS", 4))      # a wrk run


def main():
    with tempfile.NamedTemporaryFile("w", suffix=".tokens") as tokens:
        tokens.write("bench-token\n")
        tokens.flush()
        with service("oak-d", "--metrics", "off") as plain, \
                service("oak-d", "--metrics", "on", "--token-file", tokens.name) as guarded:
            auth = "Authorization: Bearer bench-token"
            mxid = http("GET", f"{plain}/cameras/")[0]["mxid"]
            path = f"/cameras/{mxid}/streams/CAM_A/control"
            off, on, ratios = [], [], []
            for i in range(ROUNDS):
                # Alternate which goes first, so that neither always runs on a warmer machine.
                runs = [lambda: wrk(plain + path, seconds=SECONDS),
                        lambda: wrk(guarded + path, headers=(auth,), seconds=SECONDS)]
                a, b = [run() for run in (runs if i % 2 == 0 else runs[::-1])][:: 1 if i % 2 == 0 else -1]
                assert b["errors"] == 0, "the guarded service refused the token"
                off.append(a["rps"]), on.append(b["rps"]), ratios.append(b["rps"] / a["rps"])
    print(f"GET control, 32 connections, {ROUNDS} alternating rounds of {SECONDS} s")
    print(f"  token + metrics off: median {median(off):8.0f} req/s   on: median {median(on):8.0f} req/s")
    print(f"  cost: median {100 * (1 - median(ratios)):.1f}% (target < 10%); rounds "
          + " ".join(f"{100 * (1 - r):.1f}%" for r in ratios))


if __name__ == "__main__":
    main()
