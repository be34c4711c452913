import re

import pytest

from conftest import assert_error, wait_until
from service.app import create_app
from service.inputs import FLEET


async def spec(client):
    resp = await client.get("/api/docs/swagger.json")
    assert resp.status == 200
    return await resp.json()


async def test_every_route_is_documented_once_with_its_errors(client):
    doc = await spec(client)
    assert doc["openapi"].startswith("3.")
    ops = {(path, method) for path, item in doc["paths"].items() for method in item}
    assert ops == {
        ("/cameras/", "get"), ("/cameras/refresh", "post"), ("/cameras/{mxid}/", "get"), ("/cameras/{mxid}/streams/", "get"),
        ("/cameras/{mxid}/", "post"), ("/cameras/{mxid}/", "delete"), ("/cameras/{mxid}/stats", "get"),
        ("/cameras/{mxid}/calibration", "get"),
        ("/cameras/{mxid}/ir", "get"), ("/cameras/{mxid}/ir", "post"),
        ("/cameras/{mxid}/streams/{stream_name}/", "get"),
        ("/cameras/{mxid}/streams/{stream_name}/", "post"), ("/cameras/{mxid}/streams/{stream_name}/", "delete"),
        ("/cameras/{mxid}/streams/{stream_name}/config", "get"),
        ("/cameras/{mxid}/streams/{stream_name}/config", "post"),
        ("/cameras/{mxid}/streams/{stream_name}/control", "get"),
        ("/cameras/{mxid}/streams/{stream_name}/control", "post"),
        ("/cameras/{mxid}/streams/{stream_name}/still", "get"), ("/cameras/{mxid}/streams/{stream_name}/video", "get"),
        ("/cameras/{mxid}/streams/{stream_name}/preview", "get"),
        ("/cameras/{mxid}/streams/{stream_name}/nn", "get"), ("/cameras/{mxid}/streams/{stream_name}/nn", "post"),
        ("/cameras/{mxid}/streams/{stream_name}/nn", "delete"),
        ("/sim/cameras/{mxid}/unplug", "post"), ("/sim/cameras/{mxid}/replug", "post"),
        ("/sim/cameras/{mxid}/faults", "get"), ("/sim/cameras/{mxid}/faults", "post"),
        ("/metrics", "get"), ("/healthz", "get"), ("/readyz", "get"), ("/gateway", "get"), ("/events", "get"),
    }
    for path, item in doc["paths"].items():
        for method, op in item.items():
            assert "500" in op["responses"], (path, method)
            if "{mxid}" in path:
                assert "404" in op["responses"] and "422" in op["responses"], (path, method)
                params = {p["name"]: p for p in op["parameters"] if p["in"] == "path"}
                assert params["mxid"]["schema"]["pattern"] == "^[A-Z0-9]+$"


async def test_every_error_answer_lists_its_codes_and_every_503_its_retry_after(client):
    """Each operation's error responses name the codes it answers (x-error-codes) from the one table, each code
    under its own status; the response tests hold every answer a test gets to them (spec_check)."""
    from service.errors import CODES
    doc = await spec(client)
    seen = set()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for status, response in op["responses"].items():
                if int(status) < 400 or path == "/readyz":     # its 503 is a status, "starting", no error
                    continue
                codes = response["x-error-codes"]
                assert codes and all(CODES[c][0] == int(status) for c in codes), (path, method, status, codes)
                assert all(f"`{c}`" in response["description"] for c in codes)
                assert ("Retry-After" in response.get("headers", {})) == (status == "503"), (path, method)
                seen.update(codes)
    # A full mailbox has a code of its own, beside a lost camera's.
    write = doc["paths"]["/cameras/{mxid}/streams/{stream_name}/control"]["post"]["responses"]
    assert {"camera_busy", "camera_unavailable", "state_not_saved"} <= set(write["503"]["x-error-codes"])
    assert "X-State-Revision" in write["200"]["headers"]
    assert seen >= set(CODES) - {"unauthorized", "not_found", "method_not_allowed", "too_many_connections"}


def test_the_readmes_table_of_error_codes_is_the_services():
    import re
    from pathlib import Path
    from service.errors import CODES
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    table = {code: int(status) for status, code in re.findall(r"^  \| (\d{3}) \| `([a-z_]+)` \|", readme, re.M)}
    assert table == {code: status for code, (status, _) in CODES.items()}


async def test_schemas_carry_the_seed_ranges(client):
    schemas = (await spec(client))["components"]["schemas"]
    control = schemas["SensorControl"]["properties"]
    assert (control["exposure_time"]["minimum"], control["exposure_time"]["maximum"]) == (1, 33000)
    assert (control["sensitivity_iso"]["minimum"], control["sensitivity_iso"]["maximum"]) == (100, 5000)
    assert "WARM_FLUORESCENT" in control["auto_whitebalance_mode"]["enum"]
    assert {"ColorCameraConfig", "MonoCameraConfig", "CameraConfig", "Error"} <= set(schemas)
    assert "THE_48_MP" in schemas["ColorCameraConfig"]["properties"]["resolution"]["enum"]


