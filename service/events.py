"""The gateway's events: one ordered, bounded history of every change a client can see (a camera found, its
connection state, streams, config, control, IR, networks, the gateway starting and stopping), fed where the
changes are published (CameraActor.on_change), read by GET /events (service/sse.py) and the MQTT publisher.

Each event has an id `<boot id>:<sequence>`: the sequence orders every event of this run of the service, the
boot id tells runs apart. A reader resumes after an id from the history; one whose id the history no longer
covers, or that is of another run, gets a `reset` first and lists again. Every reader has a bounded queue:
one that falls behind is reset (its queue cleared), never waited for.
"""
from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

from aiohttp import web

from actors.actor import CameraActor
from actors.fleet import Fleet
from actors.model import CameraState
from schemas.camera import CameraSchema
from schemas.nn import view as network_view

from .cameras import camera_view

HISTORY = 4096           # events kept for readers that resume
QUEUE = 1024             # events one reader may fall behind by before it is reset
SEP = "\r\n"              # the end of a Server-Sent Event's line
WAKE = 0.05              # s: readers are woken at most this often under a stream of events (at once after a pause),
                         # each to take all that came since: a batch a wakeup, not a wakeup an event a reader
_camera = CameraSchema()


@dataclass(frozen=True)
class Event:
    boot_id: str
    seq: int
    type: str
    mxid: str | None          # None for the gateway's own events
    revision: int | None      # the camera's state revision after the change
    time: float
    data: dict                # the event's own, which nothing changes after (its JSON is made later)

    @cached_property
    def text(self) -> str:
        """The JSON, made once however many read it, and only once one does (a write nobody is listening for
        costs no JSON)."""
        return json.dumps({
            "id": self.id, "seq": self.seq, "boot_id": self.boot_id, "type": self.type, "mxid": self.mxid,
            "revision": self.revision, "time": datetime.fromtimestamp(self.time, UTC).isoformat(),
            "data": self.data})

    @property
    def id(self) -> str:
        return f"{self.boot_id}:{self.seq}"

    @cached_property
    def frame(self) -> bytes:
        """The event as one Server-Sent Event (its JSON has no line breaks), made once however many read it."""
        return f"id: {self.id}{SEP}event: {self.type}{SEP}data: {self.text}{SEP}{SEP}".encode()


class Subscription:
    """One reader's view: the events of its cameras and types (None: all; the gateway's own events always),
    queued up to QUEUE; past that the queue is cleared and holds a `reset` instead. A reader takes everything
    queued at once: however many events came since it last looked, it is woken once (see WAKE)."""

    def __init__(self, events: Events, size: int, mxids: frozenset[str] | None, types: frozenset[str] | None):
        self._events, self._size, self._mxids, self._types = events, size, mxids, types
        self._queue: deque[Event] = deque()
        self._waiter: asyncio.Future | None = None      # the reader waiting for the next event, if one is
        self.closed = False
        self.on_drop: Callable[[int], None] | None = None        # told how many events a reset stood in for

    def offer(self, event: Event) -> None:
        # Checked inline, without a call: every event is offered to every reader.
        if event.type != "reset" and ((self._types is not None and event.type not in self._types) or (
                self._mxids is not None and event.mxid is not None and event.mxid not in self._mxids)):
            return
        if len(self._queue) >= self._size:
            if self.on_drop is not None:
                self.on_drop(len(self._queue) + 1)
            self._queue.clear()
            self._events.resets += 1
            event = self._events.reset(f"this reader fell more than {self._size} events behind", event.seq)
        self._queue.append(event)

    def wake(self) -> None:
        """Hand the reader what is queued, if it waits."""
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def take(self, timeout: float) -> list[Event]:
        """Every event queued, in order, once there is one; empty after `timeout` or once closed with nothing
        left."""
        if not self._queue and not self.closed:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(timeout):
                    await self._waiter
            except TimeoutError:
                pass
            finally:
                self._waiter = None
        taken = list(self._queue)
        self._queue.clear()
        return taken

    @property
    def pending(self) -> bool:
        return bool(self._queue)

    def close(self) -> None:
        self.closed = True
        self._events.subscribers.discard(self)
        self.wake()


