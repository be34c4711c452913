import pytest

from conftest import activate, assert_error, stream_url


async def streams(client, mxid):
    resp = await client.get(f"/cameras/{mxid}/streams/")
    assert resp.status == 200
    return {s["name"]: s["active"] for s in await resp.json()}


@pytest.mark.parametrize("model, names", [
    ("oak-d", ["CAM_A", "CAM_B", "CAM_C", "DEPTH_B_C"]),
    ("oak-1", ["CAM_A"]),
    ("oak-d-lr", ["CAM_A", "CAM_B", "CAM_C", "DEPTH_B_C", "DEPTH_B_A", "DEPTH_A_C"]),
])
async def test_lists_the_streams_the_camera_has_all_inactive(client, mxid, model, names):
    resp = await client.get(f"/cameras/{mxid(model)}/streams/")
    assert await resp.json() == [{"name": n, "active": False} for n in names]


async def test_list_works_without_trailing_slash(client, mxid):
    resp = await client.get(f"/cameras/{mxid('oak-1')}/streams", allow_redirects=False)
    assert resp.status == 200 and await resp.json() == [{"name": "CAM_A", "active": False}]


async def test_activate_and_deactivate_are_idempotent(client, mxid):
    cam = mxid("oak-d")
    for _ in range(2):
        resp = await client.post(stream_url(cam, "CAM_A"))
        assert resp.status == 204 and await resp.read() == b""
    assert (await streams(client, cam))["CAM_A"] is True
    for _ in range(2):
        assert (await client.delete(stream_url(cam, "CAM_A"))).status == 204
    assert (await streams(client, cam))["CAM_A"] is False


async def test_paths_without_trailing_slash_do_not_redirect(client, mxid):
    cam = mxid("oak-d")
    resp = await client.post(f"/cameras/{cam}/streams/CAM_B", allow_redirects=False)
    assert resp.status == 204
    assert (await client.get(stream_url(cam, "CAM_B", "config/"), allow_redirects=False)).status == 200
    resp = await client.post(stream_url(cam, "CAM_B", "control/"), json={"contrast": 3}, allow_redirects=False)
    assert resp.status == 200 and (await resp.json())["contrast"] == 3


async def test_activation_reaches_the_device(client, backend, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_A")
    assert set(backend.device(cam).running) == {"CAM_A"}
    await client.delete(stream_url(cam, "CAM_A"))
    assert backend.device(cam).running == {}


async def test_depth_activation_turns_its_sensor_streams_off_and_back(client, backend, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_A")
    await activate(client, cam, "CAM_B")
    await activate(client, cam, "CAM_C")
    await activate(client, cam, "DEPTH_B_C")
    assert await streams(client, cam) == {"CAM_A": True, "CAM_B": False, "CAM_C": False, "DEPTH_B_C": True}
    assert set(backend.device(cam).running) == {"CAM_A", "DEPTH_B_C"}
    await activate(client, cam, "CAM_B")
    assert await streams(client, cam) == {"CAM_A": True, "CAM_B": True, "CAM_C": False, "DEPTH_B_C": False}
    assert set(backend.device(cam).running) == {"CAM_A", "CAM_B"}


async def test_pairs_sharing_a_sensor_exclude_each_other(client, mxid):
    cam = mxid("oak-d-lr")
    await activate(client, cam, "DEPTH_B_C")
    await activate(client, cam, "DEPTH_A_C")      # shares CAM_C
    state = await streams(client, cam)
    assert state["DEPTH_A_C"] and not state["DEPTH_B_C"]
    await activate(client, cam, "DEPTH_B_A")      # shares CAM_A with DEPTH_A_C
    state = await streams(client, cam)
    assert [n for n, active in state.items() if active] == ["DEPTH_B_A"]
    await activate(client, cam, "CAM_C")          # shares nothing with B-A
    assert [n for n, active in (await streams(client, cam)).items() if active] == ["CAM_C", "DEPTH_B_A"]


@pytest.mark.parametrize("model, stream", [("oak-1", "CAM_H"), ("oak-1", "CAM_B"), ("oak-d", "DEPTH_B_B"),
                                           ("oak-d", "DEPTH_C_B"), ("oak-d-lr", "DEPTH_A_B")])
@pytest.mark.parametrize("method, tail", [("POST", ""), ("DELETE", ""), ("GET", "config"), ("POST", "config"),
                                          ("GET", "control"), ("POST", "control"), ("GET", "still")])
async def test_a_stream_the_camera_lacks_is_404_listing_its_streams(client, mxid, model, stream, method, tail):
    before = await streams(client, mxid(model))
    resp = await client.request(method, stream_url(mxid(model), stream, tail), json={})
    error = await assert_error(resp, 404, "stream_not_found")
    assert all(name in error["message"] for name in before)
    assert await streams(client, mxid(model)) == before


@pytest.mark.parametrize("stream", ["cam_a", "CAM_I", "DEPTH_B", "CAM_AA", "DEPTH_B_C_D", "X"])
async def test_a_malformed_stream_name_is_422(client, mxid, stream):
    error = await assert_error(await client.post(stream_url(mxid("oak-d"), stream)), 422, "validation_error")
    assert "stream_name" in error["fields"]


async def test_unknown_camera_is_404_on_stream_paths(client):
    await assert_error(await client.post(stream_url("ABC123", "CAM_A")), 404, "camera_not_found")
    await assert_error(await client.get("/cameras/ABC123/streams/"), 404, "camera_not_found")
