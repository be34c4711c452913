"""Each rule of docs/depthai-rules.md, kept by the DepthAI backend on the stand-in: every test here fails when the
backend stops keeping its rule."""
import asyncio
import io
import threading

import numpy as np
import pytest
import simplejpeg
from aiohttp import WSMsgType
from aiohttp.test_utils import TestServer
from PIL import Image

from conftest import MODELS, StandinBackend, activate, assert_error, device_timeout, stream_url, wait_until
from service.app import create_app
from service.inputs import FLEET
from service.video import VIDEO
from service.metrics import runner_options
from actors.simulated.device import SimBackend
from actors.simulated.models import mxid_for
from depthai import CameraBoardSocket, ImgFrame
import standin as standin_module
from timing import scaled

OAK_D, OAK_1, OAK_D_LR = mxid_for("oak-d", 0), mxid_for("oak-1", 0), mxid_for("oak-d-lr", 0)


async def serve(aiohttp_client, backend, **options):
    options = {"device_timeout": device_timeout(backend), "max_backoff": 0.1, "discovery_interval": 0.05, **options}
    app = create_app(backend, **options)
    server = TestServer(app)
    await server.start_server(**runner_options(app))
    client = await aiohttp_client(server)
    await wait_until(lambda: len(client.app[FLEET].actors) == len(backend.devices)
                     and all(a.status == "connected" for a in client.app[FLEET].actors.values()))
    return client


@pytest.fixture
async def standin():
    backend = StandinBackend(MODELS)
    yield backend
    for board in backend.devices:
        board.release()


@pytest.fixture
async def client(aiohttp_client, standin):
    return await serve(aiohttp_client, standin)


def actor(client, mxid):
    return client.app[FLEET].get(mxid)


async def test_r1_r11_switching_streams_opens_no_device_and_builds_no_pipeline(client, standin):
    board = standin.device(OAK_D)
    opens, pipelines = board.counts["opens"], board.counts["pipelines"]
    for _ in range(3):
        await activate(client, OAK_D, "CAM_A")
        await activate(client, OAK_D, "DEPTH_B_C")
        assert set(board.running) == {"CAM_A", "DEPTH_B_C"}
        for stream in ("CAM_A", "DEPTH_B_C"):
            assert (await client.delete(stream_url(OAK_D, stream))).status == 204
        assert board.running == {} and not any(board.streaming.values())     # sensors stopped (R11)
    assert actor(client, OAK_D).status == "connected" and actor(client, OAK_D).reconnects == 0
    assert (board.counts["opens"], board.counts["pipelines"]) == (opens, pipelines)
    assert board.counts["gate"] >= 12 and board.counts["streaming"] >= 6


async def test_r1_a_config_change_rebuilds_on_a_freshly_opened_device(client, standin):
    board = standin.device(OAK_D)
    await activate(client, OAK_D, "CAM_B")
    opens, pipelines = board.counts["opens"], board.counts["pipelines"]
    resp = await client.post(stream_url(OAK_D, "CAM_B", "config"), json={"resolution": "THE_400_P"})
    assert resp.status == 200, await resp.text()
    assert board.counts["opens"] == opens + 1 and board.counts["pipelines"] == pipelines + 1
    assert board.running["CAM_B"].config["resolution"] == "THE_400_P"
    assert actor(client, OAK_D).status == "connected" and actor(client, OAK_D).reconnects == 0
    assert (await client.get(stream_url(OAK_D, "CAM_B", "still"))).status == 200


async def test_r2_a_closed_queue_is_a_lost_device_that_recovers(aiohttp_client, standin):
    client = await serve(aiohttp_client, standin, discovery_interval=30)       # no health round meanwhile
    board = standin.device(OAK_1)
    await activate(client, OAK_1, "CAM_A")
    errors = []
    threading.excepthook, hook = (lambda args: errors.append(args)), threading.excepthook
    try:
        board.device.close()           # depthai closed the device: its queues raise QueueException
        # The write meets the closed queue: the camera is lost, the write kept for its return (not a 500).
        assert (await client.post(stream_url(OAK_1, "CAM_A", "control"), json={"contrast": 3})).status == 200
        await wait_until(lambda: actor(client, OAK_1).reconnects == 1 and actor(client, OAK_1).status == "connected")
        assert board.sensor_controls["CAM_A"]["contrast"] == 3
    finally:
        threading.excepthook = hook
    assert errors == []                # no reader thread died with a traceback


async def test_r2_queues_that_close_while_nobody_calls_the_device_are_found_by_its_reader(client, standin,
                                                                                           monkeypatch):
    """depthai closes a lost device's queues (R2, R3); with no request meeting them and no stats read (which
    would meet the closed device too), the device's reader is what finds the loss (getAny answers nothing at
    once, or raises; the health round asks only its flag, R8), and the camera is reopened."""
    from actors import actor as actor_module
    monkeypatch.setattr(actor_module, "STATS_PERIOD", 1e9)
    board = standin.device(OAK_1)
    await activate(client, OAK_1, "CAM_A")
    board.device.close()
    await wait_until(lambda: actor(client, OAK_1).reconnects == 1 and actor(client, OAK_1).status == "connected")


async def test_r3_a_camera_back_from_a_pulled_cable_runs_the_controls_the_api_shows(client, standin):
    board = standin.device(OAK_1)
    await activate(client, OAK_1, "CAM_A")
    await client.post(stream_url(OAK_1, "CAM_A", "control"), json={"contrast": 4})
    board.unplug()
    await wait_until(lambda: actor(client, OAK_1).status == "disconnected")
    board.replug()
    await wait_until(lambda: actor(client, OAK_1).status == "connected")
    assert board.sensor_controls["CAM_A"]["contrast"] == 4 and actor(client, OAK_1).reconnects == 1


async def test_r4_an_fps_below_the_sensor_minimum_is_422_before_anything_is_kept(client, standin, state_dir):
    before = await (await client.get(stream_url(OAK_D, "CAM_B", "config"))).json()
    error = await assert_error(await client.post(stream_url(OAK_D, "CAM_B", "config"), json={"fps": 1.0}), 422,
                               "not_supported")
    assert "2 to 120" in " ".join(error["fields"]["fps"])
    assert await (await client.get(stream_url(OAK_D, "CAM_B", "config"))).json() == before


