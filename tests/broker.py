"""A real Mosquitto broker for the tests, on a free loopback port, and a subscriber that keeps what it gets."""
import asyncio
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import aiomqtt
import pytest
from timing import scaled

MOSQUITTO = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd")


class Broker:
    def __init__(self, directory: Path, users: dict[str, str] | None = None):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        directory.mkdir(parents=True, exist_ok=True)
        self.config = directory / "mosquitto.conf"
        lines = [f"listener {self.port} 127.0.0.1", "persistence false"]
        if os.geteuid() == 0:         # as root it would become the mosquitto user, who cannot read the test's files
            lines.append("user root")
        if users:
            passwords = directory / "passwords"
            passwords.write_text("")
            for user, password in users.items():
                subprocess.run([MOSQUITTO_PASSWD, "-b", str(passwords), user, password], check=True)
            lines += ["allow_anonymous false", f"password_file {passwords}"]
        else:
            lines.append("allow_anonymous true")
        self.config.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + scaled(10)
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                assert self.proc.poll() is None, "mosquitto exited"
                time.sleep(0.02)
        pytest.fail("mosquitto did not listen")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def url(self, prefix="test", user="") -> str:
        return f"mqtt://{user + '@' if user else ''}127.0.0.1:{self.port}/{prefix}"


@pytest.fixture
def broker(tmp_path):
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto; .ci/run installs it)")
    running = Broker(tmp_path / "broker")
    running.start()
    yield running
    running.stop()


class Subscriber:
    """Every message under a topic filter, in order, and the latest (retained) value of each topic."""

    def __init__(self, port: int, topic: str):
        self.port, self.topic = port, topic
        self.messages: list[tuple[str, bytes, bool]] = []
        self.latest: dict[str, bytes] = {}
        self._task: asyncio.Task | None = None
        self._subscribed = asyncio.Event()

    async def __aenter__(self):
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self._subscribed.wait(), scaled(10))
        return self

    async def __aexit__(self, *exc):
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self):
        async with aiomqtt.Client("127.0.0.1", self.port) as client:
            await client.subscribe(self.topic, qos=1)
            self._subscribed.set()
            async for message in client.messages:
                self.messages.append((str(message.topic), message.payload, message.retain))
                self.latest[str(message.topic)] = message.payload

    def events(self, type_: str | None = None) -> list[dict]:
        return [json.loads(p) for t, p, _ in self.messages if "/events/" in t
                and (type_ is None or t.endswith("/events/" + type_))]

    def json(self, topic: str):
        return json.loads(self.latest[topic])
