import asyncio

import numpy as np
import pytest

from conftest import activate, assert_error, mean, still_yuv, stream_url
from timing import scaled

MANUAL = {"auto_exposure_enable": False, "exposure_time": 10000, "sensitivity_iso": 400}


async def get_control(client, cam, stream):
    resp = await client.get(stream_url(cam, stream, "control"))
    assert resp.status == 200
    return await resp.json()


async def post_control(client, cam, stream, body):
    resp = await client.post(stream_url(cam, stream, "control"), json=body)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def control_once(client, cam, stream, check, timeout=3.0):
    """The control view once `check` holds for it: values read from frames show from the next frame on."""
    deadline = asyncio.get_running_loop().time() + scaled(timeout)
    while True:
        body = await (await client.get(stream_url(cam, stream, "control"))).json()
        if check(body) or asyncio.get_running_loop().time() > deadline:
            return body
        await asyncio.sleep(0.02)


async def test_control_has_every_field_and_focus_only_with_autofocus(client, mxid):
    color = await get_control(client, mxid("oak-d"), "CAM_A")
    assert set(color) == {"exposure_time", "sensitivity_iso", "auto_exposure_enable", "auto_exposure_compensation",
                          "auto_exposure_limit", "auto_exposure_lock", "contrast", "brightness", "saturation",
                          "chroma_denoise", "luma_denoise", "auto_whitebalance_lock", "auto_whitebalance_mode",
                          "manual_whitebalance", "focus"}
    assert color["auto_whitebalance_mode"] == "AUTO"
    assert color["focus"] == {"auto_focus_mode": "CONTINUOUS_VIDEO", "auto_focus_trigger": False,
                              "lens_position": 0.0}
    assert (await get_control(client, mxid("oak-d"), "CAM_B"))["focus"] is None
    assert (await get_control(client, mxid("oak-d-lr"), "CAM_A"))["focus"] is None


async def test_partial_update_answers_the_whole_control(client, mxid):
    cam = mxid("oak-d")
    before = await get_control(client, cam, "CAM_A")
    body = await post_control(client, cam, "CAM_A", {"contrast": -4, "focus": {"lens_position": 0.25}})
    assert body == {**before, "contrast": -4, "focus": {**before["focus"], "lens_position": 0.25}}
    assert await get_control(client, cam, "CAM_A") == body


@pytest.mark.parametrize("body, field", [
    ({"exposure_time": 0}, "exposure_time"), ({"exposure_time": 33001}, "exposure_time"),
    ({"exposure_time": "5.5"}, "exposure_time"), ({"exposure_time": 5.5}, "exposure_time"),
    ({"exposure_time": "five"}, "exposure_time"), ({"exposure_time": "NaN"}, "exposure_time"),
    ({"exposure_time": "0"}, "exposure_time"),
    ({"exposure_time": True}, "exposure_time"), ({"sensitivity_iso": 99}, "sensitivity_iso"),
    ({"sensitivity_iso": 5001}, "sensitivity_iso"), ({"auto_exposure_enable": 2}, "auto_exposure_enable"),
    ({"auto_exposure_enable": "maybe"}, "auto_exposure_enable"), ({"contrast": True}, "contrast"),
    ({"auto_exposure_compensation": -10}, "auto_exposure_compensation"),
    ({"auto_exposure_limit": -1}, "auto_exposure_limit"), ({"contrast": 11}, "contrast"),
    ({"brightness": -11}, "brightness"), ({"saturation": None}, "saturation"), ({"chroma_denoise": 5}, "chroma_denoise"),
    ({"luma_denoise": -1}, "luma_denoise"), ({"auto_whitebalance_mode": "auto"}, "auto_whitebalance_mode"),
    ({"manual_whitebalance": 999}, "manual_whitebalance"), ({"manual_whitebalance": 12001}, "manual_whitebalance"),
    ({"focus": {"lens_position": 1.5}}, "focus"), ({"focus": {"auto_focus_mode": "FAST"}}, "focus"),
    ({"focus": {"auto_focus_trigger": 3}}, "focus"), ({"focus": {"zoom": 1}}, "focus"), ({"focus": 3}, "focus"),
    ({"shutter": 5}, "shutter"),
])
async def test_bad_values_are_422_per_field_and_change_nothing(client, mxid, body, field):
    cam = mxid("oak-d")
    before = await get_control(client, cam, "CAM_A")
    error = await assert_error(await client.post(stream_url(cam, "CAM_A", "control"), json=body), 422,
                               "validation_error")
    assert field in error["fields"]
    assert await get_control(client, cam, "CAM_A") == before


async def test_focus_on_a_fixed_focus_sensor_is_422(client, mxid):
    cam = mxid("oak-d")
    error = await assert_error(await client.post(stream_url(cam, "CAM_B", "control"),
                                                 json={"focus": {"lens_position": 0.5}}), 422, "not_supported")
    assert "fixed-focus" in error["fields"]["focus"][0]
    assert (await post_control(client, cam, "CAM_B", {"focus": None}))["focus"] is None
    await assert_error(await client.post(stream_url(cam, "CAM_A", "control"), json={"focus": None}), 422)