async def test_r4_a_configuration_the_camera_refuses_to_build_is_a_request_error(client, standin):
    board = standin.device(OAK_D)
    features = board.features

    def stricter():            # a camera whose firmware wants at least 5 fps at 640x400
        found = features()
        for config in found[1].configs + found[2].configs:
            config.minFps = 5.0
        return found
    board.features = stricter
    await activate(client, OAK_D, "CAM_A")
    assert (await client.post(stream_url(OAK_D, "CAM_B", "config"), json={"resolution": "THE_400_P", "fps": 3})).status == 200
    error = await assert_error(await client.post(stream_url(OAK_D, "CAM_B")), 422, "not_supported")
    assert "Invalid sensor FPS" in error["message"]
    streams = await (await client.get(f"/cameras/{OAK_D}/streams/")).json()
    assert [s["name"] for s in streams if s["active"]] == ["CAM_A"]
    assert actor(client, OAK_D).status == "connected" and set(board.running) == {"CAM_A"}
    assert (await client.get(stream_url(OAK_D, "CAM_A", "still"))).status == 200


@pytest.mark.parametrize("stream", ["DEPTH_B_C", "DEPTH_B_A", "DEPTH_A_C"])
async def test_r5_oak_d_lr_depth_runs_at_most_1280_wide(client, standin, stream):
    await activate(client, OAK_D_LR, stream)
    resp = await client.get(stream_url(OAK_D_LR, stream, "still"), params={"format": "png", "depth_mm": "true"})
    assert resp.status == 200
    assert Image.open(io.BytesIO(await resp.read())).size == (1280, 800)
    assert standin.device(OAK_D_LR).sensor_configs["CAM_B" if "B" in stream else "CAM_A"]["resolution"] == "THE_1200_P"


async def test_r6_depth_comes_out_at_the_configured_size(client):
    for resolution, size in (("THE_720_P", (1280, 720)), ("THE_400_P", (640, 400))):
        await client.post(stream_url(OAK_D, "DEPTH_B_C", "config"), json={"resolution": resolution})
        await activate(client, OAK_D, "DEPTH_B_C")
        resp = await client.get(stream_url(OAK_D, "DEPTH_B_C", "still"), params={"format": "png", "depth_mm": "true"})
        assert Image.open(io.BytesIO(await resp.read())).size == size


async def test_r7_a_camera_on_another_port_comes_back(client, standin):
    board = standin.device(OAK_D)
    first = board.path
    board.unplug()
    await wait_until(lambda: actor(client, OAK_D).status == "disconnected")
    board.replug()
    assert board.path != first
    await wait_until(lambda: actor(client, OAK_D).status == "connected")


async def test_r8_a_lost_camera_that_is_slow_to_close_holds_up_nobody(client, standin):
    board = standin.device(OAK_D)
    board.faults.hold_close = True          # closing the lost device waits, as depthai's crash-dump wait does
    board.unplug()
    await wait_until(lambda: actor(client, OAK_D).status == "disconnected")
    try:
        for path in ("/healthz", "/cameras/", f"/cameras/{OAK_1}/streams/CAM_A/control"):
            resp = await asyncio.wait_for(client.get(path), scaled(2))
            assert resp.status == 200
        await activate(client, OAK_1, "CAM_A")
        assert not board.close_hold_expired        # all of it answered while the close was still held up
    finally:
        board.release()
    await wait_until(lambda: actor(client, OAK_D).status == "disconnected" and board.counts["missing_opens"] == 0)


async def test_r8_a_missing_camera_is_never_opened(client, standin):
    board = standin.device(OAK_1)
    board.unplug()
    await wait_until(lambda: actor(client, OAK_1).status == "disconnected")
    await wait_until(lambda: "not among the available" in (actor(client, OAK_1).last_error or ""))
    assert board.counts["missing_opens"] == 0


async def test_r9_a_set_up_that_fails_after_opening_closes_the_device(aiohttp_client):
    backend = StandinBackend(["oak-1"])
    backend.devices[0].faults.failing_setups = 1
    client = await serve(aiohttp_client, backend)       # found on a later round: the device was closed again
    assert [c["mxid"] for c in await (await client.get("/cameras/")).json()] == [OAK_1]
    assert backend.devices[0].counts["opens"] == 2


async def test_r10_an_autofocus_trigger_runs_once(client, standin):
    board = standin.device(OAK_1)
    await activate(client, OAK_1, "CAM_A")
    body = {"focus": {"auto_focus_mode": "AUTO", "auto_focus_trigger": True}}
    assert (await client.post(stream_url(OAK_1, "CAM_A", "control"), json=body)).status == 200
    assert board.counts["af_triggers"] == 1
    await client.post(stream_url(OAK_1, "CAM_A", "control"), json={"contrast": 2})
    board.unplug()
    await wait_until(lambda: actor(client, OAK_1).status == "disconnected")
    board.replug()
    await wait_until(lambda: actor(client, OAK_1).status == "connected")
    assert board.sensor_controls["CAM_A"]["contrast"] == 2 and board.counts["af_triggers"] == 1
    assert (await client.post(stream_url(OAK_1, "CAM_A", "control"), json=body)).status == 200
    assert board.counts["af_triggers"] == 2         # asked again: runs again


async def test_r12_padded_frames_give_the_simulators_picture(aiohttp_client, standin):
    stills = []
    for backend in (SimBackend(["oak-1"]), StandinBackend(["oak-1"])):
        client = await serve(aiohttp_client, backend)
        await activate(client, OAK_1, "CAM_A")
        await client.post(stream_url(OAK_1, "CAM_A", "config"), json={"resolution": "THE_1080_P"})
        resp = await client.get(stream_url(OAK_1, "CAM_A", "still"))
        stills.append(simplejpeg.decode_jpeg(await resp.read()).astype(int)[:1000])    # above the live marker
    assert stills[0].shape == stills[1].shape == (1000, 1920, 3)
    assert np.abs(stills[0] - stills[1]).mean() < 2


async def test_r4_a_camera_that_comes_back_refusing_its_saved_config_says_so(client, standin):
    board = standin.device(OAK_D)
    await client.post(stream_url(OAK_D, "CAM_B", "config"), json={"resolution": "THE_400_P", "fps": 30})
    await activate(client, OAK_D, "CAM_B")
    features = board.features

    def stricter():            # after a firmware change the camera wants at least 50 fps at 640x400
        found = features()
        for config in found[1].configs + found[2].configs:
            config.minFps = 50.0
        return found
    board.features = stricter
    board.unplug()
    await wait_until(lambda: actor(client, OAK_D).status == "disconnected")
    board.replug()
    await wait_until(lambda: "refused" in (actor(client, OAK_D).last_error or ""))
    assert actor(client, OAK_D).status == "disconnected"
    assert (await client.get(f"/cameras/{OAK_D}/")).status == 200          # the service goes on


