"""Every control acts on the picture as on a sensor: focus, ISO noise and denoise, the auto exposure and white
balance locks. Measured in the pixels of lossless stills, on both backends."""
import io

import numpy as np
from PIL import Image

from conftest import activate, stream_url

STAR = (slice(700, 820), slice(880, 1040))        # inside the Siemens star of a 1920x1080 frame
WHITE_BAR = (slice(60, 380), slice(30, 240))      # flat: the first colour bar
SAME_BRIGHTNESS = [(200, 20000), (3200, 1250)]    # ISO x exposure as the scene's neutral 400 x 10000 µs


async def control(client, cam, body, stream="CAM_A"):
    resp = await client.post(stream_url(cam, stream, "control"), json=body)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def still_ycbcr(client, cam, stream="CAM_A") -> np.ndarray:
    """A PNG still (lossless, so sensor noise survives) as float Y, Cb, Cr."""
    resp = await client.get(stream_url(cam, stream, "still"), params={"format": "png"})
    assert resp.status == 200, await resp.text()
    image = Image.open(io.BytesIO(await resp.read()))
    return np.asarray(image.convert("YCbCr"), dtype=np.float64)


def sharpness(ycc) -> float:
    luma = ycc[STAR + (0,)]
    return float(np.abs(np.diff(luma, axis=1)).mean())


async def test_focus_blurs_the_card_by_the_lens_distance_from_focus_and_autofocus_finds_it(client, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_A")
    found = sharpness(await still_ycbcr(client, cam))            # continuous autofocus, the default
    measured = {}
    for lens in (0.35, 0.0, 1.0):
        await control(client, cam, {"focus": {"auto_focus_mode": "OFF", "lens_position": lens}})
        measured[lens] = sharpness(await still_ycbcr(client, cam))
    assert measured[0.35] > 2 * measured[0.0] > 2 * measured[1.0], measured    # farther from focus: softer
    assert abs(found - measured[0.35]) < 0.1 * found
    await control(client, cam, {"focus": {"auto_focus_mode": "AUTO", "auto_focus_trigger": True}})
    assert sharpness(await still_ycbcr(client, cam)) > 0.9 * found


async def test_noise_grows_with_iso_and_denoise_reduces_it(client, mxid):
    cam = mxid("oak-1")
    await activate(client, cam, "CAM_A")
    noise = {}
    for iso, exposure in SAME_BRIGHTNESS:
        await control(client, cam, {"auto_exposure_enable": False, "sensitivity_iso": iso, "exposure_time": exposure})
        noise[iso] = (await still_ycbcr(client, cam))[WHITE_BAR].std(axis=(0, 1))
    assert noise[3200][0] > 5 * noise[200][0] and noise[3200][1] > 3 * noise[200][1], noise
    await control(client, cam, {"luma_denoise": 4})
    denoised = (await still_ycbcr(client, cam))[WHITE_BAR].std(axis=(0, 1))
    assert denoised[0] < noise[3200][0] / 3 and abs(denoised[1] - noise[3200][1]) < 0.2 * noise[3200][1]
    await control(client, cam, {"chroma_denoise": 4})
    both = (await still_ycbcr(client, cam))[WHITE_BAR].std(axis=(0, 1))
    assert both[1] < noise[3200][1] / 2 and both[2] < noise[3200][2] / 2


async def test_the_auto_exposure_lock_holds_exposure_where_it_is(client, mxid):
    cam = mxid("oak-1")
    await activate(client, cam, "CAM_A")
    before = (await still_ycbcr(client, cam))[..., 0].mean()
    held = await control(client, cam, {"auto_exposure_lock": True})
    await control(client, cam, {"auto_exposure_compensation": 6})
    locked = await still_ycbcr(client, cam)
    assert abs(locked[..., 0].mean() - before) < 1
    now = await (await client.get(stream_url(cam, "CAM_A", "control"))).json()
    assert (now["exposure_time"], now["sensitivity_iso"]) == (held["exposure_time"], held["sensitivity_iso"])
    await control(client, cam, {"auto_exposure_lock": False})
    assert (await still_ycbcr(client, cam))[..., 0].mean() > before + 10          # the +6 takes effect


async def test_the_white_balance_lock_holds_the_colour_temperature(client, mxid):
    cam = mxid("oak-1")
    await activate(client, cam, "CAM_A")
    before = (await still_ycbcr(client, cam))[..., 1].mean()
    await control(client, cam, {"auto_whitebalance_lock": True})
    await control(client, cam, {"auto_whitebalance_mode": "INCANDESCENT"})
    assert abs((await still_ycbcr(client, cam))[..., 1].mean() - before) < 0.5
    await control(client, cam, {"auto_whitebalance_lock": False})
    assert (await still_ycbcr(client, cam))[..., 1].mean() > before + 5         # warm light assumed: bluer
