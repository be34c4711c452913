"""The actors of all cameras the backend finds."""
from __future__ import annotations

import asyncio
import logging

from .actor import CameraActor
from .backend import Backend

log = logging.getLogger(__name__)


class Fleet:
    def __init__(self, backend: Backend, **actor_options):
        self.backend = backend
        self.actor_options = actor_options
        self.actors: dict[str, CameraActor] = {}

    async def start(self) -> None:
        for device in await asyncio.to_thread(self.backend.discover):
            actor = CameraActor(device, **self.actor_options)
            self.actors[actor.mxid] = actor
            await actor.start()
            log.info("camera %s (%s) found", actor.mxid, actor.info.name)

    async def stop(self) -> None:
        await asyncio.gather(*(actor.stop() for actor in self.actors.values()))

    def get(self, mxid: str) -> CameraActor | None:
        return self.actors.get(mxid)
