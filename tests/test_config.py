import pytest

from conftest import activate, assert_error, stream_url, wait_until
from service.inputs import FLEET


async def get_config(client, cam, stream):
    resp = await client.get(stream_url(cam, stream, "config"))
    assert resp.status == 200
    return await resp.json()


async def test_color_config_has_every_field(client, mxid):
    assert await get_config(client, mxid("oak-d"), "CAM_A") == {
        "resolution": "THE_1080_P", "still_size": [1920, 1080], "preview_size": [300, 300],
        "video_size": [1920, 1080], "sensor_crop": [0.0, 0.0], "fps": 30.0}


async def test_mono_and_depth_configs_use_the_mono_shape(client, mxid):
    assert await get_config(client, mxid("oak-d"), "CAM_B") == {"resolution": "THE_720_P", "fps": 30.0}
    assert await get_config(client, mxid("oak-d"), "DEPTH_B_C") == {"resolution": "THE_720_P", "fps": 30.0}
    # AR0234 pairs: stereo takes at most 1280 wide, scaled from the sensor's only mode, 1920x1200 (R5).
    assert (await get_config(client, mxid("oak-d-lr"), "DEPTH_B_A"))["resolution"] == "THE_800_P"


async def test_partial_update_answers_the_whole_config_and_keeps_the_rest(client, mxid):
    cam = mxid("oak-d")
    resp = await client.post(stream_url(cam, "CAM_A", "config"), json={"fps": 15, "preview_size": [640, 360]})
    assert resp.status == 200
    body = await resp.json()
    assert body == {"resolution": "THE_1080_P", "still_size": [1920, 1080], "preview_size": [640, 360],
                    "video_size": [1920, 1080], "sensor_crop": [0.0, 0.0], "fps": 15}
    assert await get_config(client, cam, "CAM_A") == body


async def test_changing_resolution_moves_full_frame_sizes_along(client, mxid):
    cam = mxid("oak-d")
    body = await (await client.post(stream_url(cam, "CAM_A", "config"), json={"resolution": "THE_4_K"})).json()
    assert body["still_size"] == [3840, 2160] and body["video_size"] == [3840, 2160]
    assert body["preview_size"] == [300, 300]


@pytest.mark.parametrize("stream, body, field, hint", [
    ("CAM_A", {"resolution": "THE_800_P"}, "resolution", "THE_4_K"),        # a colour enum IMX378 lacks
    ("CAM_A", {"resolution": "THE_12_MP", "fps": 30}, "fps", "15"),
    ("CAM_A", {"still_size": [1921, 1080]}, "still_size", "1920x1080"),
    ("CAM_A", {"video_size": [1280, 720], "still_size": [1280, 720], "sensor_crop": [0.5, 0.5]}, "sensor_crop",
     "0.3333"),
    ("CAM_B", {"resolution": "THE_1200_P"}, "resolution", "THE_400_P"),     # OV9282 has no 1200P
    ("CAM_B", {"fps": 121}, "fps", "120"),
    ("DEPTH_B_C", {"resolution": "THE_480_P"}, "resolution", "THE_800_P"),
])
async def test_what_the_sensor_cannot_do_is_422_saying_what_it_can(client, mxid, stream, body, field, hint):
    cam = mxid("oak-d")
    before = await get_config(client, cam, stream)
    error = await assert_error(await client.post(stream_url(cam, stream, "config"), json=body), 422, "not_supported")
    assert field in error["fields"] and hint in " ".join(error["fields"][field])
    assert await get_config(client, cam, stream) == before


@pytest.mark.parametrize("stream, body, field", [
    ("CAM_A", {"resolution": "THE_1080P"}, "resolution"),
    ("CAM_A", {"fps": "thirty"}, "fps"),
    ("CAM_A", {"fps": True}, "fps"),
    ("CAM_A", {"fps": 0}, "fps"),
    ("CAM_A", {"still_size": [1920]}, "still_size"),
    ("CAM_A", {"still_size": [1919.5, 1080]}, "still_size"),
    ("CAM_A", {"still_size": "1920x1080"}, "still_size"),
    ("CAM_A", {"sensor_crop": [1.5, 0]}, "sensor_crop"),
    ("CAM_A", {"exposure": 5}, "exposure"),
    ("CAM_B", {"still_size": [640, 400]}, "still_size"),   # a colour field on a mono stream
    ("CAM_B", {"resolution": "THE_1080_P"}, "resolution"),  # not in the mono enum
    ("DEPTH_B_C", {"video_size": [640, 400]}, "video_size"),
])
async def test_bad_shape_or_type_is_422_per_field_and_changes_nothing(client, mxid, stream, body, field):
    cam = mxid("oak-d")
    before = await get_config(client, cam, stream)
    error = await assert_error(await client.post(stream_url(cam, stream, "config"), json=body), 422,
                               "validation_error")
    assert field in error["fields"]
    assert await get_config(client, cam, stream) == before


