"""sd_notify: READY=1 once serving, WATCHDOG=1 from the event loop, STOPPING=1 on the way out.

The protocol is one datagram to the socket named by $NOTIFY_SOCKET; without it (not run by systemd) nothing is
sent. The watchdog keep-alive is sent by a task on the event loop, so a wedged loop stops it and systemd
restarts the service.
"""
from __future__ import annotations

import asyncio
import os
import socket
from typing import Callable


def notify(message: str) -> bool:
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]            # an abstract socket
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.connect(address)
        sock.sendall(message.encode())
    return True


def watchdog_interval() -> float | None:
    """Half the watchdog timeout systemd set for this process, or None when there is none."""
    usec, pid = os.environ.get("WATCHDOG_USEC"), os.environ.get("WATCHDOG_PID")
    if not usec or (pid and int(pid) != os.getpid()):
        return None
    return int(usec) / 2e6


async def keep_alive(interval: float, trouble: Callable[[], str | None] = lambda: None) -> None:
    """WATCHDOG=1 every `interval` until `trouble()` names a reason not to go on (a camera wedged too long:
    only a restart frees a device call that never returns); then STATUS= says it, and systemd restarts us."""
    while (reason := trouble()) is None:
        notify("WATCHDOG=1")
        await asyncio.sleep(interval)
    notify(f"STATUS={reason}; the watchdog is left to restart the service")
