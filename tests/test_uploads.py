"""Model uploads from a hostile client: files that crash depthai's parser, archive bombs, a parser that hangs or
eats memory, multipart bodies with too many or nested parts, a full disk, and replaced models: each is a clear
4xx (or a 503 for the disk), the service lives on, and nothing is left behind."""
import errno
import io
import json
import lzma
import sys
import tarfile
import tempfile

import pytest

import actors.nn
import blobs
from actors.model_check import MAX_ARCHIVE_BYTES, ModelChecker
from conftest import serve, assert_error, device_timeout, stream_url, wait_until
from service.app import create_app
from service.inputs import FLEET
from test_nn import MOBILENET, deploy, upload

# depthai's blob parser on the file as it is, with none of the service's checks before it.
BARE_PARSER = "import sys, depthai as dai; from pathlib import Path; dai.OpenVINO.Blob(Path(sys.argv[1]))"


@pytest.fixture
def app_client(aiohttp_client, backend, state_dir):
    async def make(**options):
        app = create_app(backend, state_dir=state_dir, device_timeout=device_timeout(backend), max_backoff=0.1,
                         discovery_interval=0.05, **options)
        client = await aiohttp_client(await serve(app))
        await wait_until(lambda: all(a.status == "connected" for a in app[FLEET].actors.values()))
        return client
    return make


