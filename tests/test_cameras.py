from conftest import assert_error, wait_until


async def test_lists_every_simulated_camera_with_distinct_mxids(client, mxid):
    resp = await client.get("/cameras/")
    assert resp.status == 200
    cameras = await resp.json()
    assert [c["name"] for c in cameras] == ["OAK-D", "OAK-1", "OAK-D-LR", "OAK-D-PRO"]
    assert len({c["mxid"] for c in cameras}) == 4
    assert all(c["state"] == "connected" and c["last_error"] is None for c in cameras)


async def test_a_repeated_model_gets_stable_distinct_mxids(aiohttp_client):
    from actors.simulated.device import SimBackend
    from service.app import create_app
    first = [d.info.mxid for d in SimBackend(["oak-d", "oak-d"]).devices]
    again = [d.info.mxid for d in SimBackend(["oak-1", "oak-d", "oak-d"]).devices][1:]
    assert first == again and first[0] != first[1]
    client = await aiohttp_client(create_app(SimBackend(["oak-d", "oak-d"])))
    assert [c["mxid"] for c in await (await client.get("/cameras")).json()] == first


async def test_camera_description_has_sensors_and_stereo_pairs(client, mxid):
    resp = await client.get(f"/cameras/{mxid('oak-d')}/")
    assert resp.status == 200
    cam = await resp.json()
    assert cam["mxid"] == mxid("oak-d") and cam["protocol"] == "usb"
    assert cam["sensors"] == [
        {"socket": "CAM_A", "sensor_name": "IMX378", "type": "color", "autofocus": True},
        {"socket": "CAM_B", "sensor_name": "OV9282", "type": "mono", "autofocus": False},
        {"socket": "CAM_C", "sensor_name": "OV9282", "type": "mono", "autofocus": False},
    ]
    assert cam["stereo_pairs"] == [{"left": "CAM_B", "right": "CAM_C", "stream": "DEPTH_B_C"}]
    assert cam["streams"] == ["CAM_A", "CAM_B", "CAM_C", "DEPTH_B_C"]


async def test_oak_d_lr_has_three_ar0234_and_three_pairs(client, mxid):
    cam = await (await client.get(f"/cameras/{mxid('oak-d-lr')}")).json()
    assert {s["sensor_name"] for s in cam["sensors"]} == {"AR0234"}
    assert [p["stream"] for p in cam["stereo_pairs"]] == ["DEPTH_B_C", "DEPTH_B_A", "DEPTH_A_C"]


async def test_unknown_camera_is_404(client):
    error = await assert_error(await client.get("/cameras/14442C10D13EABCE00/"), 404, "camera_not_found")
    assert "14442C10D13EABCE00" in error["message"]


async def test_malformed_mxid_is_422(client, mxid):
    error = await assert_error(await client.get(f"/cameras/{mxid('oak-d').lower()}/"), 422, "validation_error")
    assert "mxid" in error["fields"]


async def test_unknown_path_is_json_404(client):
    await assert_error(await client.get("/nothing/here"), 404, "not_found")


async def test_wrong_method_is_json_405(client):
    resp = await client.put("/cameras/")
    await assert_error(resp, 405, "method_not_allowed")
    assert "GET" in resp.headers["Allow"]


async def test_a_wrong_method_is_told_the_methods_its_path_has(client, mxid):
    control = f"/cameras/{mxid('oak-1')}/streams/CAM_A/control"
    for path in (control, control + "/"):
        resp = await client.put(path)
        await assert_error(resp, 405, "method_not_allowed")
        assert resp.headers["Allow"] == "GET,HEAD,POST" and resp.headers["X-Request-ID"]
    resp = await client.delete("/")
    await assert_error(resp, 405, "method_not_allowed")
    assert resp.headers["Allow"] == "GET,HEAD"
    await assert_error(await client.put(control + "/more"), 404, "not_found")


async def test_the_endless_streams_have_no_head(client, mxid):
    for path in ("/events", f"/cameras/{mxid('oak-1')}/streams/CAM_A/video"):
        resp = await client.head(path)
        assert resp.status == 405 and resp.headers["Allow"] == "GET", path
        resp = await client.patch(path)
        await assert_error(resp, 405, "method_not_allowed")
        assert resp.headers["Allow"] == "GET", path


async def test_a_wrong_method_is_a_405_on_a_path_whose_variable_spans_segments(aiohttp_client):
    """The last route counts a path's segments to find the resources that may match it; a variable with its own
    pattern may match a "/", so such a resource is always tried."""
    from aiohttp import web
    from service.app import _routes
    from service.front import front_door

    async def files(request):
        return web.json_response({"tail": request.match_info["tail"]})

    class Files:
        @staticmethod
        def add_routes(add):
            add("GET", "/files/{tail:.+}", files)
    app = web.Application()
    _routes(app, [Files], front_door([]))
    client = await aiohttp_client(app)
    assert await (await client.get("/files/a/b/c")).json() == {"tail": "a/b/c"}
    resp = await client.patch("/files/a/b/c")
    await assert_error(resp, 405, "method_not_allowed")
    assert resp.headers["Allow"] == "GET,HEAD"


async def test_refresh_looks_for_cameras_now_and_answers_the_list(aiohttp_client, backend, mxid):
    from service.app import create_app
    from service.inputs import FLEET
    client = await aiohttp_client(create_app(backend, discovery_interval=60))     # no discovery round meanwhile
    fleet, cam = client.app[FLEET], mxid("oak-1")
    actor = fleet.actors.pop(cam)             # as if it had just been plugged in
    await actor.stop()
    backend.device(cam).release()
    # A closed camera is listed again once it has rebooted (at once on the simulator).
    await wait_until(lambda: any(d.info.mxid == cam for d in backend.discover()))
    assert cam not in [c["mxid"] for c in await (await client.get("/cameras")).json()]
    resp = await client.post("/cameras/refresh")
    assert resp.status == 200 and cam in [c["mxid"] for c in await resp.json()]
    for path in ("/cameras/refresh/", "/cameras/refresh?boot=true"):
        assert (await client.post(path)).status == 200
    assert (await client.post("/cameras/refresh?boot=maybe")).status == 422
