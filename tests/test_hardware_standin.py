"""The hardware suite's scenarios (`make test-hardware`) on the stand-in, so that they keep running where no
camera is: a scenario that rots would otherwise only skip on a camera, or fail there first. On the stand-in,
which has everything they ask for, a skip is a failure unless it asks for a file (OAK_TEST_*). Left out: those
that read depthai's own device objects (the sensor table, XLink's byte counters), the hand-run replug, and
the 200 switches (the sessions tests' own)."""
import functools

import pytest

import test_hardware as hardware
from standin import Bus
from test_hardware import camera, counted  # noqa: F401 (the scenarios' fixtures, here on the stand-in)


@pytest.fixture
def oak():
    """An OAK-D-Pro on USB (the first camera found) and an OAK-D-LR on PoE."""
    bus = Bus(["oak-d-pro", "oak-d-lr"])
    yield bus.dai
    for board in bus.boards:
        board.release()


def on_the_standin(scenario):
    @functools.wraps(scenario)
    async def run(*args, **kwargs):
        try:
            return await scenario(*args, **kwargs)
        except pytest.skip.Exception as exc:
            if "OAK_TEST_" not in str(exc):
                pytest.fail(f"skipped on the stand-in, which has what it asks for: {exc}")
            raise
    return run


for name in ("test_scenario_on_a_real_camera", "test_depth_size_and_fps_bounds_are_the_cameras",
             "test_preview_and_a_detection_network_on_a_real_camera",
             "test_calibration_and_frame_headers_on_a_real_camera", "test_a_rebuild_keeps_the_camera_and_its_video_window",
             "test_the_ir_lights_the_right_camera_before_and_after_a_resolution_change",
             "test_a_config_change_on_poe_keeps_the_camera_connected", "test_a_luxonis_zoo_archive_deploys",
             "test_the_mjpeg_budget_is_the_measured_one"):
    globals()[name] = on_the_standin(getattr(hardware, name))