def archive_of(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:xz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def claimed_archive(name: str, size: int) -> bytes:
    """An xz tar whose member claims `size` bytes (a bomb needs no more than its header to be refused)."""
    header = tarfile.TarInfo(name)
    header.size = size
    return lzma.compress(header.tobuf(format=tarfile.GNU_FORMAT) + bytes(1 << 16), preset=0)


async def assert_nothing_changed(client, cam, state_dir):
    resp = await client.get(stream_url(cam, "CAM_A", "nn"))
    assert resp.status == 200 and await resp.json() is None              # no network
    assert [p.name for p in (state_dir / "models").iterdir()] == []
    assert (await client.get("/healthz")).status == 200


async def test_an_empty_or_cut_short_model_is_refused_before_any_parser_sees_it(client, mxid, state_dir):
    cam = mxid("oak-d")
    url = stream_url(cam, "CAM_A", "nn")
    config = json.dumps(json.loads(blobs.archive_config()))
    cases = [(b"", "empty"), (blobs.blob()[:200], "cut short"),
             (archive_of({"config.json": config.encode(), "model.blob": b""}), "empty"),
             (archive_of({"config.json": config.encode(), "model.blob": blobs.blob()[:150]}), "cut short")]
    for model, words in cases:
        error = await assert_error(await client.post(url, data=upload(model, MOBILENET)), 422, "validation_error")
        assert words in error["fields"]["model"][0], error
    await assert_nothing_changed(client, cam, state_dir)


async def test_a_parser_that_crashes_is_a_422_naming_the_crash_and_the_service_lives(app_client, mxid, state_dir):
    client = await app_client(model_checker=ModelChecker(command=[sys.executable, "-c", BARE_PARSER]))
    cam = mxid("oak-d")
    error = await assert_error(await client.post(stream_url(cam, "CAM_A", "nn"), data=upload(b"", MOBILENET)), 422)
    assert "SIGSEGV" in error["fields"]["model"][0], error
    await assert_nothing_changed(client, cam, state_dir)


async def test_a_check_that_dies_by_a_signal_once_is_run_again_and_its_answer_stands(app_client, mxid, state_dir,
                                                                                   tmp_path):
    """Under the memory cap, one of depthai's own threads may fail an allocation and abort the child: no fault of
    the model, so a check that dies by a signal runs once more (a model that crashes the parser crashes it
    again: the test above)."""
    marker = str(tmp_path / "aborted once")
    script = (f"import json, os, signal\nif not os.path.exists({marker!r}):\n    open({marker!r}, 'w').close()\n"
              "    os.kill(os.getpid(), signal.SIGABRT)\n"
              "print(json.dumps({'refused': 'reading the model needs more than 1 MiB of memory'}))")
    client = await app_client(model_checker=ModelChecker(command=[sys.executable, "-c", script]))
    cam = mxid("oak-d")
    error = await assert_error(await client.post(stream_url(cam, "CAM_A", "nn"), data=upload(b"", MOBILENET)), 422)
    assert "more than 1 MiB of memory" in error["fields"]["model"][0], error
    await assert_nothing_changed(client, cam, state_dir)


async def test_the_second_try_has_what_is_left_of_the_one_deadline(app_client, mxid, state_dir, tmp_path):
    """A check that aborts near its deadline is tried again only within what is left of it: the second child,
    which would answer after half the deadline, is stopped, and the answer is the deadline's."""
    marker, deadline = str(tmp_path / "aborted once"), 3.0
    script = (f"import json, os, signal, time\nif not os.path.exists({marker!r}):\n    open({marker!r}, 'w').close()\n"
              f"    time.sleep({0.9 * deadline})\n    os.kill(os.getpid(), signal.SIGABRT)\n"
              f"time.sleep({0.5 * deadline})\nprint(json.dumps({{'refused': 'the second try answered'}}))")
    client = await app_client(model_checker=ModelChecker(deadline=deadline, command=[sys.executable, "-c", script]))
    cam = mxid("oak-d")
    error = await assert_error(await client.post(stream_url(cam, "CAM_A", "nn"), data=upload(b"", MOBILENET)), 422)
    assert "took longer than 3 s" in error["fields"]["model"][0], error
    await assert_nothing_changed(client, cam, state_dir)


async def test_a_child_that_crashes_after_its_answer_is_taken_at_its_word(app_client, mxid, state_dir):
    """depthai's own threads may crash the child after it has written its whole answer: the answer stands."""
    answer = '{"refused": "the model needs 9 shaves"}'
    child = f"import os, sys; sys.stdout.write('\\n' + {answer!r} + '\\n'); sys.stdout.flush(); os.abort()"
    client = await app_client(model_checker=ModelChecker(command=[sys.executable, "-c", child]))
    cam = mxid("oak-d")
    error = await assert_error(await client.post(stream_url(cam, "CAM_A", "nn"), data=upload(blobs.blob(), MOBILENET)), 422)
    assert error["fields"]["model"][0].endswith("the model needs 9 shaves"), error
    await assert_nothing_changed(client, cam, state_dir)


async def test_a_model_read_once_is_not_read_again_and_a_refused_one_is(app_client, mxid, tmp_path):
    """What depthai reads in a model depends on its bytes alone: the same model deployed again (another stream,
    another camera) is not parsed again; a refused one is, each time."""
    reads = tmp_path / "reads"
    counting = (f"import runpy; open({str(reads)!r}, 'a').write('x'); "
                "runpy.run_module('actors.model_check', run_name='__main__')")
    client = await app_client(model_checker=ModelChecker(command=[sys.executable, "-c", counting]))
    model = blobs.blob() + b"read once"          # bytes of this test's own
    for cam, stream in ((mxid("oak-d"), "CAM_A"), (mxid("oak-d"), "CAM_B"), (mxid("oak-1"), "CAM_A")):
        resp = await client.post(stream_url(cam, stream, "nn"), data=upload(model, MOBILENET))
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["model"]["input"] == [300, 300]
    assert reads.read_text() == "x"
    for _ in range(2):
        await assert_error(await client.post(stream_url(mxid("oak-d"), "CAM_A", "nn"), data=upload(b"\x7fELF", MOBILENET)),
                           422, "validation_error")
    assert reads.read_text() == "xxx"


async def test_an_archive_bomb_is_refused_before_it_inflates(client, mxid, state_dir):
    cam = mxid("oak-d")
    url = stream_url(cam, "CAM_A", "nn")
    zeros = archive_of({"config.json": blobs.archive_config().encode(), "model.blob": bytes(MAX_ARCHIVE_BYTES)})
    assert len(zeros) < 100_000
    for bomb in (zeros, claimed_archive("model.blob", 1 << 30)):
        error = await assert_error(await client.post(url, data=upload(bomb, MOBILENET, "model.tar.xz")), 422)
        assert "inflates to more than" in error["fields"]["model"][0], error
    many = archive_of({f"f{i}": b"x" for i in range(40)})
    error = await assert_error(await client.post(url, data=upload(many, MOBILENET, "model.tar.xz")), 422)
    assert "more than 16 members" in error["fields"]["model"][0], error
    await assert_nothing_changed(client, cam, state_dir)


@pytest.mark.parametrize("checker, words", [(ModelChecker(deadline=0.001), "took longer than 0.001 s"),
                                             (ModelChecker(memory=1 << 20), "more than 1 MiB of memory")])
# The parser reads the whole file into memory: 8 MiB of it cannot fit in 1 MiB.
async def test_a_parser_past_its_deadline_or_its_memory_is_a_422_naming_which(app_client, mxid, state_dir, checker,
                                                                              words):
    cam = mxid("oak-d")
    client = await app_client(model_checker=checker)
    model = blobs.blob() + bytes(8 << 20)
    error = await assert_error(await client.post(stream_url(cam, "CAM_A", "nn"), data=upload(model, MOBILENET)), 422)
    assert words in error["fields"]["model"][0], error
    await assert_nothing_changed(client, cam, state_dir)


def multipart(*parts: bytes, boundary: str = "b0undary") -> tuple[bytes, dict]:
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + p + b"\r\n" for p in parts) + f"--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def field(name: str, data: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    return f"Content-Disposition: {disposition}\r\n\r\n".encode() + data


