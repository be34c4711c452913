"""The one thread that enters a camera's device."""
import queue
import threading
from concurrent.futures import Future


class DeviceThread:
    """Runs the calls given to it one after another, each answered through a Future, like a one-thread
    ThreadPoolExecutor, but a daemon: a device call that never returns holds this thread and nothing else, and
    the process still exits (the interpreter joins an executor's threads at exit, and would wait for it)."""

    def __init__(self, name: str):
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        self._shut = False
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def submit(self, fn, *args) -> Future:
        if self._shut:
            raise RuntimeError("the device thread is shut down")
        future: Future = Future()
        self._calls.put((future, fn, args))
        return future

    def shutdown(self) -> None:
        """The thread ends after the calls already given (not waited for here)."""
        self._shut = True
        self._calls.put(None)

    def _run(self) -> None:
        while (call := self._calls.get()) is not None:
            future, fn, args = call
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args)
            except BaseException as exc:  # noqa: BLE001 (handed to whoever waits for the call)
                future.set_exception(exc)
            else:
                future.set_result(result)
            del call, future, fn, args            # hold no result or frame until the next call
