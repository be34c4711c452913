import asyncio

import numpy as np
import pytest
import simplejpeg
from aiohttp.test_utils import TestServer

from actors.simulated.device import SimBackend
from actors.simulated.models import mxid_for
from service.app import create_app
from service.inputs import FLEET
from service.metrics import RUNNER_OPTIONS

MODELS = ["oak-d", "oak-1", "oak-d-lr", "oak-d-pro"]


@pytest.fixture
def backend():
    backend = SimBackend(MODELS)
    yield backend
    for device in backend.devices:      # let hung simulated operations end, so their threads can exit
        device.release()


@pytest.fixture
def mxid():
    """The mxid of the first simulated camera of a model."""
    return lambda model: mxid_for(model, 0)


async def wait_until(predicate, timeout=5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


@pytest.fixture
def state_dir(tmp_path):
    return tmp_path / "state"


@pytest.fixture
async def client(aiohttp_client, backend, state_dir):
    app = create_app(backend, state_dir=state_dir, device_timeout=0.5, max_backoff=0.1, discovery_interval=0.05)
    server = TestServer(app)
    await server.start_server(**RUNNER_OPTIONS)       # served as the command serves it, request metrics on
    client = await aiohttp_client(server)
    fleet = app[FLEET]
    await wait_until(lambda: all(a.status == "connected" for a in fleet.actors.values()))
    return client


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
