import asyncio
import threading
import time

import numpy as np
import pytest
import simplejpeg
from aiohttp import web_app
from aiohttp.test_utils import TestServer

from actors.backend import FaultInjection
from actors.depthai_backend import DepthAIBackend
from actors.sensors import AR0234, IMX378, OV9282
from actors.simulated import scene
from actors.simulated.device import SimBackend
from actors.simulated.models import mxid_for
from service.app import create_app
from service.inputs import FLEET
from service.metrics import runner_options
from standin import Bus
import spec_check
from broker import broker  # noqa: F401 (a fixture: a real Mosquitto broker on a free loopback port)
from timing import scaled

spec_check.install()          # every response of every test is checked against the spec its app serves

MODELS = ["oak-d", "oak-1", "oak-d-lr", "oak-d-pro"]


def pytest_collection_modifyitems(items):
    """The long tests first (marked `long`): xdist hands tests out in this order, and one started last would
    leave its worker running alone after the others are done."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


@pytest.fixture(autouse=True, scope="session")
def scenes():
    """The simulated scene is drawn once per size and kept: draw the large ones before the tests, so that a
    test's short device deadline measures the backend, not the first drawing of a 12 MP test card."""
    for sensor in (IMX378, AR0234, OV9282):
        for mode in sensor["modes"]:
            scene.color_scene(mode.width, mode.height)
            scene.noise_pattern(mode.width, mode.height)
            scene.noise_pattern(mode.width // 2 + 1, mode.height // 2 + 1)


def forget_handler_chains() -> None:
    """aiohttp keeps the handler chains it built (an lru_cache of 1,024 in web_app), each naming its app: until
    they are forgotten, no app that served a request is freed, nor its cameras, frames and encoders."""
    web_app._cached_build_middleware.cache_clear()


@pytest.fixture(autouse=True)
def free_apps():
    """The apps of finished tests are freed (a worker held every app it had run, 5 GB and hundreds of encoder
    threads by the end of a run)."""
    yield
    forget_handler_chains()


CAMERA_THREADS = ("frames-", "camera-", "video-")       # a camera's reader, its device worker, its encoders


@pytest.fixture(autouse=True)
def no_camera_thread_left():
    """No camera's thread outlives the test that opened the camera: a reader left reads and encodes to the end
    of its worker, and a worker's event loop then failed to close (a run that never ended)."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + scaled(10.0)
    while left := [t.name for t in set(threading.enumerate()) - before if t.name.startswith(CAMERA_THREADS)]:
        assert time.monotonic() < deadline, f"the test left camera threads running: {left}"
        time.sleep(0.05)


def device_open(device) -> bool:
    """Whether the simulated camera is open, or the stand-in's board booted by a host."""
    return device.is_open if hasattr(device, "is_open") else bool(device.booted)


class StandinBackend(DepthAIBackend, FaultInjection):
    """The DepthAI backend on the stand-in for depthai's device layer, with the simulator's test handles:
    `devices` and `device(mxid)` are the stand-in's boards."""

    def __init__(self, models):
        self.bus = Bus(models)
        # The stand-in's cameras reboot in a fraction of a second (standin.REBOOT): a rebuild waits a second
        # at most for one, so that deadlines in the tests stay short.
        super().__init__(self.bus.dai, reboot_wait={"usb": 1.0, "poe": 1.0})

    @property
    def devices(self):
        return self.bus.boards

    def device(self, mxid):
        return self.bus.board(mxid)


BACKENDS = {"simulator": SimBackend, "depthai": StandinBackend}


def device_timeout(backend, hangs: bool = False) -> float:
    """The device deadline tests run with: one a loaded 2-core machine never reaches doing the work (a 12 MP
    first frame on the stand-in, whose frames are drawn for real, among it); short for the tests whose cameras
    hang (marked `hangs`), so that they find the hang without waiting long."""
    if hangs:
        return 1.5 if isinstance(backend, StandinBackend) else 1.0
    return 8.0


@pytest.fixture(params=list(BACKENDS))
def make_backend(request):
    """Every test that drives a backend runs on both: the simulator and the DepthAI backend on its stand-in."""
    made = []

    def make(models):
        made.append(BACKENDS[request.param](models))
        return made[-1]
    yield make
    for backend in made:                # let hung operations end, so their threads can exit
        for device in backend.devices:
            device.release()


@pytest.fixture
def backend(make_backend):
    return make_backend(MODELS)


@pytest.fixture
def mxid():
    """The mxid of the first simulated camera of a model."""
    return lambda model: mxid_for(model, 0)


async def wait_until(predicate, timeout=5.0):
    deadline = asyncio.get_running_loop().time() + scaled(timeout)
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


@pytest.fixture
def state_dir(tmp_path):
    return tmp_path / "state"


@pytest.fixture
async def client(aiohttp_client, backend, state_dir, request):
    hangs = request.node.get_closest_marker("hangs") is not None
    app = create_app(backend, state_dir=state_dir, device_timeout=device_timeout(backend, hangs), max_backoff=0.1,
                     discovery_interval=0.05)
    client = await aiohttp_client(await serve(app))
    fleet = app[FLEET]
    await wait_until(lambda: all(a.status == "connected" for a in fleet.actors.values()))
    return client


async def serve(app, **options) -> TestServer:
    """The app served as the command serves it: request metrics on, and a handler whose client hangs up is
    not cancelled (TestServer's own default) but sees the connection's loss where it reads. `options`: more of
    aiohttp's server options."""
    server = TestServer(app)
    await server.start_server(**runner_options(app), **options)
    server.runner.server.handler_cancellation = False
    return server


def stream_url(mxid, stream, tail=""):
    return f"/cameras/{mxid}/streams/{stream}/{tail}"


async def activate(client, mxid, stream):
    resp = await client.post(stream_url(mxid, stream))
    assert resp.status == 204, await resp.text()


async def still_yuv(client, mxid, stream):
    """A jpeg still of the stream, decoded to an (h, w, 3) RGB array."""
    resp = await client.get(stream_url(mxid, stream, "still"))
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "image/jpeg"
    return simplejpeg.decode_jpeg(await resp.read())


def mean(image) -> float:
    return float(np.asarray(image, dtype=np.float64).mean())


async def assert_error(resp, status, code=None):
    """The response is the API's JSON error with this status (and code); returns the error object."""
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/json"
    body = await resp.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["status"] == status and isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code, error
    return error
