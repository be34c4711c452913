"""DNS-SD: the gateway announces itself as _oak-camera._tcp with its id, version, scheme and whether tokens are
required, and withdraws when it stops. Browsed on loopback (multicast on the loopback interface)."""
import asyncio

from test_cli import get, start, stop
from zeroconf import IPVersion, ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from service.announce import SERVICE_TYPE
from timing import scaled


async def test_the_gateway_is_found_on_the_lan_and_withdraws_when_it_stops(tmp_path):
    browser_zc = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    changes: asyncio.Queue = asyncio.Queue()

    def on_change(zeroconf, service_type, name, state_change):
        changes.put_nowait((name, state_change))
    browser = AsyncServiceBrowser(browser_zc.zeroconf, SERVICE_TYPE, handlers=[on_change])
    (tmp_path / "tokens").write_text("s3cret\n")
    proc, base, _ = start("--simulate", "oak-1", "--announce", "on", "--token-file", str(tmp_path / "tokens"),
                          state_dir=tmp_path / "state")
    try:
        gateway_id = (tmp_path / "state" / "gateway-id").read_text().strip()
        while True:                 # other gateways on the LAN (another test run on this machine) are passed over
            name, change = await asyncio.wait_for(changes.get(), scaled(20))
            # Its name ends in its id's first 8 characters: another run's gateway may be gone before it is asked
            if change == ServiceStateChange.Added and gateway_id[:8] in name:
                break
        info = AsyncServiceInfo(SERVICE_TYPE, name)
        assert await info.async_request(browser_zc.zeroconf, 5000)
        assert info.decoded_properties == {"id": gateway_id, "version": info.decoded_properties["version"],
                                           "scheme": "http", "tokens": "yes"}
        assert f"http://{info.parsed_addresses()[0]}:{info.port}" == base
        assert get(f"{base}/healthz")["status"] == "alive"
    finally:
        stop(proc)
    try:
        while True:
            name_gone, change = await asyncio.wait_for(changes.get(), scaled(20))
            if change == ServiceStateChange.Removed and name_gone == name:
                break
    finally:
        await browser.async_cancel()
        await browser_zc.async_close()