async def ws_messages(client, mxid, stream, count):
    got = []
    async with client.ws_connect(stream_url(mxid, stream, "video")) as ws:
        while len(got) < count:
            message = await asyncio.wait_for(ws.receive(), scaled(10))
            assert message.type.name == "BINARY", message
            got.append(message.data)
    return got


async def test_r13_the_cameras_encoder_makes_the_h264_and_the_gateway_only_packs_it(client, standin):
    await client.post(stream_url(OAK_D, "CAM_B", "config"), json={"resolution": "THE_400_P"})
    await activate(client, OAK_D, "CAM_B")
    got = await ws_messages(client, OAK_D, "CAM_B", 8)
    stats = client.app[VIDEO].stats_of(OAK_D, "CAM_B")
    assert stats.frames >= 7 and stats.encodes == 0           # no frame was encoded on the gateway
    assert got[0].startswith(b"\0\0\0\x1cftyp") or b"ftyp" in got[0][:8]
    assert all(b"moof" in m[:8] for m in got[1:])


async def test_r13_a_stream_beyond_the_encoders_limits_is_encoded_on_the_gateway(client, standin):
    # 4056 pixels wide is no multiple of 32: the camera's encoder would crash the device.
    await client.post(stream_url(OAK_1, "CAM_A", "config"), json={"resolution": "THE_12_MP", "fps": 5})
    await activate(client, OAK_1, "CAM_A")
    await ws_messages(client, OAK_1, "CAM_A", 3)
    assert client.app[VIDEO].stats_of(OAK_1, "CAM_A").encodes >= 2
    assert standin.device(OAK_1).counts["encoder_crashes"] == 0 and actor(client, OAK_1).status == "connected"


async def test_r13_at_most_three_streams_and_their_pixel_rate_go_to_the_cameras_encoder(client, standin):
    # The OAK-D-LR's pipeline holds three colour streams and a depth stream: three encoders at most, and
    # 1920x1200 at 60 fps three times is over the 248 Mpixel/s.
    for stream in ("CAM_A", "CAM_B", "CAM_C"):
        await client.post(stream_url(OAK_D_LR, stream, "config"), json={"fps": 60})
    await activate(client, OAK_D_LR, "CAM_A")
    await ws_messages(client, OAK_D_LR, "CAM_A", 2)
    assert standin.device(OAK_D_LR).counts["encoder_crashes"] == 0 and actor(client, OAK_D_LR).status == "connected"


async def test_r13_default_mjpeg_comes_from_the_cameras_encoder_and_other_qualities_from_the_gateway(client):
    await client.post(stream_url(OAK_D, "CAM_B", "config"), json={"resolution": "THE_400_P"})
    await activate(client, OAK_D, "CAM_B")
    resp = await client.get(stream_url(OAK_D, "CAM_B", "video"), params={"frames": 5})
    body = await resp.read()
    jpegs = [part.split(b"\r\n\r\n", 1)[1] for part in body.split(b"--frame\r\n")[1:]]
    assert len(jpegs) == 5 and all(simplejpeg.decode_jpeg(j.rstrip(b"\r\n--frame-")).shape == (400, 640, 3)
                                   for j in jpegs)
    stats = client.app[VIDEO].stats_of(OAK_D, "CAM_B")
    assert stats.frames >= 5 and stats.encodes == 0                   # the camera encoded every one
    resp = await client.get(stream_url(OAK_D, "CAM_B", "video"), params={"frames": 3, "quality": 50})
    assert resp.status == 200 and (await resp.read()).count(b"--frame\r\n") == 3
    assert stats.encodes >= 3                                          # a quality of its own: the gateway's


async def test_r14_an_ir_intensity_the_driver_refuses_is_a_422_and_the_camera_keeps_what_it_ran(
        aiohttp_client, monkeypatch):
    standin = StandinBackend(["oak-d-pro"])
    client = await serve(aiohttp_client, standin)
    pro = mxid_for("oak-d-pro", 0)
    board = standin.device(pro)
    assert (await client.post(f"/cameras/{pro}/ir", json={"flood_light": 0.4})).status == 200
    refusing = board.device._set_ir
    monkeypatch.setattr(board.device, "_set_ir", lambda which, value: False if value > 0.9 else refusing(which, value))
    await assert_error(await client.post(f"/cameras/{pro}/ir", json={"flood_light": 1.0}), 422, "not_supported")
    assert (await (await client.get(f"/cameras/{pro}/ir")).json())["flood_light"] == 0.4
    assert board.ir["flood_light"] == 0.4 and actor(client, pro).status == "connected"


async def test_frames_held_back_by_a_closed_gate_are_not_counted_as_dropped(client, standin):
    await client.post(stream_url(OAK_D, "CAM_B", "config"), json={"resolution": "THE_400_P", "fps": 30})
    await activate(client, OAK_D, "CAM_B")
    assert (await client.delete(stream_url(OAK_D, "CAM_B"))).status == 204
    closed_at = asyncio.get_running_loop().time()
    await wait_until(lambda: asyncio.get_running_loop().time() > closed_at + 1.0)    # 30 frames the gate holds
    await activate(client, OAK_D, "CAM_B")
    stats = await (await client.get(f"/cameras/{OAK_D}/stats")).json()
    assert stats["streams"]["CAM_B"]["dropped"] < 15, stats["streams"]


async def test_r14_the_ir_survives_a_rebuild_which_boots_the_emitters_off(aiohttp_client):
    standin = StandinBackend(["oak-d-pro"])
    client = await serve(aiohttp_client, standin)
    pro = mxid_for("oak-d-pro", 0)
    board = standin.device(pro)
    await activate(client, pro, "CAM_B")
    assert (await client.post(f"/cameras/{pro}/ir", json={"flood_light": 0.5, "dot_projector": 0.3})).status == 200
    opens = board.counts["opens"]
    resp = await client.post(stream_url(pro, "CAM_B", "config"), json={"resolution": "THE_400_P"})
    assert resp.status == 200, await resp.text()
    assert board.counts["opens"] == opens + 1                       # a rebuild: the device rebooted
    assert board.ir == {"flood_light": 0.5, "dot_projector": 0.3}
    assert (await (await client.get(f"/cameras/{pro}/ir")).json()) == {"flood_light": 0.5, "dot_projector": 0.3}


