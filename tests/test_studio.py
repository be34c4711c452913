"""Robopipe Studio's own calls, in its order, with its paths (no trailing slashes), its bodies (numbers as the
strings its range sliders give) and its origin: each answer has what Studio reads."""
import json

import aiohttp
import pytest
import simplejpeg
from aiohttp import web

import blobs
from actors.simulated.models import mxid_for
from browser import CHROMIUM, chromium, wait_for_value
from service.app import create_app
from service.inputs import FLEET
from conftest import wait_until
from timing import scaled

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


async def test_studio_runs_inference_stops_it_and_reads_every_answer_as_it_does(aiohttp_client, backend):
    """Its inference page (pages/Infere/Infere.jsx): the network's config on open and after Upload and Stop
    (null: none, and no WebSocket), its nested YOLO config, and the results as its overlay reads them."""
    client = await aiohttp_client(create_app(backend, initial_streams="sensors", cors_origins=[STUDIO]))
    await wait_until(lambda: client.app[FLEET].actors and
                     all(a.status == "connected" for a in client.app[FLEET].actors.values()))
    origin = {"Origin": STUDIO}
    mxid = next(c["mxid"] for c in await (await client.get("/cameras", headers=origin)).json() if c["name"] == "OAK-D")
    base = f"/cameras/{mxid}/streams/CAM_A"
    labels = ["bars", "star"]                                   # Studio's label config, by class index

    async def nn_config():
        resp = await client.get(f"{base}/nn", headers=origin)   # the page's useQuery "streamNn"
        assert resp.status == 200 and resp.headers["Access-Control-Allow-Origin"] == STUDIO
        return await resp.json()

    async def first_message():
        async with client.ws_connect(f"{base}/nn", headers=origin, timeout=aiohttp.ClientWSTimeout(ws_close=5)) as ws:
            message = await ws.receive(timeout=scaled(5))
        assert message.type == aiohttp.WSMsgType.TEXT, message
        return json.loads(message.data)

    assert await nn_config() is None                           # the page opens: nothing runs, no error dialog
    for model_type, model, config in (
            ("YOLO", blobs.blob(416, 416, {"side13": (1, 21, 13, 13)}),
             {"type": "YOLO", "nn_config": {"num_classes": 2, "coordinate_size": 4, "confidence_threshold": 0.5,
                                            "iou_threshold": 0.5}}),
            ("Generic", blobs.blob(64, 32, {"scores": (1, 2)}), {"type": "Generic"})):
        form = aiohttp.FormData()                               # uploadModel: model, then config as JSON
        form.add_field("model", model, filename="model.blob", content_type="application/octet-stream")
        form.add_field("config", json.dumps(config))
        resp = await client.post(f"{base}/nn", data=form, headers=origin)
        assert resp.status == 200 and resp.headers["Access-Control-Allow-Origin"] == STUDIO, await resp.text()
        running = await nn_config()                             # refetchNnConfig
        assert running["type"] == model_type
        message = await first_message()                         # openInference: ws.onmessage
        if model_type == "Generic":                             # classificationCb: argmax over the floats
            scores = message["detections"]
            assert len(scores) == 2 and all(isinstance(v, float) for v in scores)
            assert labels[max(range(len(scores)), key=scores.__getitem__)] in labels
        else:                                                   # detectionCb: colors[label], labels[label]
            shown = {f"{labels[d['label']]}: {int(d['confidence'] * 100)}%" for d in message["detections"]}
            assert shown == {"bars: 76%", "star: 91%"}
            assert all(len(d["coords"]) == 4 for d in message["detections"])
        resp = await client.delete(f"{base}/nn", headers=origin)   # stopModel
        assert resp.status == 204 and resp.headers["Access-Control-Allow-Origin"] == STUDIO
        assert await nn_config() is None                        # and the page closes its socket


