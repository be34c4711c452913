"""A client generated from the served spec by openapi-python-client, as a fleet controller's developers would
make one, performs the API's operations against the service: the spec says what the service does."""
import asyncio
import importlib
import json
import sys
from pathlib import Path

import simplejpeg

from conftest import wait_until
from service.app import create_app
from service.inputs import FLEET

GENERATOR = str(Path(sys.executable).parent / "openapi-python-client")
# The generator reads JSON, text and octet-stream responses; images and the MJPEG video are bytes to it.
CONFIG = """
content_type_overrides:
  image/jpeg: application/octet-stream
  image/png: application/octet-stream
  "multipart/x-mixed-replace; boundary=frame": application/octet-stream
post_hooks: []
"""


async def generate(client, tmp_path) -> str:
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(await (await client.get("/api/docs/swagger.json")).json()))
    (tmp_path / "config.yaml").write_text(CONFIG)
    proc = await asyncio.create_subprocess_exec(
        GENERATOR, "generate", "--path", str(spec), "--output-path", str(tmp_path / "oak_client"), "--meta", "none",
        "--config", str(tmp_path / "config.yaml"), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out = (await proc.communicate())[0].decode()
    assert proc.returncode == 0, out
    assert "warning" not in out.lower() and "error" not in out.lower(), out       # the spec is clean to it
    return "oak_client"


async def test_a_generated_client_performs_the_apis_operations(aiohttp_client, make_backend, tmp_path, monkeypatch):
    backend = make_backend(["oak-d", "oak-1"])
    client = await aiohttp_client(create_app(backend, discovery_interval=0.05, device_timeout=1.5))
    await wait_until(lambda: len(client.app[FLEET].actors) == 2
                     and all(a.status == "connected" for a in client.app[FLEET].actors.values()))
    name = await generate(client, tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[module]
    oak = importlib.import_module(name)
    models = importlib.import_module(f"{name}.models")

    def call(group: str, operation: str):
        return importlib.import_module(f"{name}.api.{group}.{operation}")

    async with oak.Client(base_url=str(client.make_url("")).rstrip("/"), raise_on_unexpected_status=True) as c:
        cameras = await call("cameras", "list_cameras").asyncio(client=c)
        assert {cam.name for cam in cameras} == {"OAK-D", "OAK-1"}
        cam = next(cam for cam in cameras if cam.name == "OAK-D").mxid
        assert (await call("cameras", "get_camera").asyncio(cam, client=c)).mxid == cam
        assert [s.name for s in await call("cameras", "refresh").asyncio(client=c)] != []
        streams = await call("streams", "list_streams").asyncio(cam, client=c)
        assert {s.name for s in streams} >= {"CAM_A", "CAM_B", "CAM_C", "DEPTH_B_C"}

        assert (await call("streams", "activate").asyncio_detailed(cam, "CAM_A", client=c)).status_code == 204
        assert (await call("streams", "get_stream").asyncio(cam, "CAM_A", client=c)).active is True
        # Partial bodies, through the generated models.
        config = await call("streams", "update_config").asyncio(
            cam, "CAM_B", client=c, body=models.PartialMonoCameraConfig(fps=10))
        assert config.fps == 10
        config = await call("streams", "update_config").asyncio(
            cam, "CAM_A", client=c, body=models.PartialColorCameraConfig(still_size=[640, 480]))
        assert config.still_size == [640, 480]
        control = await call("streams", "update_control").asyncio(
            cam, "CAM_A", client=c, body=models.PartialSensorControl(contrast=3, saturation=-2))
        assert (control.contrast, control.saturation) == (3, -2)
        assert (await call("streams", "get_control").asyncio(cam, "CAM_A", client=c)).contrast == 3
        assert (await call("streams", "get_config").asyncio(cam, "CAM_B", client=c)).fps == 10

        # Conditional requests: the ETag names the revision; a stale If-Match is the 412 Error, nothing changes.
        read = await call("streams", "get_control").asyncio_detailed(cam, "CAM_A", client=c)
        tag = read.headers["ETag"]
        assert (await call("streams", "get_control").asyncio_detailed(
            cam, "CAM_A", client=c, if_none_match=tag)).status_code == 304
        stale = await call("streams", "update_control").asyncio(
            cam, "CAM_A", client=c, body=models.PartialSensorControl(contrast=9), if_match='"0"')
        assert isinstance(stale, models.Error) and stale.error.code == "revision_mismatch"
        assert stale.error.revision == int(tag.strip('"'))
        control = await call("streams", "update_control").asyncio(
            cam, "CAM_A", client=c, body=models.PartialSensorControl(contrast=4), if_match=tag)
        assert control.contrast == 4

        still = await call("streams", "still").asyncio(cam, "CAM_A", client=c)
        assert simplejpeg.decode_jpeg(still.payload.read()).shape == (480, 640, 3)
        video = await call("streams", "video").asyncio_detailed(cam, "CAM_A", client=c, frames=2, width=320)
        assert video.status_code == 200 and video.content.count(b"--frame\r\n") == 2

        # Errors come back as the generated Error model.
        missing = await call("streams", "get_stream").asyncio(cam, "CAM_H", client=c)
        assert isinstance(missing, models.Error) and missing.error.status == 404
        assert (await call("streams", "deactivate").asyncio_detailed(cam, "CAM_A", client=c)).status_code == 204
        refused = await call("streams", "still").asyncio(cam, "CAM_A", client=c)
        assert isinstance(refused, models.Error) and refused.error.code == "stream_inactive"
        assert (await call("service", "healthz").asyncio_detailed(client=c)).status_code == 200
