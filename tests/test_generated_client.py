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


def sample(schema: dict, schemas: dict):
    """A valid value of a property of the spec: an object of one field for a nested object."""
    if "$ref" in schema:
        nested = schemas[schema["$ref"].rsplit("/", 1)[-1]]
        field, prop = next(iter(nested["properties"].items()))
        return {field: sample(prop, schemas)}
    if "anyOf" in schema:
        return sample(schema["anyOf"][0], schemas)
    if "enum" in schema:
        return schema["enum"][-1]
    kind = schema.get("type")
    if kind == "array":
        return [sample(schema["items"], schemas)] * max(schema.get("minItems", 1), 1)
    if kind == "boolean":
        return True
    if kind in ("integer", "number"):
        return schema.get("maximum", 2)
    if kind == "object":
        return {}
    return "x"


async def test_a_generated_clients_partial_update_sends_and_changes_only_what_it_was_given(
        aiohttp_client, make_backend, tmp_path, monkeypatch):
    backend = make_backend(["oak-d"])
    client = await aiohttp_client(create_app(backend, discovery_interval=0.05, device_timeout=1.5))
    await wait_until(lambda: client.app[FLEET].actors and
                     all(a.status == "connected" for a in client.app[FLEET].actors.values()))
    spec = await (await client.get("/api/docs/swagger.json")).json()
    schemas = spec["components"]["schemas"]
    name = await generate(client, tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[module]
    oak = importlib.import_module(name)
    models = importlib.import_module(f"{name}.models")
    operations = {p.stem: p for p in (tmp_path / name / "api").glob("*/*.py")}

    # Every JSON body of the spec, through every model it may be: built with one field, it sends that field.
    checked = set()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is None:
                continue
            refs = [s["$ref"] for s in body["schema"].get("anyOf", [body["schema"]])]
            op = operations[operation["operationId"]]
            module = importlib.import_module(f"{name}.api.{op.parent.name}.{op.stem}")
            params = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
            for ref in refs:
                schema_name = ref.rsplit("/", 1)[-1]
                model = getattr(models, schema_name.replace("-", "").replace("_", ""))
                kwargs = module._get_kwargs(*["X"] * len(params), body=model())
                assert kwargs["json"] == {}, (schema_name, kwargs["json"])       # nothing set, nothing sent
                for field, prop in schemas[schema_name]["properties"].items():
                    value = sample(prop, schemas)
                    one = model(**{field: getattr(model.from_dict({field: value}), field)})
                    sent = module._get_kwargs(*["X"] * len(params), body=one)["json"]
                    assert sent == {field: value}, (schema_name, field, sent)
                    checked.add((schema_name, field))
    assert {("Partial-SensorControl", "exposure_time"), ("Partial-SensorControl", "focus"),
            ("Partial-IR", "flood_light"), ("Partial-ColorCameraConfig", "fps"), ("Faults", "latency_ms")} <= checked

    # What a user sees: another controller's white balance stays OFF after an exposure-only update.
    cam = client.app[FLEET].actors and next(iter(client.app[FLEET].actors))
    url = f"/cameras/{cam}/streams/CAM_A/control"
    assert (await client.post(url, json={"auto_whitebalance_mode": "OFF", "manual_whitebalance": 3000})).status == 200
    async with oak.Client(base_url=str(client.make_url("")).rstrip("/"), raise_on_unexpected_status=True) as c:
        update = importlib.import_module(f"{name}.api.streams.update_control")
        control = await update.asyncio(cam, "CAM_A", client=c, body=models.PartialSensorControl(
            auto_exposure_enable=False, exposure_time=4000))
        assert control.exposure_time == 4000
    after = await (await client.get(url)).json()
    assert (after["exposure_time"], after["auto_whitebalance_mode"], after["manual_whitebalance"]) == \
        (4000, "OFF", 3000)


async def test_the_readmes_generator_command_works_with_tokens_on(aiohttp_client, make_backend, tmp_path, monkeypatch):
    """README's commands, as written, against a service that needs tokens: the spec is fetched with the token,
    and the client it makes calls the API with it."""
    import re
    import shlex
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    config = re.search(r"cat > gen.yaml <<'EOF'\n(.*?)\nEOF\n", readme, re.S).group(1)
    command = next(line for line in readme.splitlines() if line.startswith("openapi-python-client generate"))
    client = await aiohttp_client(create_app(make_backend(["oak-1"]), tokens=["s3cret"], discovery_interval=0.05))
    await wait_until(lambda: client.app[FLEET].actors and
                     all(a.status == "connected" for a in client.app[FLEET].actors.values()))
    (tmp_path / "gen.yaml").write_text(config)
    base = str(client.make_url("")).rstrip("/")
    args = shlex.split(command.replace("http://gateway:8080", base).replace("$TOKEN", "s3cret"))
    proc = await asyncio.create_subprocess_exec(
        GENERATOR, *args[1:], "--meta", "none", "--output-path", str(tmp_path / "guarded_client"), cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out = (await proc.communicate())[0].decode()
    assert proc.returncode == 0 and "error" not in out.lower(), out
    monkeypatch.syspath_prepend(str(tmp_path))
    for module in [m for m in sys.modules if m == "guarded_client" or m.startswith("guarded_client.")]:
        del sys.modules[module]
    oak = importlib.import_module("guarded_client")
    cameras = importlib.import_module("guarded_client.api.cameras.list_cameras")
    async with oak.AuthenticatedClient(base_url=base, token="s3cret", raise_on_unexpected_status=True) as c:
        assert [cam.name for cam in await cameras.asyncio(client=c)] == ["OAK-1"]