MANIP_PROBE = """
import os, sys, threading, time
said, out = [], os.dup(1)           # depthai logs to this process's stdout/stderr: read them to know it has spoken
r, w = os.pipe()
os.dup2(w, 1); os.dup2(w, 2)
def echo():
    while chunk := os.read(r, 4096):
        said.append(chunk.decode(errors="replace")); os.write(out, chunk)
threading.Thread(target=echo, daemon=True).start()
import depthai as dai, numpy as np
w, h, *pools = (int(a) for a in sys.argv[1:])
pipeline = dai.Pipeline(False)
queues = []
for pool in pools:
    manip = pipeline.create(dai.node.ImageManip)
    manip.setRunOnHost(True)
    manip.initialConfig.addCrop(0, 0, w, h)
    manip.setMaxOutputFrameSize(pool)
    queues.append((manip.inputImage.createInputQueue(), manip.out.createOutputQueue()))
pipeline.start()
for source, _ in queues:          # a frame of its own for each
    frame = dai.ImgFrame()
    frame.setData(np.zeros(1920 * 1080 * 3 // 2, np.uint8))
    frame.setWidth(1920); frame.setHeight(1080); frame.setStride(1920); frame.setType(dai.ImgFrame.Type.NV12)
    source.send(frame)
def wait(done, seconds):
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        time.sleep(0.01)
    return done()
got = []
made = wait(lambda: got.append(queues[0][1].tryGet()) or any(f is not None for f in got), 60)
warned = wait(lambda: "bigger (" in "".join(said), 60)       # the small pool's manip has run and said why it skipped
os.write(out, ("made " if made else "skipped ").encode())
os.write(out, ("made" if queues[1][1].tryGet() is not None else "skipped").encode() + b"\\n")
os._exit(0)     # the host pipeline's threads are not joined: leave without tearing them down
"""


@pytest.mark.parametrize("size", [(1280, 720), (640, 480), (300, 300)])
def test_r17_the_standin_pools_image_manip_frames_as_the_wheel_s_own_image_manip(size):
    import subprocess
    import sys
    from standin import manip_nv12_bytes
    need = manip_nv12_bytes(*size)
    run = subprocess.run([sys.executable, "-c", MANIP_PROBE, *map(str, size), str(need), str(need - 1)],
                         capture_output=True, text=True, timeout=180)
    said = run.stdout + run.stderr
    assert [w for w in run.stdout.split() if w in ("made", "skipped")] == ["made", "skipped"], said[-800:]
    assert f"bigger ({need}B)" in said, said[-800:]          # depthai says why it skipped the frame


@pytest.mark.parametrize("model, changes", [("oak-d", [{"resolution": "THE_400_P"}, {"resolution": "THE_800_P"}]),
                                            ("oak-d-lr", [{"fps": 20}, {"fps": 30}])])       # USB and PoE
async def test_r19_a_rebuild_waits_for_the_rebooted_camera_and_counts_no_reconnect(aiohttp_client, model, changes):
    standin = StandinBackend([model])
    standin.bus.reboot = {"usb": 0.4, "poe": 0.8}        # listed again only this long after the close
    client = await serve(aiohttp_client, standin)
    cam = mxid_for(model, 0)
    board = standin.device(cam)
    await activate(client, cam, "CAM_B")
    statuses = []
    watching = asyncio.create_task(_watch_status(client, cam, statuses))
    for change in changes:
        opens = board.counts["opens"]
        resp = await client.post(stream_url(cam, "CAM_B", "config"), json=change)
        assert resp.status == 200, await resp.text()
        assert board.counts["opens"] == opens + 1                   # a rebuild, a reboot
        assert all(board.running["CAM_B"].config[k] == v for k, v in change.items())
    watching.cancel()
    assert set(statuses) == {"connected"} and actor(client, cam).reconnects == 0
    assert (await client.get(stream_url(cam, "CAM_B", "still"))).status == 200


async def _watch_status(client, cam, statuses):
    while True:
        statuses.append(actor(client, cam).status)
        await asyncio.sleep(0)


async def test_a_pipeline_the_camera_refuses_at_start_is_a_422_and_the_previous_one_runs_again(client, standin):
    board = standin.device(OAK_D)
    await activate(client, OAK_D, "CAM_B")
    before = await (await client.get(stream_url(OAK_D, "CAM_B", "config"))).json()
    board.faults.refused_fps = 20.0
    error = await assert_error(await client.post(stream_url(OAK_D, "CAM_B", "config"), json={"resolution": "THE_400_P", "fps": 20}),
                               422, "not_supported")
    assert "refused to start" in error["message"]
    assert await (await client.get(stream_url(OAK_D, "CAM_B", "config"))).json() == before
    assert board.running["CAM_B"].config["resolution"] == before["resolution"]
    assert actor(client, OAK_D).status == "connected" and actor(client, OAK_D).reconnects == 0
    assert (await client.get(stream_url(OAK_D, "CAM_B", "still"))).status == 200


async def test_no_auto_calibration_runs_at_a_rebuild(client, standin):
    board = standin.device(OAK_D)
    await activate(client, OAK_D, "DEPTH_B_C")
    assert (await client.post(stream_url(OAK_D, "DEPTH_B_C", "config"), json={"resolution": "THE_400_P"})).status == 200
    assert board.counts["pipelines"] >= 2 and board.counts["recalibrations"] == 0


async def test_a_device_lost_during_a_build_is_a_lost_camera_not_a_refused_config(client, standin, monkeypatch):
    import standin as standin_module
    board = standin.device(OAK_1)
    standin.bus.reboot = {"usb": 0, "poe": 0}         # the rebuild finds its camera at once: only the build fails
    await activate(client, OAK_1, "CAM_A")              # the only stream: the pipeline is built once, no retry
    build = standin_module.CameraNode.build

    def unplugged_midway(node, *args, **kwargs):
        board.unplug()                                 # the cable goes while the pipeline is being built
        return build(node, *args, **kwargs)
    monkeypatch.setattr(standin_module.CameraNode, "build", unplugged_midway)
    resp = await client.post(stream_url(OAK_1, "CAM_A", "config"), json={"resolution": "THE_4_K", "fps": 15})
    assert resp.status == 200, await resp.text()                # kept for the camera's return
    assert actor(client, OAK_1).status == "disconnected"
    monkeypatch.setattr(standin_module.CameraNode, "build", build)
    board.replug()
    await wait_until(lambda: actor(client, OAK_1).status == "connected", timeout=10)
    assert board.running["CAM_A"].config["resolution"] == "THE_4_K"


