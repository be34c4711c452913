"""DNS-SD on the LAN (python-zeroconf): the gateway announces itself as `_oak-camera._tcp`, so that a fleet
controller finds its gateways without a hand-kept list of URLs. TXT records: `id` (GET /gateway's), `version`,
`scheme` (http or https) and `tokens` (yes when a bearer token is required)."""
from __future__ import annotations

import ipaddress
import logging
import socket

import ifaddr
from zeroconf import IPVersion
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

log = logging.getLogger(__name__)
SERVICE_TYPE = "_oak-camera._tcp.local."


def wanted(setting: str, host: str) -> bool:
    """`auto` announces when the service listens beyond loopback; `on` always (a test on loopback), `off` never."""
    if setting != "auto":
        return setting == "on"
    return not _loopback(host)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _addresses(host: str) -> list[str]:
    """The IPv4 addresses a listener on `host` answers on: every interface's for 0.0.0.0 (or ::), loopback
    only when the listener is on loopback."""
    if host in ("0.0.0.0", "::", ""):
        found = [ip.ip for adapter in ifaddr.get_adapters() for ip in adapter.ips
                 if isinstance(ip.ip, str) and not ipaddress.ip_address(ip.ip).is_loopback]
        return found or ["127.0.0.1"]
    try:
        return [str(ipaddress.IPv4Address(host))]
    except ValueError:
        return [socket.gethostbyname(host)]


class Announcement:
    def __init__(self, host: str, port: int, *, gateway_id: str, hostname: str, version: str, scheme: str,
                 tokens: bool):
        self.addresses = _addresses(host)
        # Bound to the interfaces it answers on: loopback's alone for a listener on loopback.
        interfaces = self.addresses if not any(_loopback(a) for a in self.addresses) else ["127.0.0.1"]
        self.zeroconf = AsyncZeroconf(interfaces=interfaces, ip_version=IPVersion.V4Only)
        name = f"oak-camera-service on {hostname} {gateway_id[:8]}"[:63]      # a DNS label's limit
        self.info = AsyncServiceInfo(
            SERVICE_TYPE, f"{name}.{SERVICE_TYPE}", port=port, server=f"{hostname}.local.",
            parsed_addresses=self.addresses,
            properties={"id": gateway_id, "version": version, "scheme": scheme, "tokens": "yes" if tokens else "no"})

    async def start(self) -> None:
        # Each call schedules the work and returns its task: awaited too, so it is done (the probes and the
        # announcement; on close the goodbye, which tells browsers at once that the gateway is gone).
        await (await self.zeroconf.async_register_service(self.info, allow_name_change=True))
        log.info("announced as %s on %s", self.info.name, ", ".join(self.addresses))

    async def close(self) -> None:
        try:
            await (await self.zeroconf.async_unregister_service(self.info))
        finally:
            await self.zeroconf.async_close()
