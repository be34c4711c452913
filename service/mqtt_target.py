"""Where the events go: an MQTT broker's URL, read and checked (by the options, before anything else loads)."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class MqttTarget:
    host: str
    port: int
    tls: bool
    prefix: str
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, text: str) -> MqttTarget:
        """mqtt://[user[:password]@]host[:port][/prefix], mqtts:// for TLS; ValueError says what is wrong."""
        url = urlsplit(text)
        if url.scheme not in ("mqtt", "mqtts"):
            raise ValueError(f"the scheme is mqtt:// or mqtts://, not {url.scheme or 'none'}")
        if not url.hostname:
            raise ValueError("no broker host")
        prefix = url.path.strip("/") or "oak"
        if any(c in prefix for c in "+#") or "//" in prefix or "#" in text or url.query:
            raise ValueError(f"the topic prefix {prefix!r} has a wildcard or an empty level")
        try:
            port = url.port or (8883 if url.scheme == "mqtts" else 1883)
        except ValueError:
            raise ValueError("the port is not a number from 1 to 65535") from None
        return cls(url.hostname, port, url.scheme == "mqtts", prefix, unquote(url.username) if url.username else None,
                   unquote(url.password) if url.password is not None else None)

    def __str__(self) -> str:         # for the log: never the password
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}/{self.prefix}"
