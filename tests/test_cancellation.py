"""A cancel is never lost. Python 3.11's asyncio.wait_for returns the awaited result when it is cancelled just as
that result arrives, and the cancel is gone: a fleet whose discovery lost its cancel went on looking for cameras
after its app had closed, and the loop's close then waited for it for ever (a worker of the suite hung)."""
import asyncio
import threading

import pytest

from actors.fleet import Fleet
from conftest import wait_until


async def test_a_discovery_cancelled_just_as_its_lookup_ends_is_cancelled(backend):
    release = threading.Event()
    look = backend.discover
    backend.discover = lambda: release.wait() and look()
    fleet = Fleet(backend)
    task = asyncio.create_task(fleet.discover())
    await wait_until(lambda: fleet._looking is not None)
    fleet._looking.add_done_callback(lambda _: task.cancel())     # after the lookup's own callbacks, before the task wakes
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    await fleet.stop()
