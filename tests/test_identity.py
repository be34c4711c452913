"""Who the gateway is: GET /gateway and oak_camera_service_info, a stable id kept in the state directory and a
boot id new on every start."""
import socket
from datetime import UTC, datetime
from importlib import metadata

from conftest import device_timeout, wait_until
from test_metrics import scrape, value

from service.app import create_app
from service.inputs import FLEET


async def start(aiohttp_client, backend, state_dir):
    client = await aiohttp_client(create_app(backend, state_dir=state_dir, device_timeout=device_timeout(backend)))
    await wait_until(lambda: len(client.app[FLEET].actors) == len(backend.devices))
    return client


async def gateway(client) -> dict:
    resp = await client.get("/gateway")
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_the_gateway_says_who_it_is(client, backend):
    before = datetime.now(UTC)
    about = await gateway(client)
    assert about["hostname"] == socket.gethostname()
    assert about["version"] == metadata.version("oak-camera-service")
    assert about["depthai_version"] == metadata.version("depthai")
    assert about["cameras"] == len(backend.devices) == 4
    assert len(about["id"]) == 32 and len(about["boot_id"]) == 32 and about["id"] != about["boot_id"]
    assert (before - datetime.fromisoformat(about["started_at"])).total_seconds() < 600
    samples = await scrape(client)
    assert value(samples, "oak_camera_service_info", gateway_id=about["id"], hostname=about["hostname"],
                 version=about["version"], depthai_version=about["depthai_version"], boot_id=about["boot_id"]) == 1
    assert value(samples, "oak_camera_service_cameras") == 4
    started = datetime.fromisoformat(about["started_at"]).timestamp()
    assert abs(value(samples, "oak_camera_service_start_time_seconds") - started) < 0.001


async def test_the_id_stays_across_restarts_and_the_boot_id_does_not(aiohttp_client, make_backend, tmp_path):
    state_dir = tmp_path / "state"
    first = await gateway(await start(aiohttp_client, make_backend(["oak-d"]), state_dir))
    second = await gateway(await start(aiohttp_client, make_backend(["oak-1"]), state_dir))
    assert second["id"] == first["id"] and second["boot_id"] != first["boot_id"]
    assert (state_dir / "gateway-id").read_text().strip() == first["id"]
    assert (state_dir / "gateway-id").stat().st_mode & 0o777 == 0o600
    other = await gateway(await start(aiohttp_client, make_backend(["oak-d"]), tmp_path / "elsewhere"))
    assert other["id"] != first["id"]            # another state directory is another gateway


async def test_an_id_file_that_holds_no_id_is_replaced(aiohttp_client, make_backend, tmp_path, caplog):
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    (state_dir / "gateway-id").write_text("not an id\n")
    about = await gateway(await start(aiohttp_client, make_backend(["oak-d"]), state_dir))
    assert len(about["id"]) == 32 and (state_dir / "gateway-id").read_text().strip() == about["id"]
    assert "holds no gateway id" in caplog.text
    again = await gateway(await start(aiohttp_client, make_backend(["oak-d"]), state_dir))
    assert again["id"] == about["id"]
