"""The actors of all cameras the backend finds."""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from .actor import WEDGED, CameraActor
from .backend import Backend
from .model import CameraState, initial_state, streams_of
from .store import StateStore

log = logging.getLogger(__name__)


class Fleet:
    """Discovers cameras at start and then every `interval` seconds: a new camera gets an actor, a lost one
    that is seen again is reconnected at once, and a connected one whose device went away is marked lost."""

    def __init__(self, backend: Backend, *, store: StateStore | None = None, interval: float = 2.0,
                 discovery_timeout: float = 30.0, initial_streams: str = "none", **actor_options):
        self.backend = backend
        self.store = store
        self.discovery_timeout = discovery_timeout
        self.initial_streams = initial_streams      # for a camera with no saved state
        self._looking: asyncio.Future | None = None
        self._discovering = asyncio.Lock()
        self.interval = interval
        self.actor_options = actor_options
        self.actors: dict[str, CameraActor] = {}
        # Told of every camera found (actor, None, None) and of every change of one (CameraActor.on_change).
        self.on_change: Callable[[CameraActor, CameraState | None, str | None], None] | None = None
        self._task: asyncio.Task | None = None
        self._stopped = False

    async def start(self) -> None:
        await self.discover()
        self._task = asyncio.create_task(self._watch(), name="discovery")

    async def stop(self) -> None:
        self._stopped = True          # a discovery still running (a refresh's) opens nothing from now on
        if self._task is not None:
            self._task.cancel()
        await asyncio.gather(*(actor.stop() for actor in self.actors.values()))

    async def discover(self) -> None:
        """Single flight: whoever calls (the discovery loop, a replug, a refresh), one actor per mxid."""
        async with self._discovering:
            await self._discover()

    async def _discover(self) -> None:
        # depthai's search or a device's boot can hang: the loop goes on, and a search still running is not
        # started again.
        if self._looking is None or self._looking.done():
            self._looking = asyncio.ensure_future(asyncio.to_thread(self.backend.discover))
        try:
            # Not asyncio.wait_for: in Python 3.11 it returns the result when it is cancelled just as the result
            # comes, and the cancel is lost (a stopped fleet went on looking; tests/test_cancellation.py).
            async with asyncio.timeout(self.discovery_timeout):
                found = await asyncio.shield(self._looking)
        except TimeoutError:
            log.warning("looking for cameras took over %g s; trying again later", self.discovery_timeout)
            return
        for device in found:
            actor = self.actors.get(device.info.mxid)
            if actor is None:
                specs = streams_of(device.info)
                if self.store is not None:
                    state = await asyncio.to_thread(self.store.load, device.info.mxid, specs, self.initial_streams,
                                                    device.info.ir)
                else:
                    state = initial_state(specs, self.initial_streams, device.info.ir)
                if self._stopped:
                    return
                actor = CameraActor(device, state=state, store=self.store, **self.actor_options)
                actor.on_change = self.on_change
                self.actors[actor.mxid] = actor
                if self.on_change is not None:
                    self.on_change(actor, None, None)
                await actor.start()
                log.info("camera %s (%s) found", actor.mxid, actor.info.name)
            else:
                actor.wake()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            for actor in self.actors.values():
                actor.ask_health_check()
            try:
                await self.discover()
            except Exception:  # noqa: BLE001 (discovery tries again next round)
                log.exception("discovery failed")

    def wedged_too_long(self, limit: float) -> str | None:
        """Which camera has been wedged (a device call that never returned) for more than `limit` seconds."""
        now = time.time()
        for actor in self.actors.values():
            if actor.status == WEDGED and now - actor.status_since > limit:
                return f"camera {actor.mxid} wedged for {now - actor.status_since:.0f} s"
        return None

    def get(self, mxid: str) -> CameraActor | None:
        return self.actors.get(mxid)