async def test_control_of_an_active_stream_reaches_the_sensor_at_once(client, backend, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_A")
    await post_control(client, cam, "CAM_A", {"saturation": 7})
    assert backend.device(cam).sensor_controls["CAM_A"]["saturation"] == 7


async def test_control_of_an_inactive_stream_is_kept_and_applied_on_activation(client, backend, mxid):
    cam = mxid("oak-d")
    await post_control(client, cam, "CAM_A", {"brightness": 5})
    assert "CAM_A" not in backend.device(cam).sensor_controls
    await activate(client, cam, "CAM_A")
    assert backend.device(cam).sensor_controls["CAM_A"]["brightness"] == 5
    assert (await get_control(client, cam, "CAM_A"))["brightness"] == 5


async def test_depth_control_reaches_both_sensors(client, backend, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "DEPTH_B_C")
    await post_control(client, cam, "DEPTH_B_C", {**MANUAL, "exposure_time": 2000})
    sensors = backend.device(cam).sensor_controls
    assert sensors["CAM_B"]["exposure_time"] == sensors["CAM_C"]["exposure_time"] == 2000


async def test_auto_exposure_reports_what_the_latest_frame_used(client, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_A")
    await post_control(client, cam, "CAM_A", {"auto_exposure_enable": True, "exposure_time": 123,
                                              "auto_exposure_limit": 2000})
    body = await control_once(client, cam, "CAM_A", lambda b: b["exposure_time"] == 2000)
    assert body["exposure_time"] == 2000          # the frame's, limited; not the 123 posted
    assert body["sensitivity_iso"] == 2000       # auto exposure raised the gain instead
    body = await post_control(client, cam, "CAM_A", {"auto_exposure_enable": False})
    assert body["exposure_time"] == 123           # the manual value was kept


async def test_white_balance_reports_the_colour_temperature_in_use(client, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_A")
    await post_control(client, cam, "CAM_A", {"auto_whitebalance_mode": "INCANDESCENT", "manual_whitebalance": 9000})
    body = await control_once(client, cam, "CAM_A", lambda b: b["manual_whitebalance"] == 2850)
    assert body["manual_whitebalance"] == 2850
    body = await post_control(client, cam, "CAM_A", {"auto_whitebalance_mode": "OFF"})
    assert body["manual_whitebalance"] == 9000


async def test_lower_exposure_gives_a_darker_still(client, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_A")
    await post_control(client, cam, "CAM_A", MANUAL)
    normal = mean(await still_yuv(client, cam, "CAM_A"))
    await post_control(client, cam, "CAM_A", {"exposure_time": 2500})
    dark = mean(await still_yuv(client, cam, "CAM_A"))
    await post_control(client, cam, "CAM_A", {"sensitivity_iso": 1600})
    bright = mean(await still_yuv(client, cam, "CAM_A"))
    assert dark < normal * 0.5 and bright > dark * 2


async def test_saturation_and_white_balance_change_colour(client, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_A")

    async def spread():
        rgb = (await still_yuv(client, cam, "CAM_A")).astype(float)
        return rgb.std(axis=2).mean(), rgb[..., 2].mean() - rgb[..., 0].mean()   # colourfulness, blue - red
    colour, tint = await spread()
    await post_control(client, cam, "CAM_A", {"saturation": -10})
    grey, _ = await spread()
    await post_control(client, cam, "CAM_A", {"saturation": 0, "auto_whitebalance_mode": "INCANDESCENT"})
    _, blue = await spread()
    assert grey < colour * 0.2 and blue > tint + 20


async def test_contrast_and_brightness_change_the_picture(client, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_B")
    await post_control(client, cam, "CAM_B", MANUAL)
    base = await still_yuv(client, cam, "CAM_B")
    await post_control(client, cam, "CAM_B", {"contrast": 10})
    assert np.std(await still_yuv(client, cam, "CAM_B")) > np.std(base) * 1.3
    await post_control(client, cam, "CAM_B", {"contrast": 0, "brightness": 10})
    assert mean(await still_yuv(client, cam, "CAM_B")) > mean(base) + 30


async def test_concurrent_updates_leave_the_last_acknowledged_state(client, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_A")

    async def update(value):
        resp = await client.post(stream_url(cam, "CAM_A", "control"),
                                 json={**MANUAL, "exposure_time": value, "contrast": value % 21 - 10})
        return resp.status, int(resp.headers.get("X-State-Revision", -1)), await resp.json()
    results = await asyncio.gather(*(update(v) for v in range(100, 200)))
    assert all(status == 200 for status, _, _ in results)
    revisions = [r for _, r, _ in results]
    assert len(set(revisions)) == 100                    # each update is its own step, in order
    last = max(results, key=lambda r: r[1])[2]
    resp = await client.get(stream_url(cam, "CAM_A", "control"))
    assert await resp.json() == last
    assert int(resp.headers["X-State-Revision"]) == max(revisions)
    # Each reply holds its own value: replies were not mixed up between requests.
    assert sorted(body["exposure_time"] for _, _, body in results) == list(range(100, 200))


@pytest.mark.parametrize("body, expected", [
    ({"exposure_time": "5000"}, {"exposure_time": 5000}), ({"exposure_time": 5000.0}, {"exposure_time": 5000}),
    ({"exposure_time": "5000.0"}, {"exposure_time": 5000}), ({"contrast": "-3"}, {"contrast": -3}),
    ({"auto_exposure_enable": "false"}, {"auto_exposure_enable": False}),
    ({"auto_exposure_enable": 0}, {"auto_exposure_enable": False}),
    ({"auto_whitebalance_lock": "on"}, {"auto_whitebalance_lock": True}),
    ({"focus": {"lens_position": "0.5"}}, {"focus": {"lens_position": 0.5}}),
])
async def test_numbers_and_booleans_as_the_original_api_took_them(client, mxid, body, expected):
    cam = mxid("oak-d")
    answer = await post_control(client, cam, "CAM_A", body)
    for key, value in expected.items():
        got = answer[key] if not isinstance(value, dict) else {k: answer[key][k] for k in value}
        assert got == value and type(got) is type(value)