@pytest.mark.parametrize("figure", ["getChipTemperature", "getCmxMemoryUsage", "getDdrMemoryUsage",
                                    "getLeonCssCpuUsage", "getLeonMssCpuUsage"])
async def test_a_figure_the_camera_cannot_report_is_a_422_not_a_lost_camera(client, standin, monkeypatch, figure):
    """Each figure is an RPC of its own (src/device/DeviceBase.cpp): any one a camera does not answer is a
    refusal, not a lost camera."""
    board = standin.device(OAK_D)

    def unsupported():
        raise RuntimeError(f"{figure} is not supported on this platform")
    monkeypatch.setattr(board.device, figure, unsupported)
    await assert_error(await client.get(f"/cameras/{OAK_D}/stats"), 422, "not_supported")
    assert actor(client, OAK_D).status == "connected" and actor(client, OAK_D).reconnects == 0


def test_r20_a_lost_device_s_calls_fail_with_depthai_s_own_text_not_an_xlink_error():
    """depthai v3 raises no XLinkError from the calls the backend makes: every RPC of a lost device fails as
    the RPC client's std::system_error, a RuntimeError "Device already closed or disconnected: Input/output
    error" (src/device/DeviceBase.cpp, the rpcClient's catch in init2), the product name and IR drivers
    included; getAvailableStereoPairs answers no pairs instead (it catches every failure to read the
    calibration); the host nodes' XLink errors close the queues instead (R2). The backend takes each for a lost
    camera, as it would XLink's own errors, were one to reach it."""
    import depthai as dai
    from actors.depthai_backend import means_lost
    from standin import Bus
    bus = Bus(["oak-d-pro"])
    board = bus.boards[0]
    device = bus.dai.Device(board.device_info())
    device.setMaxReconnectionAttempts(0)
    board.unplug()
    calls = {"getConnectedCameraFeatures": (), "getProductName": (), "getDeviceName": (), "getIrDrivers": (),
             "readCalibration": (), "setIrLaserDotProjectorIntensity": (0.5,), "setIrFloodLightIntensity": (0.5,),
             "getChipTemperature": (), "getCmxMemoryUsage": (), "getDdrMemoryUsage": (), "getLeonCssCpuUsage": (),
             "getLeonMssCpuUsage": ()}
    for name, args in calls.items():
        with pytest.raises(RuntimeError) as raised:
            getattr(device, name)(*args)
        assert type(raised.value) is RuntimeError, name
        assert str(raised.value) == "Device already closed or disconnected: Input/output error", name
        assert means_lost(raised.value)
    assert device.getAvailableStereoPairs() == []
    assert means_lost(dai.XLinkReadError("Couldn't read data from stream: '__rpc_main' (X_LINK_ERROR)"))
    assert means_lost(dai.XLinkWriteError("Couldn't write data to stream: '__rpc_main' (X_LINK_ERROR)"))
    device.close()


async def test_r18_depth_is_in_the_view_its_calibration_describes(client, standin):
    await activate(client, OAK_D, "DEPTH_B_C")
    assert standin.device(OAK_D).counts["depth_view_unknown"] == 0
    depth = (await (await client.get(f"/cameras/{OAK_D}/calibration")).json())["streams"]["DEPTH_B_C"]
    right = standin.device(OAK_D).device.readCalibration().getCameraIntrinsics(CameraBoardSocket.CAM_C, 1280, 720)
    assert depth["socket"] == "CAM_B" and depth["rectified"] and np.allclose(depth["intrinsics"], right, atol=1e-3)


async def test_r22_raw_frames_cross_the_link_only_while_a_host_consumer_needs_them(client, standin):
    board = standin.device(OAK_D)
    await activate(client, OAK_D, "CAM_A")                       # 1080p at 30 fps, encoded by the camera
    await ws_messages(client, OAK_D, "CAM_A", 6)                  # the camera's H.264
    resp = await client.get(stream_url(OAK_D, "CAM_A", "video"), params={"frames": 3})    # the camera's MJPEG
    assert (await resp.read()).count(b"--frame\r\n") == 3
    assert not any(board.crossing(s) for s in ("CAM_A", "CAM_B", "CAM_C", "DEPTH_B_C"))
    raw = board.link_messages["CAM_A", "raw"]
    assert raw <= 1, raw                              # the activation's first frame at most
    assert board.link_messages["CAM_A", "h264"] >= 6 and board.link_messages["CAM_A", "mjpeg"] >= 3
    assert not any(kind == "raw" and n for (stream, kind), n in board.link_messages.items() if stream != "CAM_A")
    # A still is the frame after the request: its gate opens for it (and the frame that waited) and closes.
    assert (await client.get(stream_url(OAK_D, "CAM_A", "still"))).status == 200
    assert board.link_messages["CAM_A", "raw"] <= raw + 2 and not board.crossing("CAM_A")
    # So is a preview.
    assert (await client.get(stream_url(OAK_D, "CAM_A", "preview"))).status == 200
    assert board.link_messages["CAM_A", "raw"] <= raw + 4 and not board.crossing("CAM_A")
    # A viewer at another quality is encoded on the gateway: raw frames cross while it watches, not after.
    before = board.link_messages["CAM_A", "raw"]
    resp = await client.get(stream_url(OAK_D, "CAM_A", "video"), params={"frames": 4, "quality": 50})
    assert (await resp.read()).count(b"--frame\r\n") == 4
    assert board.link_messages["CAM_A", "raw"] >= before + 3        # its first may be the still's, held
    await wait_until(lambda: not board.crossing("CAM_A"))
    assert actor(client, OAK_D).status == "connected"


