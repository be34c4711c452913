"""One actor per camera: a bounded mailbox, one message at a time, blocking device calls on its own thread."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from functools import partial

from .backend import Device, FrameSource
from .calibration import describe
from .capabilities import CapabilityError
from .encode import encode_off_loop
from .errors import (CameraBusy, CameraShutDown, CameraUnavailable, ConfigRejected, DeviceError, DeviceTimeout,
                     RevisionMismatch, StateNotSaved, StreamInactive)
from .frames import Frame, FrameMeta
from .messages import BATCHABLE, Activate, Boot, Capture, ReadCalibration, ReadStats, ShutDown, UpdateControl
from .model import CameraState, initial_state, streams_of
from .store import StateStore
from .worker import DeviceThread

log = logging.getLogger(__name__)

BOOTING, CONNECTED, DISCONNECTED, SHUT_DOWN, WEDGED = "booting", "connected", "disconnected", "shut_down", "wedged"
STATS_PERIOD = 10.0          # s: how often the health job also reads the device's stats (for /metrics)
STILL_GRACE = 5.0            # s a stopping camera gives the stills being encoded to finish
STILLS_IN_HAND = 2           # a camera's frames taken for stills and waiting to be encoded (a 12 MP frame is 18 MB)


class _Reopen:
    """The actor's own job: (re)open the device and make it run the desired state."""


class _CheckHealth:
    """The actor's own job: ask the device whether it is still there."""


class _Close:
    """The actor's own job: close the device of a camera that starts shut down."""


class _Want:
    """The actor's own job: tell the device what of its streams host consumers need now (Device.want)."""


class _Stale(Exception):
    """A device call that waited while the camera was lost: it must not reach the device reopened since."""


