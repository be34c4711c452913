"""Neural networks on streams: deploy, results over a WebSocket that line up with the picture, removal, refusal of
what is not a model, and persistence across reconnects and restarts."""
import io
import json

import aiohttp
import numpy as np
import pytest
from aiohttp import WSMsgType
from PIL import Image

import actors.nn
import blobs
from actors.nn import MAX_OUTPUTS, MAX_RESULT_BYTES, MAX_RESULT_VALUES
from conftest import activate, assert_error, device_timeout, stream_url, wait_until
from service.app import create_app
from service.inputs import FLEET
from actors.fanout import WAITING, Latest
from timing import scaled

MOBILENET = {"type": "MobileNet", "confidence_threshold": 0.5, "labels": ["bars", "star"]}


def upload(model: bytes, config, filename="model.blob") -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("model", model, filename=filename, content_type="application/octet-stream")
    if config is not None:
        form.add_field("config", config if isinstance(config, str) else json.dumps(config))
    return form


async def deploy(client, cam, stream, model=None, config=MOBILENET, status=200):
    resp = await client.post(stream_url(cam, stream, "nn"), data=upload(model or blobs.blob(), config))
    assert resp.status == status, await resp.text()
    return await resp.json()


async def results(client, cam, stream, count=1) -> list[dict]:
    """The next `count` messages of the stream's network."""
    got = []
    async with client.ws_connect(stream_url(cam, stream, "nn"), timeout=aiohttp.ClientWSTimeout(ws_close=5)) as ws:
        while len(got) < count:
            message = await ws.receive(timeout=scaled(5))
            assert message.type == WSMsgType.TEXT, message
            got.append(json.loads(message.data))
    return got


async def close_of(ws) -> tuple[int, str]:
    """The code and reason the socket closes with, after the results still on their way."""
    message = await ws.receive(timeout=scaled(5))
    while message.type == WSMsgType.TEXT:
        message = await ws.receive(timeout=scaled(5))
    assert message.type == WSMsgType.CLOSE, message
    return message.data, message.extra


