"""The DepthAI backend's translations, exercised with real depthai objects (no device needed)."""
import io
from datetime import timedelta

import depthai as dai
import numpy as np
import pytest
import simplejpeg
from PIL import Image

from actors.depthai_backend import DepthAIBackend, crop_window
from actors.depthai_convert import control_to_dai, frame_from_dai, sensor_from_features, stereo_pairs
from actors.capabilities import CapabilityError, merge_config
from actors.encode import encode
from actors.frames import DEPTH16, GRAY8, YUV420
from actors.model import CameraInfo, default_config, default_control, streams_of
from schemas.control import FOCUS_MODES, WHITE_BALANCE_MODES
from service.app import create_app

Command = dai.CameraControl.Command


def control(**changes):
    base = default_control(streams_of(oak_d_info())["CAM_A"])
    return {**base, **changes}


def test_manual_exposure_iso_and_image_controls_reach_the_message():
    c = control_to_dai(control(auto_exposure_enable=False, exposure_time=4321, sensitivity_iso=800, contrast=-3,
                               brightness=4, saturation=-5, chroma_denoise=2, luma_denoise=3,
                               auto_exposure_compensation=-6, auto_exposure_limit=12000, auto_exposure_lock=True,
                               auto_whitebalance_lock=True))
    assert c.getCommand(Command.AE_MANUAL) and not c.getCommand(Command.AE_AUTO)
    assert c.getExposureTime() == timedelta(microseconds=4321) and c.getSensitivity() == 800
    assert (c.contrast, c.brightness, c.saturation, c.chromaDenoise, c.lumaDenoise) == (-3, 4, -5, 2, 3)
    assert (c.expCompensation, c.aeMaxExposureTimeUs, c.aeLockMode, c.awbLockMode) == (-6, 12000, True, True)


def test_auto_exposure_is_enabled():
    c = control_to_dai(control(auto_exposure_enable=True))
    assert c.getCommand(Command.AE_AUTO) and not c.getCommand(Command.AE_MANUAL)


@pytest.mark.parametrize("mode", [m for m in WHITE_BALANCE_MODES if m != "OFF"])
def test_white_balance_modes(mode):
    assert control_to_dai(control(auto_whitebalance_mode=mode)).awbMode.name == mode


def test_white_balance_off_sets_the_manual_temperature():
    c = control_to_dai(control(auto_whitebalance_mode="OFF", manual_whitebalance=3200))
    assert c.awbMode.name == "OFF" and c.wbColorTemp == 3200


@pytest.mark.parametrize("mode", FOCUS_MODES)
def test_focus_modes(mode):
    c = control_to_dai(control(focus={"auto_focus_mode": mode, "auto_focus_trigger": False, "lens_position": 0.25}))
    assert c.autoFocusMode.name == mode
    assert c.getCommand(Command.MOVE_LENS_RAW) == (mode == "OFF")
    if mode == "OFF":
        assert c.getLensPositionRaw() == pytest.approx(0.25)
    assert not c.getCommand(Command.AF_TRIGGER)


def test_focus_trigger_and_fixed_focus():
    c = control_to_dai(control(focus={"auto_focus_mode": "AUTO", "auto_focus_trigger": True, "lens_position": 0}))
    assert c.getCommand(Command.AF_TRIGGER)
    assert not control_to_dai(control(focus=None)).getCommand(Command.AF_MODE)


def img_frame(kind, width, height, data, stride=None, exposure=5000, iso=400, temperature=4800):
    img = dai.ImgFrame()
    img.setType(kind)
    img.setWidth(width)
    img.setHeight(height)
    img.setStride(stride or width * (2 if kind == dai.ImgFrame.Type.RAW16 else 1))
    img.setData(np.ascontiguousarray(data).view(np.uint8).ravel())
    img.setSequenceNum(7)
    img.cam.exposureTimeUs, img.cam.sensitivityIso, img.cam.wbColorTemp = exposure, iso, temperature
    return img