async def test_config_of_an_inactive_stream_is_used_on_activation(client, backend, mxid):
    cam = mxid("oak-d")
    await client.post(stream_url(cam, "CAM_A", "config"), json={"resolution": "THE_4_K", "fps": 25})
    assert backend.device(cam).running == {}
    await activate(client, cam, "CAM_A")
    assert backend.device(cam).running["CAM_A"].config["resolution"] == "THE_4_K"
    assert backend.device(cam).running["CAM_A"].config["fps"] == 25


async def test_config_of_an_active_stream_restarts_it_with_the_new_config(client, backend, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_B")
    await client.post(stream_url(cam, "CAM_B", "config"), json={"resolution": "THE_400_P"})
    assert backend.device(cam).running["CAM_B"].config["resolution"] == "THE_400_P"


async def test_the_controls_outlive_a_config_change_that_reboots_the_camera(client, backend, mxid):
    """A resolution change rebuilds the pipeline, which on a camera reopens (reboots) it: its sensors start
    from their defaults, and the stream's controls must reach them again (R14's "IR and controls alike")."""
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_B")
    manual = {"auto_exposure_enable": False, "exposure_time": 4000, "sensitivity_iso": 800}
    assert (await client.post(stream_url(cam, "CAM_B", "control"), json=manual)).status == 200
    counts = getattr(backend.device(cam), "counts", None)             # the stand-in's board counts opens
    opens = counts["opens"] if counts is not None else None
    assert (await client.post(stream_url(cam, "CAM_B", "config"), json={"resolution": "THE_400_P"})).status == 200
    if opens is not None:
        assert counts["opens"] > opens                                   # a rebuild: the camera was reopened
    resp = await client.get(stream_url(cam, "CAM_B", "still"))
    assert resp.status == 200
    assert (resp.headers["X-Exposure-Time"], resp.headers["X-Sensitivity-ISO"]) == ("4000", "800")


async def test_depth_config_applies_to_both_sensors_of_the_pair(client, backend, mxid):
    cam = mxid("oak-d")
    await client.post(stream_url(cam, "DEPTH_B_C", "config"), json={"resolution": "THE_800_P", "fps": 60})
    await activate(client, cam, "DEPTH_B_C")
    configs = backend.device(cam).sensor_configs
    assert configs["CAM_B"] == configs["CAM_C"] == {"resolution": "THE_800_P", "fps": 60}


async def test_numbers_as_strings_and_integral_floats_are_taken(client, mxid):
    cam = mxid("oak-d")
    resp = await client.post(stream_url(cam, "CAM_A", "config"), json={"fps": "15", "still_size": [1280.0, "720"]})
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["fps"] == 15 and body["still_size"] == [1280, 720]


async def test_a_config_the_camera_refuses_fails_alone_not_the_writes_batched_with_it(client, mxid):
    """Writes queued behind a slow one are applied together; the camera refusing one of them is that write's
    422, and the others are applied and answered 200."""
    import asyncio
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_A")
    before = await get_config(client, cam, "CAM_A")
    faults = {"latency_ms": 300, "refused_fps": 12}
    assert (await client.post(f"/sim/cameras/{cam}/faults", json=faults)).status == 200
    control = stream_url(cam, "CAM_A", "control")
    first = asyncio.ensure_future(client.post(control, json={"contrast": 1}))     # holds the mailbox 300 ms
    actor = client.app[FLEET].get(cam)
    await wait_until(lambda: any(getattr(m, "changes", None) == {"contrast": 1} and not f.done()
                                 for m, f in actor._in_hand))
    answers = await asyncio.gather(client.post(control, json={"contrast": 2}),
                                   client.post(stream_url(cam, "CAM_A", "config"), json={"fps": 12}),
                                   client.post(control, json={"brightness": 4}))
    assert (await first).status == 200
    assert [a.status for a in answers] == [200, 422, 200], [await a.text() for a in answers]
    await assert_error(answers[1], 422, "not_supported")
    assert await get_config(client, cam, "CAM_A") == before
    got = await (await client.get(control)).json()
    assert (got["contrast"], got["brightness"]) == (2, 4)
