"""Deadlines in the tests. A wait polls for the state it needs and gives up at a deadline: the time the work takes
on a quiet machine times SLACK, so a loaded 2-core machine (a second suite beside this one, Chromium, ffmpeg)
still passes and a broken service still fails, only later. TEST_SLACK=1 gives the bare figures."""
import os

SLACK = float(os.environ.get("TEST_SLACK", "4"))


def scaled(seconds: float) -> float:
    return seconds * SLACK