class CameraActor:
    """Owns one camera's desired state and its device.

    `state` is the latest published snapshot: handlers read it directly, and it is never older than the last
    acknowledged write. Writes go through the mailbox and apply strictly in arrival order; consecutive
    config/control writes are applied to the device together, each still answered with its own result.

    The actor is the one driver of its device: opening, recovery, health checks, writes and captures are all
    jobs of its mailbox, run one at a time on its worker thread. Viewers read the streams' outputs, which the
    device fills on its own; they never call into the device.
    """

    def __init__(self, device: Device, *, state: CameraState | None = None, store: StateStore | None = None,
                 mailbox_size: int = 128, timeout: float = 5.0, max_backoff: float = 30.0):
        self.device = device
        self.info = device.info
        self.mxid = device.info.mxid
        self.specs = streams_of(self.info)
        self.state: CameraState = state or initial_state(self.specs, ir=self.info.ir)
        self.stats: dict | None = None                # the latest stats read, with when (time.time())
        self.store = store
        self.status = BOOTING
        self.status_since = time.time()
        self.last_error: str | None = None
        self.reconnects = 0
        self.reconnect_due: float | None = None     # loop time of the next reconnect attempt, while waiting
        self.timeout = timeout
        self.max_backoff = max_backoff
        self._applied: CameraState | None = None      # what the device runs; None when unknown
        self._outputs: dict[str, FrameSource] = {}         # the running streams' outputs, as the device gave them
        self._epoch = 0                               # bumped by every loss: what a late worker call saw is void
        self._mailbox: asyncio.Queue = asyncio.Queue(mailbox_size)
        # The one thread that enters the device, for the actor's life: a call that outlives its deadline is
        # waited for (`_stuck`), never left beside a new thread, so two threads are never inside the device.
        self._executor = DeviceThread(f"camera-{self.mxid}")
        self._device_lock = threading.Lock()
        self._stuck: Future | None = None             # a call that outlived its deadline and may still be inside
        self._saver = ThreadPoolExecutor(1, thread_name_prefix=f"save-{self.mxid}")   # apart from a stuck device
        self._health_asked = False
        self._was_connected = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._recovery: asyncio.Task | None = None
        self._stopped: asyncio.Future | None = None     # the stop, once asked for
        self._in_hand: list = []              # the messages the loop has taken from the mailbox
        self._holders: dict[tuple[str, str], set] = {}    # (stream, RAW or JPEG) -> the consumers that need it
        self._told: frozenset | None = None       # what the device was last told of them; None: nothing yet
        self._want_job: asyncio.Future | None = None
        self._jobs = self._job_table()
        self._stills_in_hand = asyncio.Semaphore(STILLS_IN_HAND)
        self._encoding: set[asyncio.Task] = set()     # stills whose frame is taken, being encoded
        # Told of every change a client can see, as it is published: (actor, the state before, the status before).
        self.on_change: Callable[[CameraActor, CameraState, str], None] | None = None

    # Life cycle ----------------------------------------------------------------------------------
    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"actor-{self.mxid}")
        if self.state.shut_down:          # found open by discovery, but shut down on request: close it again
            self._mailbox.put_nowait((_Close(), asyncio.get_running_loop().create_future()))
        self._recover_soon()

    async def stop(self) -> None:
        """Idempotent: a second stop (the fleet's, after a test's or a removal's) waits for the first."""
        if self._stopped is None:
            self._stopped = asyncio.ensure_future(self._stop())
        await asyncio.shield(self._stopped)

    @property
    def _stopping(self) -> bool:
        return self._stopped is not None

    async def _stop(self) -> None:
        for task in (self._task, self._recovery):
            if task is not None:
                task.cancel()
        if self._encoding:             # stills being encoded: answered, or cancelled after a bound
            await asyncio.wait(set(self._encoding), timeout=STILL_GRACE)
            for task in set(self._encoding):
                task.cancel()
            await asyncio.gather(*self._encoding, return_exceptions=True)
        waiting = self._in_hand + [self._mailbox.get_nowait() for _ in range(self._mailbox.qsize())]
        for message, future in waiting:         # answered ones are skipped by _settle
            if isinstance(message, (_Reopen, _CheckHealth, _Close, _Want)):
                future.cancel()                   # the actor's own jobs: nobody waits for an answer
            else:
                _settle(future, error=CameraUnavailable("the service is shutting down"))
        await self._close_device()
        self._executor.shutdown()
        # A save in progress finishes (the file stays whole), off the loop.
        await asyncio.get_running_loop().run_in_executor(None, lambda: self._saver.shutdown(wait=True))

    def wake(self) -> None:
        """Try to reconnect now instead of waiting out the backoff (the device was seen again)."""
        self._wake.set()

    def ask_health_check(self) -> None:
        """Called periodically: notice a device that went away while nobody was using it (a job of the
        mailbox, skipped while one is waiting or the mailbox is full: the device is busy then anyway)."""
        if self.status == CONNECTED and not self._health_asked and not self._mailbox.full():
            self._health_asked = True
            self._mailbox.put_nowait((_CheckHealth(), asyncio.get_running_loop().create_future()))

    # Asking --------------------------------------------------------------------------------------
    def post(self, message) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        if self._stopping:          # its loop has ended: nothing would ever take this from the mailbox
            raise CameraUnavailable("the service is shutting down")
        try:
            self._mailbox.put_nowait((message, future))
        except asyncio.QueueFull:
            raise CameraBusy(f"camera {self.mxid} has {self._mailbox.maxsize} commands waiting") from None
        return future

    async def ask(self, message):
        return await self.post(message)

    @property
    def mailbox_depth(self) -> int:
        return self._mailbox.qsize()

    def output(self, stream: str) -> FrameSource | None:
        """The latest-frame output of an active stream, while the camera is connected."""
        if self.status != CONNECTED or not self.state.streams[stream].active:
            return None
        return self._outputs.get(stream)

    def want(self, stream: str, what: str, holder: object, wanted: bool) -> None:
        """On the loop: `holder` (a video feed) needs the stream's raw frames (RAW: it encodes on the gateway)
        or the camera's JPEGs (JPEG: it passes them on), or no longer does. On a camera that sends them only on
        demand, a job of the mailbox tells the device (one job for any number of changes while it waits)."""
        holders = self._holders.setdefault((stream, what), set())
        holders.add(holder) if wanted else holders.discard(holder)
        if not self.device.on_demand or self._stopping:
            return
        if self._want_job is None or self._want_job.done():
            self._want_job = asyncio.get_running_loop().create_future()
            job = (_Want(), self._want_job)
            try:
                self._mailbox.put_nowait(job)
            except asyncio.QueueFull:
                asyncio.ensure_future(self._mailbox.put(job))     # the actor's own job waits for room

    def _wanted(self) -> frozenset:
        return frozenset(key for key, holders in self._holders.items() if holders)

    def frame_meta(self, stream: str) -> FrameMeta | None:
        """What the latest frame of an active stream was taken with."""
        output = self.output(stream)
        return output.meta() if output is not None else None

    # The loop ------------------------------------------------------------------------------------
    async def _run(self) -> None:
        held = None
        while True:
            item = held or await self._mailbox.get()
            held = None
            batch = [item]
            if isinstance(item[0], BATCHABLE):
                while not self._mailbox.empty():
                    nxt = self._mailbox.get_nowait()
                    if not isinstance(nxt[0], BATCHABLE):
                        held = nxt
                        break
                    batch.append(nxt)
            self._in_hand = batch + [held] if held else batch      # out of the mailbox: stop() answers these
            try:
                job = self._jobs.get(type(item[0]))
                if job is None:
                    await self._write(batch)
                else:
                    await job(*item)
            except Exception as exc:  # noqa: BLE001 (the error belongs to the request, the loop goes on)
                for _, future in batch:
                    _settle(future, error=exc)

    # What the loop does with each kind of message but the writes, which are applied in batches (_write).
    def _job_table(self) -> dict[type, Callable]:
        async def answer(method, message, future):
            _settle(future, result=await method(message))

        async def reopen(_message, future):
            if not future.cancelled():       # else a shut down called its recovery off: it opens nothing
                _settle(future, result=await self._reopen())
        return {Capture: self._capture, _Reopen: reopen,
                _CheckHealth: lambda _m, _f: self._check_health(), _Close: lambda _m, _f: self._close(),
                ShutDown: partial(answer, self._shut_down), Boot: partial(answer, self._boot),
                ReadStats: partial(answer, lambda _m: self._read_stats()),
                ReadCalibration: partial(answer, lambda _m: self._read_calibration()), _Want: self._tell}

    async def _tell(self, _message, future) -> None:
        """The want job: tell the device what of its streams host consumers need now."""
        _settle(future)
        wanted = self._wanted()
        if self.status == CONNECTED and self._told != wanted:
            await self._call(self.device.want, wanted)
            self._told = wanted

    async def _capture(self, message: Capture, future: asyncio.Future) -> None:
        """Take the frame of a still within the device deadline, then leave it to be encoded: the still is
        answered (the encoded image, and the frame it was made from, whose sequence, times and metadata it
        answers with) when the encode ends, while the mailbox goes on. Each camera has at most
        STILLS_IN_HAND frames taken and not yet encoded; past that the mailbox waits for an encoder."""
        if not self.state.streams[message.stream].active:
            raise StreamInactive(f"{message.stream} is not active; activate it first")
        self._require_connected()
        await self._stills_in_hand.acquire()
        try:
            frame = await self._call(self.device.capture_preview if message.preview else self.device.capture,
                                     message.stream)
        except BaseException:
            self._stills_in_hand.release()
            raise
        task = asyncio.create_task(self._encode_still(frame, message, future), name=f"still-{self.mxid}")
        self._encoding.add(task)
        task.add_done_callback(self._encoding.discard)

    async def _encode_still(self, frame: Frame, message: Capture, future: asyncio.Future) -> None:
        try:
            # Encoding is not device time: a slow CPU must not look like a hung camera.
            body = await encode_off_loop(frame, message.format, message.depth_mm)
            _settle(future, result=(body, frame))
        except Exception as exc:  # noqa: BLE001 (the still's own failure)
            _settle(future, error=exc)
        finally:
            self._stills_in_hand.release()
            _settle(future, error=CameraUnavailable("the service is shutting down"))    # cancelled by stop()

    async def _write(self, batch: list) -> None:
        """Apply a batch of writes together; a refusal by the camera is one write's, so after one each write
        still waiting is applied on its own, in order, and only those the camera refuses fail."""
        try:
            await self._write_together(batch)
        except ConfigRejected:
            waiting = [item for item in batch if not item[1].done()]
            if len(waiting) < 2:
                raise
            for item in waiting:
                try:
                    await self._write_together([item])
                except Exception as exc:  # noqa: BLE001 (the error belongs to that write)
                    _settle(item[1], error=exc)

    async def _write_together(self, batch: list) -> None:
        state, done = self.state, []
        for message, future in batch:
            try:
                message.check_revision(self.mxid, state)        # If-Match: against the revision the writes before left
                if isinstance(message, Activate):
                    self._require_connected()
                state = message.apply(state, self.specs)
                done.append((future, state))
            except (CapabilityError, CameraUnavailable, RevisionMismatch) as exc:
                _settle(future, error=exc)
        if not done:
            return
        # An autofocus trigger is an action: sent with the update that asks for it, never again (R10).
        triggers = {m.stream for m, f in batch if isinstance(m, UpdateControl) and not f.done()
                    and (m.changes.get("focus") or {}).get("auto_focus_trigger")}
        if state is self.state and not triggers:         # nothing changes: nothing to save or to send
            for future, _ in done:
                _settle(future, result=state)
            return
        # The disk and the device work at the same time; a write that only triggers autofocus saves nothing.
        saving = asyncio.ensure_future(self._save(state) if state is not self.state else asyncio.sleep(0))
        try:
            if self.status == CONNECTED:
                try:
                    await self._apply(state, triggers)
                except ConfigRejected:
                    await self._restore_device()         # the camera would not build it: back to what it ran
                    raise
                except CameraUnavailable:
                    # Lost while applying: keep the writes for when the camera returns; an activation failed.
                    if isinstance(batch[0][0], Activate):
                        raise
        except Exception:
            # The writes failed, so the file must not keep them either.
            await asyncio.gather(saving, return_exceptions=True)
            with contextlib.suppress(StateNotSaved):
                await self._save(self.state)
            raise
        try:
            await saving
        except StateNotSaved:
            if self._applied is state:      # the device runs the writes, the file and the API do not
                await self._restore_device()
            raise
        for _, result in done:          # each write's own change, in order (its answer names its revision)
            self._publish(result)
        for future, result in done:
            _settle(future, result=result)

    async def _restore_device(self) -> None:
        """After a write failed: make the device run the state the API reports again (best effort; a device
        that fails here is lost, and its reopen applies that state)."""
        if self.status == CONNECTED:
            with contextlib.suppress(Exception):
                await self._apply(self.state)

    async def _save(self, state: CameraState) -> None:
        """Make the state durable before any of the writes it holds is acknowledged: one fsync a batch."""
        if self.store is None:
            return
        try:
            content = self.store.serialize(self.mxid, state)
            await asyncio.get_running_loop().run_in_executor(self._saver, self.store.write, self.mxid, content)
        except OSError as exc:
            log.error("camera %s: saving the state failed: %s", self.mxid, exc)
            # The reason without the file's path: a client has no business knowing the gateway's layout.
            reason = exc.strerror or type(exc).__name__
            raise StateNotSaved(f"the change reached camera {self.mxid} but could not be saved: {reason}") from None

    async def _apply(self, target: CameraState, triggers: frozenset = frozenset()) -> None:
        """Make the device run `target` (a configure may rebuild: its longer deadline). What the device runs
        is unknown while this runs and after it fails; the loop records it, not the worker."""
        have, self._applied, self._told = self._applied, None, None       # unknown too: want() may have gone
        wanted = self._wanted()
        # A call that outlives its deadline raises here (the camera is lost then), and only the mailbox's jobs
        # lose a camera: a call that returns speaks for the device as it is now.
        outputs = await self._call(self._reconcile, have, target, triggers, wanted, deadline=self._configure_deadline)
        self._applied, self._outputs, self._told = target, outputs, wanted

    def _reconcile(self, have: CameraState | None, target: CameraState, triggers: frozenset,
                   wanted: frozenset) -> dict[str, FrameSource]:
        """Worker thread: make the device run `target` when it runs `have` (None: unknown): configure when the
        active streams or their configs change, else send the controls that changed. Streams in `triggers`
        get their autofocus trigger; `wanted` is what host consumers need (Device.want). Returns the running
        streams' outputs."""
        if self.device.on_demand:
            self.device.want(wanted)           # before a configure, which opens the gates it names
        want = target.active_streams()
        running = have.active_streams() if have is not None else None
        configured = running is None or running.keys() != want.keys() or any(
            want[n].config != running[n].config or want[n].nn != running[n].nn for n in want)
        if configured:
            self.device.configure({n: replace(s, control=_for_device(s.control, n in triggers))
                                   for n, s in target.streams.items()})
        else:
            for name, stream in want.items():
                if stream.control != running[name].control or name in triggers:
                    self.device.set_control(name, _for_device(stream.control, name in triggers))
        # A configure may have rebuilt the pipeline, which reboots a real camera with its emitters off (R14):
        # the IR goes again after every one, as after every open.
        if target.ir is not None and (have is None or configured or have.ir != target.ir):
            self.device.set_ir(target.ir)
        return {name: self.device.output(name) for name in want}

    # Device calls and recovery -------------------------------------------------------------------
    def _require_connected(self) -> None:
        if self.status == SHUT_DOWN:
            raise CameraShutDown(f"camera {self.mxid} is shut down; POST /cameras/{self.mxid}/ boots it")
        if self.status != CONNECTED:
            detail = f": {self.last_error}" if self.last_error else ""
            raise CameraUnavailable(f"camera {self.mxid} is {self.status}{detail}", retry_after=self.retry_after())

    def retry_after(self) -> int:
        """Whole seconds until the next reconnect attempt is due (at least 1)."""
        if self.reconnect_due is None:
            return 1
        return max(1, math.ceil(self.reconnect_due - asyncio.get_running_loop().time()))

    @property
    def _configure_deadline(self) -> float:
        return self.timeout + self.device.rebuild_allowance

    def _enter(self, epoch: int, fn, *args):
        """Worker thread: the device entered under its lock, by a call made for the camera as it is now."""
        with self._device_lock:
            if epoch != self._epoch:
                raise _Stale()
            return fn(*args)

    async def _call(self, fn, *args, deadline: float | None = None):
        """Run a blocking device call on the worker thread with a deadline (the device deadline unless given);
        a failure starts recovery. While a call that outlived its deadline is still inside the device, the
        next one waits for it as long as its own deadline; a camera whose call never returns is wedged."""
        deadline = self.timeout if deadline is None else deadline
        if self._stuck is not None:
            await asyncio.wait([asyncio.wrap_future(self._stuck)], timeout=deadline)
            if not self._stuck.done():
                self._set_status(WEDGED, "a device call never returned")
                raise CameraUnavailable(f"camera {self.mxid} is wedged: a device call never returned",
                                        retry_after=self.retry_after())
            self._stuck = None
        job = self._executor.submit(self._enter, self._epoch, fn, *args)
        try:
            async with asyncio.timeout(deadline):
                return await asyncio.wrap_future(job)
        except TimeoutError:
            self._stuck = job            # still inside the device: nothing else enters until it leaves
            self._lost(f"the device did not answer within {deadline:g} s")
            raise DeviceTimeout(f"camera {self.mxid} did not answer within {deadline:g} s") from None
        except _Stale:
            raise CameraUnavailable(f"camera {self.mxid} was lost while the call waited") from None
        except DeviceTimeout as exc:         # the device's own deadline (no frame in time)
            self._lost(str(exc))
            raise DeviceTimeout(f"camera {self.mxid}: {exc}") from None
        except DeviceError as exc:
            self._lost(str(exc))
            raise CameraUnavailable(f"camera {self.mxid} is disconnected: {exc}") from None

    def _lost(self, error: str) -> None:
        if self.status == CONNECTED:
            log.warning("camera %s lost: %s", self.mxid, error)
        self._set_status(DISCONNECTED, error)
        self._epoch += 1
        self._applied, self._outputs = None, {}
        self._recover_soon()

    def _set_status(self, status: str, error: str | None = None) -> None:
        if error is not None:
            self.last_error = error
        if status != self.status:
            before, self.status, self.status_since = self.status, status, time.time()
            if self.on_change is not None:
                self.on_change(self, self.state, before)

    def _publish(self, state: CameraState) -> None:
        """The new desired state, as readers see it from now on."""
        before, self.state = self.state, state
        if self.on_change is not None:
            self.on_change(self, before, self.status)

    def _recover_soon(self) -> None:
        if self._stopping or self.state.shut_down:
            return
        if self._recovery is None or self._recovery.done():
            self._recovery = asyncio.create_task(self._recover(), name=f"recover-{self.mxid}")

    async def _check_health(self) -> None:
        self._health_asked = False
        try:
            healthy = self.status != CONNECTED or await self._call(self.device.healthy)
            if healthy and self.status == CONNECTED and time.time() - (self.stats or {}).get("read_at", 0) > STATS_PERIOD:
                await self._read_stats()
        except (CameraUnavailable, DeviceTimeout):
            return                  # _call found the device gone, and marked it lost
        if not healthy:
            self._lost("device disconnected")

    async def _read_stats(self) -> dict:
        self._require_connected()
        device = await self._call(self.device.stats)
        streams = {name: dict(zip(("received", "dropped"), output.counts())) for name, output in self._outputs.items()}
        now = time.time()
        self.stats = {**device, "connected_seconds": round(now - self.status_since, 3), "streams": streams,
                      "read_at": now}
        return self.stats

    async def _read_calibration(self) -> dict:
        """Read on the worker (the device is the actor's alone), described on the loop: a few small sums."""
        self._require_connected()
        handler = await self._call(self.device.calibration)
        return describe(handler, self.info, self.specs, self.state)

    async def _close(self) -> None:
        """Close the device and keep it closed (shut down on request)."""
        self._applied, self._outputs, self.reconnect_due = None, {}, None
        if self._recovery is not None:
            self._recovery.cancel()
        await self._close_device()
        self._set_status(SHUT_DOWN, "shut down on request")

    async def _close_device(self) -> None:
        """Queued on the worker even behind a call stuck in the device, so that it closes the device when that
        call returns (or the call would leave it running, read by nobody); not waited for longer than a
        deadline. Calls queued before it are stale: they do not reach the device."""
        self._epoch += 1
        job = self._executor.submit(self._enter, self._epoch, self.device.close)
        await asyncio.wait([asyncio.wrap_future(job)], timeout=self.timeout)
        if job.done():
            if job.exception() is not None:
                log.warning("camera %s: closing failed: %s", self.mxid, job.exception())
        else:
            self._stuck = job

    async def _shut_down(self, message: ShutDown) -> CameraState:
        message.check_revision(self.mxid, self.state)
        state = self.state.with_camera(shut_down=True)
        if state is not self.state:
            await self._save(state)         # StateNotSaved: nothing changed
            self._publish(state)
        if self.status != SHUT_DOWN:
            await self._close()
        return self.state

    async def _boot(self, message: Boot) -> CameraState:
        message.check_revision(self.mxid, self.state)
        state = self.state.with_camera(shut_down=False)
        if state is not self.state:
            await self._save(state)
            self._publish(state)
        if self.status == SHUT_DOWN:
            self._set_status(BOOTING)
            try:
                await self._reopen(after_loss=False)
            except Exception:
                self._recover_soon()          # it goes on trying, as for a camera that was lost
                raise
            self.last_error = None
        return self.state

    async def _reopen(self, after_loss: bool = True) -> None:
        """The reopen job: open the device (closing a lost one first) and apply the desired state as it is
        now, after every write that came before in the mailbox."""
        if self.state.shut_down:        # only a boot opens a camera shut down (it clears shut_down first)
            raise CameraShutDown(f"camera {self.mxid} is shut down; POST /cameras/{self.mxid}/ boots it")
        if self.status != BOOTING:      # a device found moments ago is open already; a lost one is reopened
            await self._call(self.device.close)
        await self._call(self.device.open, deadline=self._configure_deadline)      # it may be rebooting
        await self._apply(self.state)
        if after_loss and self._was_connected:
            self.reconnects += 1        # counted as it connects: whoever sees "connected" sees the count
        self._set_status(CONNECTED)
        self._was_connected = True

    async def _recover(self) -> None:
        """Post reopen jobs with exponential backoff until one succeeds."""
        delay, first = 0.25, self.status == BOOTING
        while True:
            self._wake.clear()
            future = asyncio.get_running_loop().create_future()
            await self._mailbox.put((_Reopen(), future))     # the actor's own job waits for room, never refused
            try:
                await future
                log.info("camera %s %s", self.mxid, "ready" if first else "reconnected, state restored")
                return
            except CameraShutDown:
                return
            except (CameraUnavailable, DeviceTimeout):
                if self.status != WEDGED:
                    self._set_status(DISCONNECTED)       # _call noted the device's error as last_error
            except ConfigRejected as exc:
                self._set_status(DISCONNECTED, str(exc))
            self.reconnect_due = asyncio.get_running_loop().time() + delay
            try:
                async with asyncio.timeout(delay):         # not wait_for, which can lose a cancel (Fleet._discover)
                    await self._wake.wait()
            except TimeoutError:
                pass
            self.reconnect_due = None
            delay = min(delay * 2, self.max_backoff)


def _for_device(control, trigger: bool) -> dict:
    """A control as the device gets it: the autofocus trigger set only when it is to run now."""
    control = dict(control)
    if control.get("focus") is not None:
        control["focus"] = {**control["focus"], "auto_focus_trigger": trigger}
    return control


def _settle(future: asyncio.Future, result=None, error: BaseException | None = None) -> None:
    """Answer a request unless its client has gone (a cancelled future)."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