async def test_multipart_is_bounded_and_every_malformed_body_is_a_4xx(client, mxid, state_dir):
    cam = mxid("oak-d")
    url = stream_url(cam, "CAM_A", "nn")
    model, config = field("model", blobs.blob(), "m.blob"), field("config", json.dumps(MOBILENET).encode())
    nested = (b'Content-Disposition: form-data; name="model"\r\nContent-Type: multipart/mixed; boundary=inner\r\n\r\n'
              b"--inner\r\nContent-Disposition: attachment\r\n\r\nx\r\n--inner--")
    cases = [
        (multipart(model, config, *(field(f"x{i}", b"1") for i in range(100_000))), 422, "more than 8 parts"),
        (multipart(model, field("config", b" " * 70_000)), 422, "larger than 65536 bytes"),
        (multipart(model, field("other", b"x" * 70_000), config), 422, "larger than 65536 bytes"),
        (multipart(nested, config), 422, "itself multipart"),
        (multipart(field("_charset_", b"u" * 40), model, config), 422, "multipart"),
        (multipart(model, field("config", b"[" * 5000 + b"]" * 5000)), 422, "nested too deeply"),
    ]
    for (body, headers), status, words in cases:
        error = await assert_error(await client.post(url, data=body, headers=headers), status)
        assert words in json.dumps(error), error
    body, headers = multipart(model, config)
    error = await assert_error(await client.post(url, data=body, headers={**headers, "Content-Encoding": "gzip"}),
                               400, "bad_request")
    assert "decode" in error["message"]
    await assert_nothing_changed(client, cam, state_dir)


async def test_a_model_upload_on_a_full_disk_is_a_503_and_leaves_nothing(client, mxid, state_dir, monkeypatch):
    def full(self, chunk):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(actors.nn.Upload, "write", full)
    cam = mxid("oak-d")
    error = await assert_error(await client.post(stream_url(cam, "CAM_A", "nn"), data=upload(blobs.blob(), MOBILENET)),
                               503, "model_not_saved")
    assert "No space left" in error["message"]
    await assert_nothing_changed(client, cam, state_dir)


async def test_a_replaced_or_removed_model_leaves_the_disk_at_once(client, mxid, state_dir):
    cam = mxid("oak-d")
    models = state_dir / "models"
    first = (await deploy(client, cam, "CAM_A"))["model"]["sha256"]
    await deploy(client, cam, "CAM_B", model=blobs.blob(64, 32, {"logits": (1, 10)}), config={"type": "Generic"})
    second = (await deploy(client, cam, "CAM_A", model=blobs.blob(320, 320)))["model"]["sha256"]
    assert first != second
    assert second in {p.name for p in models.iterdir()} and first not in {p.name for p in models.iterdir()}
    assert len(list(models.iterdir())) == 2                         # CAM_B's stays: its stream refers to it
    assert (await client.delete(stream_url(cam, "CAM_A", "nn"))).status == 204
    assert len(list(models.iterdir())) == 1


async def test_a_third_upload_while_two_are_under_way_is_a_503(client, mxid, state_dir):
    import asyncio
    from service.limits import WAITING_FOR_BODY
    cam = mxid("oak-d")
    url = stream_url(cam, "CAM_A", "nn")
    held = []
    for _ in range(2):                  # two uploads whose model is still on its way
        reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
        writer.write(f"POST {url} HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                     "Content-Length: 100000\r\n\r\n--b\r\nContent-Disposition: form-data; name=\"model\"; "
                     "filename=\"m.blob\"\r\n\r\n\x7fELF".encode())
        held.append(writer)
    await wait_until(lambda: len(WAITING_FOR_BODY) == 2)
    resp = await client.post(url, data=upload(blobs.blob(), MOBILENET))
    await assert_error(resp, 503, "uploads_busy")
    assert resp.headers["Retry-After"]
    for writer in held:
        writer.close()
    await wait_until(lambda: not WAITING_FOR_BODY)
    await deploy(client, cam, "CAM_A")                  # room again


async def test_a_service_without_a_state_folder_removes_its_models_folder_when_it_stops(aiohttp_client, backend,
                                                                                         tmp_path, monkeypatch):
    from service.nn import MODELS
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    app = create_app(backend, device_timeout=device_timeout(backend))
    assert not list(tmp_path.iterdir())                 # made, not started: no folder yet
    client = await aiohttp_client(app)
    folder = client.app[MODELS].directory
    assert folder.is_dir() and folder.parent == tmp_path
    fleet, there_when_cameras_stopped = client.app[FLEET], []
    stop = fleet.stop

    async def stopped():
        await stop()
        there_when_cameras_stopped.append(folder.exists())
    monkeypatch.setattr(fleet, "stop", stopped)
    await client.close()
    assert there_when_cameras_stopped == [True]         # the cameras' models stay until the cameras are gone
    assert not folder.exists()


async def test_making_the_app_touches_no_file_its_start_makes_the_state_folder(aiohttp_client, backend, tmp_path):
    from service.gateway import IDENTITY
    state = tmp_path / "state"
    app = create_app(backend, state_dir=state, device_timeout=device_timeout(backend))
    assert not state.exists()
    client = await aiohttp_client(app)
    gateway = await (await client.get("/gateway")).json()
    assert (state / "models").is_dir() and (state / "gateway-id").read_text().strip() == gateway["id"]
    assert app[IDENTITY].id == gateway["id"]
    await client.close()
    again = await aiohttp_client(create_app(backend, state_dir=state, device_timeout=device_timeout(backend)))
    assert (await (await again.get("/gateway")).json())["id"] == gateway["id"]        # kept across restarts
