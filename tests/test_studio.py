"""Robopipe Studio's own calls, in its order, with its paths (no trailing slashes), its bodies (numbers as the
strings its range sliders give) and its origin: each answer has what Studio reads."""
import simplejpeg

from service.app import create_app
from service.inputs import FLEET
from conftest import wait_until

STUDIO = "http://studio.local:8080"


async def test_studio_loads_cameras_picks_the_active_stream_sets_controls_and_captures(aiohttp_client, backend):
    client = await aiohttp_client(create_app(backend, initial_streams="sensors", cors_origins=[STUDIO]))
    await wait_until(lambda: client.app[FLEET].actors and
                     all(a.status == "connected" for a in client.app[FLEET].actors.values()))
    origin = {"Origin": STUDIO}
    cameras = await (await client.get("/cameras", headers=origin)).json()          # CameraProvider
    mxid = cameras[0]["mxid"]
    streams = await (await client.get(f"/cameras/{mxid}/streams", headers=origin)).json()
    stream = next(s for s in streams if s["active"])["name"]                      # it never activates one
    base = f"/cameras/{mxid}/streams/{stream}"
    control = await (await client.get(f"{base}/control", headers=origin)).json()  # CameraControls
    assert {"exposure_time", "sensitivity_iso", "brightness", "contrast", "saturation", "chroma_denoise",
            "luma_denoise"} <= set(control)
    preflight = await client.options(f"{base}/control", headers={
        **origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
    assert preflight.status in (200, 204) and preflight.headers["Access-Control-Allow-Origin"] == STUDIO
    body = {"exposure_time": "5000", "sensitivity_iso": "400", "brightness": "2", "contrast": "-1",
            "saturation": "3", "chroma_denoise": "1", "luma_denoise": "2"}             # slider values
    resp = await client.post(f"{base}/control", json=body, headers=origin)
    assert resp.status == 200 and resp.headers["Access-Control-Allow-Origin"] == STUDIO
    updated = await resp.json()
    assert (updated["brightness"], updated["contrast"], updated["luma_denoise"]) == (2, -1, 2)
    still = await client.get(f"{base}/still?format=jpeg", headers=origin)          # CaptureLive
    assert still.status == 200 and still.content_type == "image/jpeg"
    assert simplejpeg.decode_jpeg(await still.read()).ndim == 3
    refreshed = await client.post("/cameras/refresh", headers=origin)             # NoCamera's Refresh
    assert refreshed.status == 200 and [c["mxid"] for c in await refreshed.json()] == [c["mxid"] for c in cameras]