class Events:
    def __init__(self, boot_id: str, history: int = HISTORY, queue: int = QUEUE):
        self.boot_id, self.queue = boot_id, queue
        self._history: deque[Event] = deque(maxlen=history)
        self._seq = 0
        self.subscribers: set[Subscription] = set()
        self.resets = 0                   # readers that fell behind
        self._waking: asyncio.Handle | None = None      # the readers' next wakeup, once one is due
        self._woken = -WAKE                # loop time of the last one

    @property
    def last_seq(self) -> int:
        return self._seq

    def publish(self, type: str, data: dict, mxid: str | None = None, revision: int | None = None) -> Event:
        self._seq += 1
        event = Event(self.boot_id, self._seq, type, mxid, revision, time.time(), data)
        self._history.append(event)
        for subscriber in list(self.subscribers):
            subscriber.offer(event)
        if self._waking is None:
            loop = asyncio.get_running_loop()
            self._waking = loop.call_at(max(loop.time(), self._woken + WAKE), self._wake)
        return event

    def _wake(self) -> None:
        self._waking, self._woken = None, asyncio.get_running_loop().time()
        for subscriber in list(self.subscribers):
            subscriber.wake()

    def reset(self, reason: str, seq: int | None = None) -> Event:
        """Not part of the history: its id is the latest event's, so a reader that lists again after it and
        resumes from it misses nothing."""
        return Event(self.boot_id, self._seq if seq is None else seq, "reset", None, None, time.time(),
                     {"reason": reason})

    def subscribe(self, after: tuple[str, int] | None, mxids: Iterable[str] | None = None,
                  types: Iterable[str] | None = None) -> Subscription:
        """A reader of the events after `after` (a parsed id; None: from now on) of these cameras and types
        (None: all)."""
        # What it is offered here, it takes at once.
        subscription = Subscription(self, self.queue, None if mxids is None else frozenset(mxids),
                                    None if types is None else frozenset(types))
        if after is not None:
            boot_id, seq = after
            oldest = self._history[0].seq if self._history else self._seq + 1
            if boot_id != self.boot_id:
                subscription.offer(self.reset("the service restarted since that event"))
            elif seq > self._seq:
                subscription.offer(self.reset("no such event in this run of the service"))
            elif seq < oldest - 1:
                subscription.offer(self.reset("that event is older than the history kept"))
            else:
                for event in self._history:
                    if event.seq > seq:
                        subscription.offer(event)
        self.subscribers.add(subscription)
        return subscription

    def close(self) -> None:
        if self._waking is not None:
            self._waking.cancel()
        for subscriber in list(self.subscribers):
            subscriber.close()

    # What each change publishes -------------------------------------------------------------------------
    def camera_changed(self, actor: CameraActor, before: CameraState | None, status_before: str | None) -> None:
        state, mxid, revision = actor.state, actor.mxid, actor.state.revision

        def publish(type: str, data: dict) -> None:
            self.publish(type, data, mxid, revision)
        if before is None:
            publish("camera_added", camera_body(actor))
            return
        if status_before != actor.status:
            publish("camera_state", {"state": actor.status, "last_error": actor.last_error,
                                     "state_since": _iso(actor.status_since), "reconnects": actor.reconnects})
        if before is state:
            return
        for name, stream in state.streams.items():
            old = before.streams[name]
            if old.active != stream.active:
                publish("stream_activated" if stream.active else "stream_deactivated", {"stream": name})
            if old.config != stream.config:
                publish("config", {"stream": name, "config": dict(stream.config)})
            if old.control != stream.control:
                publish("control", {"stream": name, "control": dict(stream.control)})
            if old.nn != stream.nn:
                publish("nn_deployed" if stream.nn is not None else "nn_removed",
                        {"stream": name, "nn": network_view(stream.nn)} if stream.nn is not None else {"stream": name})
        if before.ir != state.ir:
            publish("ir", {"ir": dict(state.ir)})


def camera_body(actor: CameraActor) -> dict:
    """The camera as GET /cameras/{mxid}/ answers it."""
    return _camera.dump(camera_view(actor))


def _iso(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).isoformat()


EVENTS = web.AppKey("events", Events)


def setup(app: web.Application, fleet: Fleet, boot_id: str, gateway_body: Callable[[], dict]) -> Events:
    """The app's events, fed by the fleet; the gateway's start (before any camera is found) and stop."""
    events = app[EVENTS] = Events(boot_id, HISTORY, QUEUE)
    fleet.on_change = events.camera_changed

    async def started(_app):
        events.publish("gateway_started", gateway_body())

    async def stopping(_app):
        events.publish("gateway_stopped", {})
        events.close()
    app.on_startup.append(started)         # after the files (the gateway's id), before the cameras
    app.on_shutdown.append(stopping)
    return events