@pytest.mark.parametrize("stride", [64, 80])
def test_nv12_becomes_yuv_planes_and_a_jpeg_of_the_right_colour(stride):
    w, h = 64, 48
    y = np.full((h, stride), 81, np.uint8)         # BT.601 full range red: Y 76, Cb 85, Cr 255
    y[:, :w] = 76
    uv = np.zeros((h // 2, stride), np.uint8)
    uv[:, 0:w:2], uv[:, 1:w:2] = 85, 255
    frame = frame_from_dai(img_frame(dai.ImgFrame.Type.NV12, w, h, np.concatenate([y.ravel(), uv.ravel()]),
                                     stride=stride))
    assert frame.format == YUV420 and (frame.width, frame.height) == (w, h) and frame.sequence == 7
    assert frame.planes[1].shape == (h // 2, w // 2) and (frame.planes[1] == 85).all() and (frame.planes[2] == 255).all()
    assert (frame.meta.exposure_time, frame.meta.sensitivity_iso, frame.meta.color_temperature) == (5000, 400, 4800)
    rgb = simplejpeg.decode_jpeg(encode(frame, "jpeg"))
    assert rgb.shape == (h, w, 3)
    r, g, b = rgb.reshape(-1, 3).mean(axis=0)
    assert r > 230 and g < 30 and b < 30
    png = np.asarray(Image.open(io.BytesIO(encode(frame, "png"))))
    assert png.shape == (h, w, 3) and png[..., 0].mean() > 240


def test_gray8_becomes_a_grey_picture():
    data = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (40, 1))          # 64 x 40 ramp
    frame = frame_from_dai(img_frame(dai.ImgFrame.Type.GRAY8, 64, 40, data))
    assert frame.format == GRAY8 and np.array_equal(frame.planes[0], data)
    png = np.asarray(Image.open(io.BytesIO(encode(frame, "png"))))
    assert np.array_equal(png, data)
    jpeg = simplejpeg.decode_jpeg(encode(frame, "jpeg"), colorspace="GRAY")[..., 0]
    assert np.abs(jpeg.astype(int) - data).mean() < 3


def test_raw16_depth_becomes_both_depth_pictures():
    depth = np.zeros((40, 64), np.uint16)
    depth[:, 8:32], depth[:, 32:] = 500, 5000
    frame = frame_from_dai(img_frame(dai.ImgFrame.Type.RAW16, 64, 40, depth))
    assert frame.format == DEPTH16 and np.array_equal(frame.planes[0], depth)
    mm = np.asarray(Image.open(io.BytesIO(encode(frame, "png", depth_mm=True))))
    assert np.array_equal(mm, depth)
    gray = np.asarray(Image.open(io.BytesIO(encode(frame, "png"))))
    assert gray[0, 0] == 0 and gray[0, 10] > gray[0, 40] > 0          # unknown black, nearer lighter


def test_a_colour_still_is_cut_from_the_full_frame_at_the_crop():
    w, h = 64, 48
    y = np.tile(np.arange(w, dtype=np.uint8), (h, 1))
    uv = np.full((h // 2, w), 128, np.uint8)
    frame = frame_from_dai(img_frame(dai.ImgFrame.Type.NV12, w, h, np.concatenate([y.ravel(), uv.ravel()])))
    config = {"still_size": [32, 16], "sensor_crop": [0.5, 0.25]}
    still = crop_window(frame, config)
    assert (still.width, still.height) == (32, 16) and still.planes[0][0, 0] == 32 and still.planes[1].shape == (8, 16)


def features(socket, name, kinds, modes, autofocus=False):
    f = dai.CameraFeatures()
    f.socket, f.sensorName, f.supportedTypes, f.hasAutofocus = socket, name, kinds, autofocus
    configs = []
    for w, h, fps in modes:
        c = dai.CameraSensorConfig()
        c.width, c.height, c.maxFps, c.minFps, c.type = w, h, fps, 1.0, kinds[0]
        configs.append(c)
    f.configs = configs
    return f


def oak_d_info():
    color, mono = [dai.CameraSensorType.COLOR], [dai.CameraSensorType.MONO]
    feats = [features(dai.CameraBoardSocket.CAM_A, "IMX378", color,
                      [(4056, 3040, 15), (3840, 2160, 30), (1920, 1080, 60), (1920, 1080, 30)], autofocus=True),
             features(dai.CameraBoardSocket.CAM_B, "OV9282", mono, [(1280, 800, 120), (640, 400, 120)]),
             features(dai.CameraBoardSocket.CAM_C, "OV9282", mono, [(1280, 800, 120), (640, 400, 120)])]
    pair = dai.StereoPair()
    pair.left, pair.right = dai.CameraBoardSocket.CAM_B, dai.CameraBoardSocket.CAM_C
    return CameraInfo("14442C10D13EABCE00", "OAK-D", "usb", tuple(sensor_from_features(f) for f in feats),
                      stereo_pairs([pair]))


def test_camera_features_become_sensor_specs_and_streams():
    info = oak_d_info()
    cam_a = info.sensor("CAM_A")
    assert (cam_a.name, cam_a.kind, cam_a.autofocus) == ("IMX378", "color", True)
    assert [m.size for m in cam_a.modes] == [(4056, 3040), (3840, 2160), (1920, 1080)]
    assert cam_a.modes[2].max_fps == 60                           # the first config of a size counts (R4)
    streams = streams_of(info)
    assert list(streams) == ["CAM_A", "CAM_B", "CAM_C", "DEPTH_B_C"]
    assert set(streams["CAM_A"].resolutions()) == {"THE_12_MP", "THE_4_K", "THE_1080_P"}
    assert {k: m.max_fps for k, m in streams["DEPTH_B_C"].resolutions().items()} == {"THE_800_P": 120, "THE_400_P": 120}


def test_capability_checks_use_what_the_features_say():
    spec = streams_of(oak_d_info())["CAM_B"]
    config = default_config(spec)
    assert merge_config(spec, config, {"resolution": "THE_400_P", "fps": 120})["fps"] == 120
    with pytest.raises(CapabilityError) as err:
        merge_config(spec, config, {"resolution": "THE_720_P"})
    assert "THE_800_P" in str(err.value)


async def test_service_with_no_device_starts_and_lists_no_camera(aiohttp_client):
    client = await aiohttp_client(create_app(DepthAIBackend()))
    resp = await client.get("/cameras/")
    assert resp.status == 200 and await resp.json() == []
    await_error = await client.get("/cameras/14442C10D13EABCE00/streams/")
    assert await_error.status == 404