async def test_r22_the_camera_s_jpegs_cross_the_link_only_while_a_viewer_passes_them_on(client, standin):
    board = standin.device(OAK_D)
    await activate(client, OAK_D, "CAM_A")                       # 1080p at 30 fps, encoded by the camera
    h264 = board.link_messages["CAM_A", "h264"]
    await wait_until(lambda: board.link_messages["CAM_A", "h264"] >= h264 + 10)     # a third of a second
    assert board.link_messages["CAM_A", "mjpeg"] == 0 and not board.crossing("CAM_A", "mjpeg")    # nobody watches
    for _ in range(2):                                          # a viewer opens its gate and the last one closes it
        resp = await client.get(stream_url(OAK_D, "CAM_A", "video"), params={"frames": 3})
        assert (await resp.read()).count(b"--frame\r\n") == 3
        await wait_until(lambda: not client.app[VIDEO].feeds and not board.crossing("CAM_A", "mjpeg"))
        gone, h264 = board.link_messages["CAM_A", "mjpeg"], board.link_messages["CAM_A", "h264"]
        assert gone >= 3
        await wait_until(lambda: board.link_messages["CAM_A", "h264"] >= h264 + 10)
        assert board.link_messages["CAM_A", "mjpeg"] <= gone + 1          # one that was on its way at most
    assert board.link_messages["CAM_A", "raw"] <= 1 and actor(client, OAK_D).status == "connected"


async def test_r22_a_stream_the_camera_encodes_in_mjpeg_only_still_tells_its_exposure(client, standin):
    # A 1000-wide window is not H.264 on RVC2 (R13: widths in steps of 32): its MJPEG is all that crosses while
    # nobody watches, and what GET control reads the automatic exposure from.
    await client.post(stream_url(OAK_D, "CAM_A", "config"), json={"video_size": [1000, 562]})
    await activate(client, OAK_D, "CAM_A")
    control = stream_url(OAK_D, "CAM_A", "control")
    before = (await (await client.get(control)).json())["exposure_time"]
    assert (await client.post(control, json={"auto_exposure_compensation": 6})).status < 300
    deadline = asyncio.get_running_loop().time() + scaled(5)
    while (await (await client.get(control)).json())["exposure_time"] == before:
        assert asyncio.get_running_loop().time() < deadline, "GET control still tells the exposure from before"
        await asyncio.sleep(0.02)
    assert standin.device(OAK_D).link_messages["CAM_A", "raw"] <= 1      # the activation's frame: no raw frames


async def test_r13_the_mjpeg_side_of_rvc2_encodes_361_mpixel_a_second_not_500(client, standin):
    # 4K at 30 fps (249 Mpixel/s) is MJPEG only on the camera; a 1280x800 stream at 60 fps beside it (61
    # Mpixel/s) fits its H.264 but not its MJPEG too: at the 500 of the datasheet it would, at the 361 Luxonis
    # measured the firmware fails while running.
    await client.post(stream_url(OAK_D, "CAM_A", "config"), json={"resolution": "THE_4_K", "fps": 30})
    await client.post(stream_url(OAK_D, "CAM_B", "config"), json={"resolution": "THE_800_P", "fps": 60})
    await activate(client, OAK_D, "CAM_A")
    await activate(client, OAK_D, "CAM_B")
    resp = await client.get(stream_url(OAK_D, "CAM_B", "video"), params={"frames": 3})
    assert (await resp.read()).count(b"--frame\r\n") == 3
    assert standin.device(OAK_D).counts["encoder_crashes"] == 0 and actor(client, OAK_D).status == "connected"


@pytest.fixture
async def oak4(aiohttp_client):
    """An OAK4-D-LR: the OAK-D-LR's sensors on an RVC4 chip."""
    standin = StandinBackend(["oak-d-lr"])
    standin.devices[0].platform = "RVC4"
    client = await serve(aiohttp_client, standin)
    yield client, standin.devices[0]
    standin.devices[0].release()


async def test_r23_rvc4_runs_no_vpu_blob_and_says_so(oak4):
    import blobs
    from test_nn import upload, MOBILENET
    client, board = oak4
    await activate(client, OAK_D_LR, "CAM_A")
    for model, name in ((blobs.blob(), "model.blob"), (blobs.archive(as_superblob=True), "model.tar.xz")):
        resp = await client.post(stream_url(OAK_D_LR, "CAM_A", "nn"), data=upload(model, MOBILENET, name))
        error = await assert_error(resp, 422)
        assert "RVC4" in error["message"] + str(error.get("fields")), error
    assert await (await client.get(stream_url(OAK_D_LR, "CAM_A", "nn"))).json() is None


async def test_r25_an_rvc4_archive_runs_on_an_oak4_fed_bgr888i(oak4):
    import blobs
    from test_nn import upload, results, MOBILENET
    client, board = oak4
    await activate(client, OAK_D_LR, "CAM_A")
    resp = await client.post(stream_url(OAK_D_LR, "CAM_A", "nn"),
                             data=upload(blobs.rvc4_archive(), MOBILENET, "model.tar.xz"))
    assert resp.status == 200, await resp.text()
    model = (await resp.json())["model"]
    assert (model["format"], model["platforms"], model["input"]) == ("nn_archive", ["RVC4"], [300, 300])
    assert model["outputs"] == {"detection_out": [1, 1, 100, 7]}
    found = await results(client, OAK_D_LR, "CAM_A", count=2)
    assert all("detections" in message for message in found), found
    # depthai's own setNNArchive took the archive, and the network reads interleaved BGR at its input size.
    network = next(n for n in board.device.pipeline.nodes if isinstance(n, standin_module.NeuralNetworkNode))
    assert network.archive is not None and network.blob is None
    assert (network.input.source.kind, network.input.source.size) == (ImgFrame.Type.BGR888i, (300, 300))
    assert board.counts["nn_misfed"] == 0
    # A Generic network answers each output layer the archive describes, at its shape.
    resp = await client.post(stream_url(OAK_D_LR, "CAM_A", "nn"),
                             data=upload(blobs.rvc4_archive(parser=None), {"type": "Generic"}, "model.tar.xz"))
    assert resp.status == 200, await resp.text()
    message = (await results(client, OAK_D_LR, "CAM_A"))[0]
    assert message["outputs"]["detection_out"]["shape"] == [1, 1, 100, 7]


async def test_r25_an_rvc4_archive_on_a_depth_stream_reports_millimetres(oak4):
    import blobs
    from test_nn import upload, results
    client, board = oak4
    await activate(client, OAK_D_LR, "DEPTH_B_C")
    resp = await client.post(stream_url(OAK_D_LR, "DEPTH_B_C", "nn"), data=upload(
        blobs.rvc4_archive(), {"type": "MobileNet", "labels": ["ball", "box"]}, "model.tar.xz"))
    assert resp.status == 200, await resp.text()
    [message] = await results(client, OAK_D_LR, "DEPTH_B_C")
    found = {d["label_name"]: d for d in message["detections"]}
    assert set(found) == {"ball", "box"} and all(d["spatial_coords"]["z"] > 0 for d in found.values()), found
    network = next(n for n in board.device.pipeline.nodes
                   if isinstance(n, standin_module.SpatialDetectionNetworkNode))
    assert network.archive is not None and network.input.source.kind == ImgFrame.Type.BGR888i
    assert board.counts["spatial_unaligned_warnings"] == 0


