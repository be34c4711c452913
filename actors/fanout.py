"""The one fan-out of the gateway, for everything it serves to many clients from one source (live video to its
viewers, a network's results to its watchers): the source's thread hands each item to the event loop once,
however many consume it, and every consumer holds only the newest item it has not taken, so a slow one skips
items and none waits for another."""
from __future__ import annotations

import asyncio
import enum
from typing import Generic, TypeVar

T = TypeVar("T")


class Waiting(enum.Enum):
    WAITING = "nothing new yet: time for the consumer to see whether its client is still there"


WAITING = Waiting.WAITING


class Latest(Generic[T]):
    """One consumer's place: the newest item not yet taken, or the end (with its reason)."""

    def __init__(self, reason: str | None = None):
        self._latest: T | None = None
        self._ready = asyncio.Event()
        self._ended = False
        self.reason = reason            # why it ended, once it has

    def offer(self, item: T) -> None:
        self._latest = item
        self._ready.set()

    def end(self, reason: str | None = None) -> None:
        self._ended = True
        if reason is not None:
            self.reason = reason
        self._ready.set()

    async def next(self, timeout: float | None = None) -> T | Waiting | None:
        """The newest item not yet taken, None once ended, or WAITING after `timeout`."""
        try:
            async with asyncio.timeout(timeout):       # not wait_for, which can lose a cancel (Fleet._discover)
                await self._ready.wait()
        except TimeoutError:
            return WAITING
        self._ready.clear()
        return None if self._ended else self._latest


class FanOut(Generic[T]):
    """The consumers of one source. `publish` may be called from any thread: one hand-off to the loop an item,
    where every consumer is offered it."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.consumers: set[Latest[T]] = set()
        self._loop = loop

    def publish(self, item: T) -> bool:
        """False once the loop is gone (the service stopped)."""
        try:
            self._loop.call_soon_threadsafe(self._offer, item)
            return True
        except RuntimeError:
            return False

    def _offer(self, item: T) -> None:
        for consumer in list(self.consumers):
            consumer.offer(item)