async def test_still_documents_format_and_depth_mm(client):
    op = (await spec(client))["paths"]["/cameras/{mxid}/streams/{stream_name}/still"]["get"]
    query = {p["name"]: p for p in op["parameters"] if p["in"] == "query"}
    assert query["format"]["schema"]["enum"][:2] == ["jpeg", "png"]
    assert "millimetres" in query["depth_mm"]["description"]
    assert set(op["responses"]["200"]["content"]) == {"image/jpeg", "image/png"}
    assert "409" in op["responses"]


async def test_swagger_ui_is_served_with_its_files_behind_the_front_door(client):
    resp = await client.get("/api/docs")
    page = await resp.text()
    assert resp.status == 200 and "swagger" in page.lower() and 'url: "/api/docs/swagger.json"' in page
    files = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert len(files) >= 4, page
    for path in files:
        resp = await client.get(path)
        assert resp.status == 200 and resp.headers["X-Request-ID"] and await resp.read(), path
    for name in ("nothing.js", "%2E%2E", "", "index.html"):      # index.html: the page's template
        await assert_error(await client.get(f"/static/swagger/{name}"), 404, "not_found")


async def test_spec_is_valid_openapi_in_every_app(client, aiohttp_client, backend):
    from openapi_spec_validator import validate
    validate(await spec(client))
    other = await aiohttp_client(create_app(backend))       # a second app in the same process
    assert await spec(other) == await spec(client)


async def test_partial_config_bodies_validate_against_the_spec(client):
    from openapi_schema_validator import OAS30Validator
    doc = await spec(client)

    def validator(schema):            # the spec's own references resolve inside the schema's document
        return OAS30Validator({**schema, "components": doc["components"]})
    body = doc["paths"]["/cameras/{mxid}/streams/{stream_name}/config"]["post"]["requestBody"]
    validator = validator(body["content"]["application/json"]["schema"])
    for partial in ({"fps": 10}, {"resolution": "THE_720_P"}, {"still_size": [640, 480]}, {}):
        validator.validate(partial)
    response = doc["paths"]["/cameras/{mxid}/streams/{stream_name}/config"]["get"]["responses"]["200"]
    whole = OAS30Validator({**response["content"]["application/json"]["schema"], "components": doc["components"]})
    for config in ({"resolution": "THE_720_P", "fps": 30.0},
                   {"resolution": "THE_1080_P", "still_size": [1920, 1080], "preview_size": [300, 300],
                    "video_size": [1920, 1080], "sensor_crop": [0.0, 0.0], "fps": 30.0}):
        whole.validate(config)


async def test_docs_at_both_slashes_and_a_single_stream(client, mxid):
    for path in ("/api/docs", "/api/docs/", "/api/docs/swagger.json", "/api/docs/swagger.json/"):
        assert (await client.get(path)).status == 200, path
    cam = mxid("oak-1")
    for path in (f"/cameras/{cam}/streams/CAM_A/", f"/cameras/{cam}/streams/CAM_A"):
        assert await (await client.get(path)).json() == {"name": "CAM_A", "active": False}
    doc = await spec(client)
    activate = doc["paths"]["/cameras/{mxid}/streams/{stream_name}/"]["post"]["responses"]["204"]
    assert "X-State-Revision" in activate["headers"]
    assert doc["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}


async def test_with_tokens_every_protected_operation_documents_401(aiohttp_client, backend):
    from service.app import create_app
    guarded = await aiohttp_client(create_app(backend, tokens=["t"]))
    doc = await (await guarded.get("/api/docs/swagger.json", headers={"Authorization": "Bearer t"})).json()
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if path in ("/healthz", "/readyz"):
                assert "security" not in operation and "401" not in operation["responses"]
            else:
                assert operation["security"] == [{"bearer": []}, {"access_token": []}], (path, method)
                assert "401" in operation["responses"], (path, method)


async def test_every_test_response_is_held_to_the_served_spec(aiohttp_client, backend, monkeypatch):
    """The suite's check (tests/spec_check.py) is on: a response that drifts from the spec fails the test."""
    import spec_check
    from openapi_core.validation.response.exceptions import InvalidData
    from service import cameras

    before = spec_check.checked["responses"]
    client = await aiohttp_client(create_app(backend, discovery_interval=0.05))
    await wait_until(lambda: client.app[FLEET].actors)
    schema = cameras._cameras
    monkeypatch.setattr(cameras, "_cameras", type("Drifted", (), {"dump": lambda self, views: [
        {**camera, "reconnects": "many"} for camera in schema.dump(views)]})())
    with pytest.raises(InvalidData):
        await client.get("/cameras/")
    monkeypatch.setattr(cameras, "_cameras", schema)
    assert (await client.get("/cameras/")).status == 200
    assert spec_check.checked["responses"] > before


async def test_every_answer_with_a_body_documents_its_content(client):
    doc = await spec(client)
    bare = [(method, path, status) for path, item in doc["paths"].items() for method, op in item.items()
            for status, response in op["responses"].items()
            if status not in ("204", "304") and "content" not in response]     # no body, by definition
    assert bare == []