async def test_r25_past_the_service_s_checks_the_standin_refuses_what_depthai_refuses(oak4, client, standin,
                                                                                      monkeypatch):
    """The service's checks taken away, the camera itself refuses: depthai's setBlob a VPU blob on RVC4, its
    DetectionParser an archive without a detection head, and (the stand-in's assumption) an RVC2 camera a .dlc;
    each is a refused configuration, and the camera goes on as it ran."""
    import blobs
    import service.nn
    from test_nn import upload, MOBILENET
    monkeypatch.setattr(service.nn, "_check_platform", lambda actor, model: None)
    monkeypatch.setattr(service.nn, "_check_fit", lambda config, model: None)
    four, board = oak4
    await activate(four, OAK_D_LR, "CAM_A")
    await activate(client, OAK_D, "CAM_A")
    for camera, cam, model, why in (
            (four, OAK_D_LR, blobs.blob(), "Loaded model is for RVC2, but the device is RVC4"),
            (four, OAK_D_LR, blobs.rvc4_archive(parser=None), "at least one detection head"),
            (client, OAK_D, blobs.rvc4_archive(), "does not run on RVC2")):
        resp = await camera.post(stream_url(cam, "CAM_A", "nn"), data=upload(model, MOBILENET, "model.tar.xz"))
        error = await assert_error(resp, 422)
        assert why in error["message"], error
        assert await (await camera.get(stream_url(cam, "CAM_A", "nn"))).json() is None
        assert (await camera.get(stream_url(cam, "CAM_A", "still"))).status == 200


async def test_r25_an_rvc4_archive_s_network_reads_the_frame_type_its_archive_names(oak4):
    import blobs
    from test_nn import upload, results, MOBILENET
    client, board = oak4
    await activate(client, OAK_D_LR, "CAM_A")
    for dai_type in ("BGR888p", None):
        resp = await client.post(stream_url(OAK_D_LR, "CAM_A", "nn"),
                                 data=upload(blobs.rvc4_archive(dai_type=dai_type), MOBILENET, "model.tar.xz"))
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["model"]["input_type"] == (dai_type or "BGR888i")
        await results(client, OAK_D_LR, "CAM_A", count=2)
        network = next(n for n in board.device.pipeline.nodes if isinstance(n, standin_module.NeuralNetworkNode))
        assert network.input.source.kind == ImgFrame.Type.__members__[dai_type or "BGR888i"]
    assert board.counts["nn_misfed"] == 0


async def test_r25_what_rvc4_cannot_run_is_a_422_that_says_why(oak4):
    import blobs
    from test_nn import upload, MOBILENET
    client, board = oak4
    await activate(client, OAK_D_LR, "CAM_A")
    refused = (
        (blobs.rvc4_archive(data=b""), "empty"),                              # no model in it
        (blobs.rvc4_archive(model="model.onnx"), "no OAK"),                   # ModelType OTHER: no platform
        (blobs.rvc4_archive(parser=None), "detection head"),                  # setNNArchive's parser refuses it
        (blobs.rvc4_archive(dai_type="BGR999"), "BGR999"),                    # no ImgFrame.Type of that name
        (blobs.rvc4_archive(outputs={"detection_out": ()}), "no shape"),      # the service needs the shapes
        (blobs.rvc4_archive(outputs={"detection_out": (1, 100, 6)}), "[..., N, 7]"),
    )
    for model, why in refused:
        resp = await client.post(stream_url(OAK_D_LR, "CAM_A", "nn"), data=upload(model, MOBILENET, "m.tar.xz"))
        error = await assert_error(resp, 422)
        assert why in str(error.get("fields")), (why, error)
    assert await (await client.get(stream_url(OAK_D_LR, "CAM_A", "nn"))).json() is None


async def test_r25_an_rvc4_archive_on_an_rvc2_camera_is_a_422_that_says_so(client):
    import blobs
    from test_nn import upload, MOBILENET
    await activate(client, OAK_D, "CAM_A")
    resp = await client.post(stream_url(OAK_D, "CAM_A", "nn"),
                             data=upload(blobs.rvc4_archive(), MOBILENET, "model.tar.xz"))
    error = await assert_error(resp, 422)
    text = str(error.get("fields"))
    assert "RVC4" in text and "RVC2" in text, error
    assert await (await client.get(stream_url(OAK_D, "CAM_A", "nn"))).json() is None


async def test_r5_r13_rvc2_s_stereo_and_encoder_limits_are_not_rvc4_s(oak4):
    client, board = oak4
    resp = await client.post(stream_url(OAK_D_LR, "DEPTH_B_C", "config"), json={"resolution": "THE_1200_P"})
    assert resp.status == 200, await resp.text()
    await activate(client, OAK_D_LR, "DEPTH_B_C")
    resp = await client.get(stream_url(OAK_D_LR, "DEPTH_B_C", "still"), params={"format": "png", "depth_mm": "true"})
    assert Image.open(io.BytesIO(await resp.read())).size == (1920, 1200)
    # Three 1920x1200 streams at 60 fps are beyond RVC2's H.264 budget, not RVC4's: the camera encodes them.
    for stream in ("CAM_A", "CAM_C"):
        await client.post(stream_url(OAK_D_LR, stream, "config"), json={"fps": 60})
    await activate(client, OAK_D_LR, "CAM_A")
    await activate(client, OAK_D_LR, "CAM_C")
    for stream in ("CAM_A", "CAM_C"):
        await ws_messages(client, OAK_D_LR, stream, 3)
        assert client.app[VIDEO].stats_of(OAK_D_LR, stream).encodes == 0