def extent(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return xs.min(), ys.min(), xs.max() + 1, ys.max() + 1


async def test_a_detection_network_reports_what_the_picture_shows(client, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_A")
    body = await deploy(client, cam, "CAM_A")
    model = body["model"]
    assert body["config"]["type"] == "MobileNet" and body["config"]["labels"] == ["bars", "star"]
    assert model["format"] == "blob" and model["input"] == [300, 300] and model["filename"] == "model.blob"
    assert model["outputs"] == {"detection_out": [1, 1, 100, 7]} and len(model["sha256"]) == 64
    # The original API's NNConfig at the top level, beside the config as kept.
    assert (body["type"], body["num_inference_threads"], body["nn_config"]) == ("MobileNet", 2,
                                                                                 {"confidence_threshold": 0.5})
    assert (await (await client.get(stream_url(cam, "CAM_A", "nn"))).json()) == body

    first, second = await results(client, cam, "CAM_A", 2)
    assert second["sequence"] > first["sequence"] and second["timestamp"] > first["timestamp"]
    found = {d["label_name"]: d for d in second["detections"]}
    assert set(found) == {"bars", "star"}
    # label is the class index, as the original API sends it (a client indexes its labels with it).
    assert (found["bars"]["label"], found["star"]["label"], found["star"]["class_id"]) == (0, 1, 1)
    assert all(0.5 <= d["confidence"] <= 1 for d in found.values())
    # The network sees what the preview of its shape shows: the star's dark wedges in the preview (below the
    # colour bars, above the grey ramp) lie where its box says, within a few pixels.
    await client.post(stream_url(cam, "CAM_A", "config"), json={"preview_size": [300, 300]})
    resp = await client.get(stream_url(cam, "CAM_A", "preview"))
    luma = np.asarray(Image.open(io.BytesIO(await resp.read())).convert("L")).astype(int)
    band = slice(int(300 * 0.42), int(300 * 0.9))
    x0, y0, x1, _ = extent(luma[band] < 60)
    xmin, ymin, xmax, _ = (v * 300 for v in found["star"]["coords"])
    assert abs(xmin - x0) <= 4 and abs(xmax - x1) <= 4, (found["star"]["coords"], x0, x1)
    assert abs(ymin - (y0 + band.start)) <= 4
    # frame_coords place it on the whole frame, as the video and the still show it.
    still = await client.get(stream_url(cam, "CAM_A", "still"))
    luma = np.asarray(Image.open(io.BytesIO(await still.read())).convert("L")).astype(int)
    assert luma.shape == (1080, 1920)
    band = slice(int(1080 * 0.42), int(1080 * 0.9))
    x0, y0, x1, _ = extent(luma[band] < 60)
    xmin, ymin, xmax, _ = (v * n for v, n in zip(found["star"]["frame_coords"], (1920, 1080, 1920, 1080)))
    assert abs(xmin - x0) <= 8 and abs(xmax - x1) <= 8 and abs(ymin - (y0 + band.start)) <= 8, found["star"]


async def test_on_a_depth_stream_detections_carry_millimetres(client, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "DEPTH_B_C")
    await deploy(client, cam, "DEPTH_B_C", config={"type": "MobileNet", "labels": ["ball", "box"]})
    [message] = await results(client, cam, "DEPTH_B_C")
    found = {d["label_name"]: d for d in message["detections"]}
    assert set(found) == {"ball", "box"} and (found["ball"]["label"], found["box"]["label"]) == (0, 1)
    ball, box = found["ball"]["spatial_coords"], found["box"]["spatial_coords"]
    assert ball["z"] == pytest.approx(900, abs=20) and box["z"] == pytest.approx(2200, abs=20)
    assert ball["x"] < 0 < box["x"]                          # left of the optical axis, and right of it
    # The ball's box is where the depth still has it: the network sees the frame's centre square.
    resp = await client.get(stream_url(cam, "DEPTH_B_C", "still"), params={"format": "png", "depth_mm": "true"})
    depth = np.asarray(Image.open(io.BytesIO(await resp.read())))
    x0, y0, x1, y1 = extent(depth == 900)
    height, width = depth.shape
    scale = 300 / height
    left = (width * scale - 300) / 2
    xmin, ymin, xmax, ymax = ((c * 300 + (left if i % 2 == 0 else 0)) / scale
                              for i, c in enumerate(found["ball"]["coords"]))
    for got, want in ((xmin, x0), (ymin, y0), (xmax, x1), (ymax, y1)):
        assert abs(got - want) <= 6, (found["ball"]["coords"], (x0, y0, x1, y1))


async def test_a_generic_network_sends_its_output_tensors(client, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_B")
    outputs = {"scores": (1, 10), "vector": (1, 4)}           # the model's first output (by name) is scores
    body = await deploy(client, cam, "CAM_B", model=blobs.blob(64, 32, outputs), config={"type": "Generic"})
    assert body["model"]["input"] == [64, 32]
    assert (body["type"], body["nn_config"]) == ("Generic", None)
    [message] = await results(client, cam, "CAM_B")
    assert message["outputs"]["scores"]["shape"] == [1, 10] and len(message["outputs"]["scores"]["data"]) == 10
    assert message["outputs"]["vector"] == {"shape": [1, 4], "data": [0.0] * 4}
    # As the original API sent it: the first output layer's values, flat.
    assert message["detections"] == [0.0] * 10


async def test_an_nn_archive_is_taken_as_the_blob_it_holds(client, mxid):
    cam = mxid("oak-1")
    await activate(client, cam, "CAM_A")
    body = await deploy(client, cam, "CAM_A", model=blobs.archive())
    assert body["model"]["format"] == "nn_archive" and body["model"]["input"] == [300, 300]
    [message] = await results(client, cam, "CAM_A")
    assert {d["label_name"] for d in message["detections"]} == {"bars", "star"}


async def test_what_is_not_a_model_is_refused_and_changes_nothing(client, mxid, state_dir, monkeypatch):
    cam = mxid("oak-d")
    url = stream_url(cam, "CAM_A", "nn")
    cases = [
        (upload(b"\x7fELF not a network" * 20, MOBILENET), "model", "not an OpenVINO blob"),
        (upload(blobs.blob(), {"type": "YOLO"}), "config", "num_classes"),
        (upload(blobs.blob(), {"type": "Transformer"}), "config", "type"),
        (upload(blobs.blob(), "{not json"), "config", "JSON"),
        (upload(blobs.blob(), None), "config", "Missing"),
        (upload(blobs.blob(416, 416, blobs.YOLO_OUT), MOBILENET), "model", "[..., N, 7]"),
        (upload(blobs.blob(), {"type": "YOLO", "num_classes": 80}), "num_classes", "channels"),
    ]
    for form, field, words in cases:
        error = await assert_error(await client.post(url, data=form), 422)
        assert words in json.dumps(error["fields"]), error
    await assert_error(await client.post(url, json=MOBILENET), 422, "validation_error")
    boundary = "0d37f771f3609e9baf6be26654101f5f"
    await assert_error(await client.post(url, data=f"--{boundary}\r\nTrue--{boundary}--\r\n".encode(), headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}"}), 422, "invalid_multipart")
    monkeypatch.setattr(actors.nn, "MAX_MODEL_BYTES", 1000)
    await assert_error(await client.post(url, data=upload(blobs.blob() + bytes(2000), MOBILENET)), 413)
    resp = await client.get(url)
    assert resp.status == 200 and await resp.json() is None
    assert [p.name for p in (state_dir / "models").iterdir()] == []          # no file is left behind


async def test_removal_ends_the_results_and_is_idempotent(client, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_A")
    await deploy(client, cam, "CAM_A")
    async with client.ws_connect(stream_url(cam, "CAM_A", "nn")) as ws:
        assert (await ws.receive(timeout=scaled(5))).type == WSMsgType.TEXT
        for _ in range(2):
            resp = await client.delete(stream_url(cam, "CAM_A", "nn"))
            assert resp.status == 204 and "X-State-Revision" in resp.headers
        assert await close_of(ws) == (1000, "network removed")
    resp = await client.get(stream_url(cam, "CAM_A", "nn"))          # no network: null, as the original API
    assert resp.status == 200 and await resp.json() is None
    # The stream itself goes on.
    assert (await client.get(stream_url(cam, "CAM_A", "still"))).status == 200


async def test_the_websocket_needs_a_network_and_an_active_stream(client, mxid):
    cam = mxid("oak-d")
    await assert_error(await client.get(stream_url(cam, "CAM_A", "nn"), headers={
        "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}), 409, "no_nn")
    await deploy(client, cam, "CAM_A")               # kept for the inactive stream
    await assert_error(await client.get(stream_url(cam, "CAM_A", "nn"), headers={
        "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}), 409, "stream_inactive")
    await activate(client, cam, "CAM_A")
    [message] = await results(client, cam, "CAM_A")
    assert message["detections"]


async def test_the_network_returns_after_a_reconnect_and_a_restart(aiohttp_client, make_backend, mxid, state_dir):
    backend = make_backend(["oak-d"])
    cam = mxid("oak-d")
    app = create_app(backend, state_dir=state_dir, device_timeout=device_timeout(backend), max_backoff=0.1,
                     discovery_interval=0.05)
    client = await aiohttp_client(app)
    await wait_until(lambda: client.app[FLEET].get(cam) is not None and client.app[FLEET].get(cam).status == "connected")
    await activate(client, cam, "CAM_A")
    body = await deploy(client, cam, "CAM_A")
    await client.post(f"/sim/cameras/{cam}/unplug")
    await wait_until(lambda: client.app[FLEET].get(cam).status == "disconnected")
    await client.post(f"/sim/cameras/{cam}/replug")
    await wait_until(lambda: client.app[FLEET].get(cam).status == "connected")
    assert (await results(client, cam, "CAM_A"))[0]["detections"]
    await client.close()
    partial = state_dir / "models" / ".upload-1-2"
    partial.write_bytes(b"an upload a kill cut short")
    replaced = state_dir / "models" / ("0" * 64)          # a network no state refers to any more
    replaced.write_bytes(blobs.blob())

    backend = make_backend(["oak-d"])
    client = await aiohttp_client(create_app(backend, state_dir=state_dir, device_timeout=device_timeout(backend),
                                             max_backoff=0.1, discovery_interval=0.05))
    assert not partial.exists() and not replaced.exists()
    assert [p.name for p in (state_dir / "models").iterdir()] == [body["model"]["sha256"]]
    await wait_until(lambda: client.app[FLEET].get(cam) is not None and client.app[FLEET].get(cam).status == "connected")
    assert (await (await client.get(stream_url(cam, "CAM_A", "nn"))).json()) == body
    assert {d["label_name"] for d in (await results(client, cam, "CAM_A"))[0]["detections"]} == {"bars", "star"}


async def test_the_confidence_threshold_drops_weaker_detections(client, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_A")
    await deploy(client, cam, "CAM_A", config={**MOBILENET, "confidence_threshold": 0.8})
    [message] = await results(client, cam, "CAM_A")
    assert [d["label_name"] for d in message["detections"]] == ["star"]          # the bars score 0.76
    assert all(d["confidence"] >= 0.8 for d in message["detections"])


async def test_deactivating_the_stream_ends_its_results(client, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_A")
    await deploy(client, cam, "CAM_A")
    async with client.ws_connect(stream_url(cam, "CAM_A", "nn")) as ws:
        assert (await ws.receive(timeout=scaled(5))).type == WSMsgType.TEXT
        assert (await client.delete(stream_url(cam, "CAM_A"))).status == 204
        assert await close_of(ws) == (1000, "stream deactivated")
    # The network stays deployed, and runs again when the stream does.
    await activate(client, cam, "CAM_A")
    assert (await results(client, cam, "CAM_A"))[0]["detections"]


async def test_the_results_wait_out_a_lost_camera_and_go_on(client, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_A")
    await deploy(client, cam, "CAM_A")
    async with client.ws_connect(stream_url(cam, "CAM_A", "nn")) as ws:
        first = json.loads((await ws.receive(timeout=scaled(5))).data)
        await client.post(f"/sim/cameras/{cam}/unplug")
        await wait_until(lambda: client.app[FLEET].get(cam).status == "disconnected")
        await client.post(f"/sim/cameras/{cam}/replug")
        await wait_until(lambda: client.app[FLEET].get(cam).status == "connected")
        message = await ws.receive(timeout=scaled(10))
        while message.type == WSMsgType.TEXT and json.loads(message.data)["timestamp"] <= first["timestamp"]:
            message = await ws.receive(timeout=scaled(10))
        assert message.type == WSMsgType.TEXT, message          # the same socket, from the reopened camera
        assert {d["label_name"] for d in json.loads(message.data)["detections"]} == {"bars", "star"}


async def test_a_slow_watcher_gets_the_latest_result_only():
    watcher = Latest[str]()
    for text in ("1", "2", "3"):               # results that came while the client was busy sending
        watcher.offer(text)
    assert await watcher.next(1.0) == "3"
    assert await watcher.next(0.05) is WAITING    # nothing queued behind it


async def test_outputs_beyond_the_limits_are_refused_and_a_message_stays_within_its_size(client, mxid):
    cam = mxid("oak-d")
    url = stream_url(cam, "CAM_B", "nn")
    for outputs, words in (({"huge": (65535, 65535, 65535, 65535)}, "at most"),
                           ({f"o{i}": (1, 4) for i in range(MAX_OUTPUTS + 1)}, f"at most {MAX_OUTPUTS}")):
        error = await assert_error(await client.post(url, data=upload(blobs.blob(64, 32, outputs),
                                                                      {"type": "Generic"})), 422)
        assert words in error["fields"]["model"][0], error
    await activate(client, cam, "CAM_B")
    layers = {f"layer{i:02}": (1, 65536) for i in range(MAX_OUTPUTS)}       # 4 M values declared in all
    await deploy(client, cam, "CAM_B", model=blobs.blob(64, 32, layers), config={"type": "Generic"})
    async with client.ws_connect(url, max_msg_size=0) as ws:
        message = await ws.receive(timeout=scaled(10))
    assert message.type == WSMsgType.TEXT and len(message.data) <= MAX_RESULT_BYTES
    body = json.loads(message.data)
    outputs = body["outputs"]
    # The first layer fills the budget as `detections`; the layers by name get what is left: nothing.
    assert body["detections"] == [0.0] * MAX_RESULT_VALUES
    assert set(outputs) == set(layers) and all(o["data"] is None for o in outputs.values())
    await deploy(client, cam, "CAM_B", model=blobs.blob(64, 32, {"a": (1, 40000), "b": (1, 20000), "c": (1, 10000)}),
                 config={"type": "Generic"})
    [body] = await results(client, cam, "CAM_B")
    assert len(body["detections"]) == 40000
    assert [len(o["data"] or []) for o in body["outputs"].values()] == [0, 20000, 0]


async def test_a_results_reader_that_fails_is_replaced(client, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_A")
    await deploy(client, cam, "CAM_A")
    output = client.app[FLEET].get(cam).output("CAM_A")
    real, failures = output.detections_after, []

    def fails_twice(sequence, timeout):
        if len(failures) < 2:
            failures.append(sequence)
            raise MemoryError("a result too large to hold")
        return real(sequence, timeout)
    output.detections_after = fails_twice
    async with client.ws_connect(stream_url(cam, "CAM_A", "nn")) as ws:
        message = await ws.receive(timeout=scaled(10))
        assert message.type == WSMsgType.TEXT, message
    assert len(failures) == 2 and json.loads(message.data)["detections"]


async def test_an_nn_archive_holding_a_superblob_deploys_as_luxonis_packs_rvc2_models(client, mxid):
    cam = mxid("oak-1")
    await activate(client, cam, "CAM_A")
    body = await deploy(client, cam, "CAM_A", model=blobs.archive(as_superblob=True))
    assert body["model"]["format"] == "nn_archive" and body["model"]["input"] == [300, 300]
    [message] = await results(client, cam, "CAM_A")
    assert {d["label_name"] for d in message["detections"]} == {"bars", "star"}


YOLO_2 = {"side13": (1, 21, 13, 13)}       # 3 anchors x (2 classes + 4 coordinates + 1)


def network_threads(backend, cam) -> list[int]:
    """On the DepthAI backend, the inference threads its camera's network nodes were given."""
    return [n.threads for n in backend.device(cam).device.pipeline.nodes if hasattr(n, "threads")]


async def test_the_original_apis_nested_config_means_what_the_flat_one_does(client, backend, mxid):
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_A")
    nested = {"type": "YOLO", "num_inference_threads": 1, "nn_config": {
        "num_classes": 2, "coordinate_size": 4, "confidence_threshold": 0.8, "iou_threshold": 0.4}}
    flat = {"type": "YOLO", "num_inference_threads": 1, "num_classes": 2, "coordinates": 4,
            "confidence_threshold": 0.8, "iou_threshold": 0.4}
    from_nested = await deploy(client, cam, "CAM_A", model=blobs.blob(416, 416, YOLO_2), config=nested)
    from_flat = await deploy(client, cam, "CAM_A", model=blobs.blob(416, 416, YOLO_2), config=flat)
    assert from_nested == from_flat == await (await client.get(stream_url(cam, "CAM_A", "nn"))).json()
    assert (from_flat["type"], from_flat["num_inference_threads"]) == ("YOLO", 1)
    assert from_flat["nn_config"] == {"num_classes": 2, "coordinate_size": 4, "confidence_threshold": 0.8,
                                      "iou_threshold": 0.4, "anchors": [], "anchor_masks": {}}
    assert from_flat["config"]["confidence_threshold"] == 0.8 and from_flat["config"]["num_classes"] == 2
    if hasattr(backend, "bus"):                  # the camera's network runs on the threads asked for
        assert network_threads(backend, cam) == [1]
    [message] = await results(client, cam, "CAM_A")
    assert [d["label"] for d in message["detections"]] == [1]       # the threshold holds: the bars (0) are 0.76
    # null is no decoder config, as the original's Generic networks send it.
    generic = await deploy(client, cam, "CAM_A", model=blobs.blob(64, 32, {"logits": (1, 10)}),
                           config={"type": "Generic", "nn_config": None})
    assert (generic["type"], generic["num_inference_threads"], generic["nn_config"]) == ("Generic", 2, None)
    if hasattr(backend, "bus"):
        assert network_threads(backend, cam) == [2]
    # What the nested form cannot mean is a 422 that names it, and nothing changes.
    url = stream_url(cam, "CAM_A", "nn")
    for config, path in (({**nested, "nn_config": {**nested["nn_config"], "labels": ["a"]}}, ["nn_config", "labels"]),
                         ({**nested, "num_classes": 2}, ["nn_config", "num_classes"]),
                         ({**nested, "nn_config": [1]}, ["nn_config"]),
                         ({**nested, "num_inference_threads": 3}, ["num_inference_threads"])):
        error = await assert_error(await client.post(url, data=upload(blobs.blob(416, 416, YOLO_2), config)), 422)
        fields = error["fields"]
        for key in path:
            fields = fields[key]
        assert fields, error
    assert await (await client.get(url)).json() == generic