# Studio's inference overlay as its page runs it (pages/Infere/Infere.jsx: classificationCb and detectionCb, the
# network's config fetched first and the results' WebSocket opened only when one runs), on a page of its own
# origin; what it writes on the canvas is recorded for the test to read.
STUDIO_INFERENCE = """<video id="video-player" style="width:640px;height:360px"></video>
<canvas id="inference-renderer"></canvas><div id="inference-text"></div><script>
window.drawn = [];
const fillText = CanvasRenderingContext2D.prototype.fillText;
CanvasRenderingContext2D.prototype.fillText = function (text, ...rest) {
  window.drawn.push(text); return fillText.call(this, text, ...rest); };
const classificationCb = (labels, elId, addLog) => ({ data }) => {
  addLog?.(data);
  const detections = JSON.parse(data).detections;
  const el = document.getElementById(elId);
  const maxDetectionIdx = detections.reduce(
    (maxIdx, detection, idx) => (detection > detections[maxIdx] ? idx : maxIdx), 0);
  el.innerText = `Class: ${labels[maxDetectionIdx]}. Confidence: ${Math.floor(detections[maxDetectionIdx] * 100)}%`;
};
const detectionCb = (labels, elId, addLog) => {
  const canvas = document.getElementById(elId);
  const videoEl = document.getElementById("video-player");
  const ctx = canvas.getContext("2d");
  const colors = Array(labels.length).fill(0).map((_, i) => `hsl(${(i * 360) / labels.length}, 100%, 50%)`);
  canvas.width = videoEl.clientWidth;
  canvas.height = videoEl.clientHeight;
  return ({ data }) => {
    addLog?.(data);
    const detections = JSON.parse(data).detections;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    detections.forEach(detection => {
      const [xMin, yMin, xMax, yMax] = detection.coords;
      const [x, y, w, h] = [xMin, yMin, xMax - xMin, yMax - yMin];
      const [canvasW, canvasH] = [canvas.width, canvas.height];
      ctx.strokeStyle = colors[detection.label];
      ctx.strokeRect(x * canvasW, y * canvasH, w * canvasW, h * canvasH);
      ctx.fillStyle = colors[detection.label];
      ctx.fillText(`${labels[detection.label]}: ${Math.floor(detection.confidence * 100)}%`, x * canvasW, y * canvasH - 5);
    });
  };
};
const labelList = ["bars", "star"];
fetch("API_URL/nn").then(r => r.json()).then(nnConfig => {
  window.nnConfig = nnConfig;
  if (!nnConfig) return;
  const ws = new WebSocket("WS_URL/nn");
  if (nnConfig.type === "Generic") ws.onmessage = classificationCb(labelList, "inference-text");
  else ws.onmessage = detectionCb(labelList, "inference-renderer");
});
</script>"""


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)")
async def test_studios_own_overlay_names_the_detections_and_the_class_in_chromium(aiohttp_client, aiohttp_server,
                                                                                    backend, tmp_path):
    page = {}

    async def inference_page(_):
        return web.Response(text=page["html"], content_type="text/html")
    studio = web.Application()
    studio.router.add_get("/", inference_page)
    origin = str((await aiohttp_server(studio)).make_url("")).rstrip("/")
    client = await aiohttp_client(create_app(backend, initial_streams="sensors", cors_origins=[origin]))
    await wait_until(lambda: client.app[FLEET].actors and
                     all(a.status == "connected" for a in client.app[FLEET].actors.values()))
    mxid = mxid_for("oak-d", 0)
    base = str(client.make_url(f"/cameras/{mxid}/streams/CAM_A")).rstrip("/")
    page["html"] = STUDIO_INFERENCE.replace("API_URL", base).replace("WS_URL", base.replace("http", "ws", 1))
    async with chromium(f"{origin}/", tmp_path / "none") as evaluate:              # nothing runs: no socket
        loaded = "'nnConfig' in window ? window.nnConfig : 'loading'"
        assert await wait_for_value(evaluate, loaded, lambda v: v != "loading") is None
    for config, model, shown, read in (
            ({"type": "MobileNet"}, blobs.blob(), {"bars: 76%", "star: 91%"}, "window.drawn.slice(-2)"),
            ({"type": "Generic"}, blobs.blob(64, 32, {"scores": (1, 2)}), "Class: bars. Confidence: 0%",
             "document.getElementById('inference-text').innerText")):
        form = aiohttp.FormData()
        form.add_field("model", model, filename="model.blob", content_type="application/octet-stream")
        form.add_field("config", json.dumps(config))
        assert (await client.post(f"/cameras/{mxid}/streams/CAM_A/nn", data=form)).status == 200
        async with chromium(f"{origin}/", tmp_path / config["type"]) as evaluate:
            got = await wait_for_value(evaluate, read, lambda v: v and (set(v) == shown if isinstance(shown, set)
                                                                        else v == shown))
        assert (set(got) if isinstance(shown, set) else got) == shown, got