async def test_r24_stereo_and_networks_do_no_work_while_their_stream_is_inactive(client, standin):
    from test_nn import deploy, results
    board = standin.device(OAK_D)
    await activate(client, OAK_D, "DEPTH_B_C")
    await deploy(client, OAK_D, "DEPTH_B_C", config={"type": "MobileNet", "labels": ["ball", "box"]})
    await results(client, OAK_D, "DEPTH_B_C", count=3)
    # The network's depth is aligned to its input, as depthai's own SpatialDetectionNetwork.build links it.
    assert board.counts["spatial_unaligned_warnings"] == 0
    assert {"StereoNode", "SpatialDetectionNetworkNode"} <= board.working()
    # Both sensors of the pair stream for CAM_B and CAM_C; the depth stream, still in the pipeline, is off.
    await activate(client, OAK_D, "CAM_B")
    await activate(client, OAK_D, "CAM_C")
    assert set(board.running) >= {"CAM_B", "CAM_C"} and "DEPTH_B_C" not in board.running
    assert not {"StereoNode", "SpatialDetectionNetworkNode"} & board.working(), board.working()


def test_r22_the_standin_s_queues_keep_what_the_wheel_s_message_queue_keeps():
    """A queue of maxSize 2 that nobody read while five messages came: not blocking, it holds the newest two
    (the wheel's own host MessageQueue shows it); blocking, it loses none (the producer waits)."""
    import time
    import depthai as dai
    from standin import Bus
    wheel = dai.MessageQueue("kept", 2, False)
    for i in range(5):
        message = dai.Buffer()
        message.setSequenceNum(i)
        wheel.send(message)
    assert [m.getSequenceNum() for m in wheel.tryGetAll()] == [3, 4]
    bus = Bus(["oak-1"])
    device = bus.dai.Device(bus.boards[0].device_info())
    pipeline = bus.dai.Pipeline(device)
    camera = pipeline.create(bus.dai.node.Camera).build(dai.CameraBoardSocket.CAM_A, sensorResolution=(1920, 1080),
                                                         sensorFps=30)
    output = camera.requestOutput((320, 180), fps=30)
    dropping, keeping = output.createOutputQueue(2, False), output.createOutputQueue(2, True)
    pipeline.start()
    deadline = time.monotonic() + scaled(10)
    while output.sequence_at(time.monotonic()) < 5:          # five frames made, none taken
        assert time.monotonic() < deadline
        time.sleep(0.01)
    newest = output.sequence_at(time.monotonic())
    first, second = (dropping.get().getSequenceNum() for _ in range(2))
    assert first >= newest - 1 and second > first      # the newest two then (more may come while it is read)
    assert [keeping.get().getSequenceNum() for _ in range(3)] == [0, 1, 2]
    pipeline.stop()


async def test_one_reader_thread_per_device_reads_every_queue_of_its_pipeline(client, standin):
    """A camera's frames, its encoders' packets, previews and networks' results all reach the gateway through
    one reader thread of the device's (depthai's MessageQueue.getAny), not a thread per queue; and a device
    that goes away ends it."""
    import threading
    for stream in ("CAM_A", "CAM_B", "CAM_C"):
        await activate(client, OAK_D, stream)
    mjpeg = await client.get(stream_url(OAK_D, "CAM_A", "video"))           # the camera's MJPEG
    assert mjpeg.status == 200
    async with client.ws_connect(stream_url(OAK_D, "CAM_B", "video")) as ws:  # the camera's H.264
        assert (await ws.receive(timeout=scaled(10))).type == WSMsgType.BINARY
        assert (await mjpeg.content.readuntil(b"\xff\xd9"))[-2:] == b"\xff\xd9"
        still = await client.get(stream_url(OAK_D, "CAM_C", "still"))         # raw frames
        assert still.status == 200 and still.content_type == "image/jpeg"
        readers = [t.name for t in threading.enumerate() if t.name.startswith("frames-")]
        assert readers.count(f"frames-{OAK_D}") == 1, readers
        per_queue = [t.name for t in threading.enumerate()
                     if t.name.split("-")[0] in ("frames", "h264", "mjpeg", "preview", "video", "nn")
                     and t.name.split("-", 1)[1].startswith(("CAM_", "DEPTH"))]
        assert not per_queue, per_queue
    mjpeg.close()
    standin.device(OAK_D).unplug()
    await wait_until(lambda: actor(client, OAK_D).status == "disconnected")
    await wait_until(lambda: not [t for t in threading.enumerate() if t.name == f"frames-{OAK_D}"])


@pytest.mark.parametrize("method, path, body, status", [
    ("get", "stats", None, 503), ("get", "calibration", None, 503),
    ("post", "ir", {"flood_light": 0.5}, 200)])        # the IR is kept for the camera's return
async def test_r20_no_call_reaches_a_device_depthai_closed_when_its_link_went(aiohttp_client, method, path, body,
                                                                            status):
    """A running pipeline whose link goes is stopped by its own host nodes, and that closes its device (R1): an
    RPC of it then dereferences the RPC client the close dropped, which crashes the whole service on a camera
    (the stand-in fails the test instead). Once the device is known lost (its reader saw the queues close), no
    stats, IR or calibration call reaches it, and the camera is found lost. No health check comes between:
    discovery, which asks for them, waits an hour here."""
    standin = StandinBackend(["oak-d-pro"])
    pro = mxid_for("oak-d-pro", 0)
    client = await serve(aiohttp_client, standin, discovery_interval=3600)
    await activate(client, pro, "CAM_B")
    device = actor(client, pro).device
    standin.device(pro).unplug()
    await wait_until(lambda: not device.healthy())
    resp = await getattr(client, method)(f"/cameras/{pro}/{path}", json=body)
    assert resp.status == status, await resp.text()
    assert actor(client, pro).status == "disconnected"


async def test_r20_a_call_looks_at_the_queues_itself_before_the_reader_wakes(aiohttp_client, monkeypatch):
    """The queues close before depthai closes the device (PipelineImpl::stop): a stats read that comes after
    the cable went but before the device's reader has told anyone finds them closed and calls nothing (here
    the reader never tells)."""
    import actors.depthai_backend as depthai_backend
    read = depthai_backend._read
    monkeypatch.setattr(depthai_backend, "_read", lambda dai, routes, lost: read(dai, routes, threading.Event()))
    standin = StandinBackend(["oak-d-pro"])
    pro = mxid_for("oak-d-pro", 0)
    client = await serve(aiohttp_client, standin, discovery_interval=3600)
    await activate(client, pro, "CAM_B")
    standin.device(pro).unplug()
    await assert_error(await client.get(f"/cameras/{pro}/stats"), 503, "camera_unavailable")
    assert actor(client, pro).status == "disconnected"
