"""Neural networks on streams: deploy a model with its config (multipart), show it, remove it, and a WebSocket of
its results on the same path."""
from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading
import weakref
from dataclasses import dataclass

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.multipart import BodyPartReader
from aiohttp_apigami import docs, match_info_schema

from actors.actor import CameraActor
from actors.backend import FrameSource
from actors.errors import StreamInactive
from actors.fanout import WAITING, FanOut, Latest
from actors.messages import DeployNN, RemoveNN
from actors.model import RVC2, RVC4
from actors.model_check import ModelChecker
from actors.nn import ModelFiles, ModelRefused
from schemas.nn import RESULTS_MESSAGE, NNConfigSchema, NNUploadSchema, NNViewSchema, view
from schemas.params import StreamPathSchema

from . import openapi
from .errors import ApiError, validation_error
from .inputs import FLEET, ask, body, load, revision, stream
from .logs import request_id_header

log = logging.getLogger(__name__)
MODELS = web.AppKey("models", ModelFiles)
CHECKER = web.AppKey("model_checker", ModelChecker)
SOCKETS = web.AppKey("nn_sockets", weakref.WeakSet)       # the open results sockets, closed at shutdown
TAG = ["neural networks"]
MAX_FIELD = 64 * 1024        # every part but the model: the config is a few hundred bytes
MAX_PARTS = 8                # model, config, and room for a client's extras
MAX_UPLOADS = 2              # received at once per gateway; their models are checked one at a time


@dataclass
class Uploads:
    """The model uploads under way, and how many may be."""
    limit: int = MAX_UPLOADS
    count: int = 0


UPLOADS = web.AppKey("uploads", Uploads)
_config = NNConfigSchema()
# GET …/nn with no network is 200 null, as the original API answers (Robopipe Studio reads null as "none").
NN_OR_NULL = {"anyOf": [NNViewSchema, {"type": "object", "nullable": True}]}


async def _read_upload(request: web.Request, upload) -> tuple[str | None, str | None]:
    """Stream the multipart body: the model part into `upload` (written off the loop); the config part's text
    and the model's name. At most MAX_PARTS parts, each but the model at most MAX_FIELD bytes."""
    if request.content_type != "multipart/form-data":
        raise validation_error({"model": ["Send multipart/form-data with a model file and a config part."]})
    config = filename = None
    try:
        reader = await body(request, request.multipart())
        for count in itertools.count(1):
            part = await body(request, reader.next())
            if part is None:
                break
            if count > MAX_PARTS:
                raise ApiError("invalid_multipart", f"the body has more than {MAX_PARTS} parts")
            if not isinstance(part, BodyPartReader):
                raise ApiError("invalid_multipart", "a part of the body is itself multipart")
            if part.name == "model":
                filename = part.filename or "model"
                while chunk := await body(request, part.read_chunk(1 << 20)):
                    await asyncio.to_thread(upload.write, chunk)
                continue
            raw = await body(request, part.read_chunk(MAX_FIELD + 1))
            if len(raw) > MAX_FIELD or await body(request, part.read_chunk(1)):
                raise validation_error({part.name or "part": [f"The part is larger than {MAX_FIELD} bytes."]})
            if part.name == "config":
                config = raw.decode("utf-8", errors="replace")
    except ModelRefused as exc:                            # over the size limit
        raise ApiError("body_too_large", str(exc)) from None
    except OSError as exc:
        if isinstance(exc, ConnectionError):
            raise
        log.error("saving an uploaded model failed: %s", exc)
        raise ApiError("model_not_saved", f"the model could not be saved: {exc.strerror or exc}",
                       headers={"Retry-After": "5"}) from None
    except (ValueError, AssertionError, RuntimeError, LookupError, HttpProcessingError) as exc:   # does not parse
        raise ApiError("invalid_multipart", f"the body is not valid multipart/form-data: {exc}") from None
    return config, filename


def _check_platform(actor: CameraActor, model: dict) -> None:
    """R23: a model runs on the platforms depthai's NNArchive.getSupportedPlatforms() names: RVC2 (OAK) for an
    OpenVINO (VPU) blob, bare or in an NN archive, RVC4 (OAK4) for an NN archive holding a .dlc."""
    platforms, platform = model.get("platforms", [RVC2]), actor.info.platform
    if platform in platforms:
        return
    if platform == RVC2:
        raise validation_error({"model": [
            f"this NN archive is built for {', '.join(platforms)} (OAK4: a .dlc model); camera {actor.mxid} is "
            f"an OAK ({platform}), which runs OpenVINO blobs compiled for RVC2, bare or in an NN archive"]},
            f"the model cannot run on an OAK ({platform}) camera")
    held = " in an NN archive" if model["format"] == "nn_archive" else ""
    raise validation_error({"model": [
        f"this model is compiled for RVC2 (an OpenVINO blob{held}); camera {actor.mxid} is an OAK4 ({platform}), "
        "which runs only NN archives built for RVC4 (holding a .dlc model)"]},
        f"the model cannot run on an OAK4 ({platform}) camera")


# The parsers DetectionParser.setConfig takes an NN archive's head for (src/pipeline/node/DetectionParser.cpp).
DETECTION_HEADS = {"YOLO": "YOLO", "YOLOExtendedParser": "YOLO", "SSD": "MobileNet", "MOBILENET": "MobileNet"}


def _check_fit(config: dict, model: dict) -> None:
    """What the decoder needs of the network's outputs (the camera's DetectionParser reads them so), and of an
    archive deployed by `setNNArchive` (RVC4's): DetectionNetwork.setNNArchive gives the archive to its parser,
    which throws unless it declares detection heads of one family (YOLO or SSD)."""
    outputs = model["outputs"]
    if config["type"] != "Generic" and RVC4 in model.get("platforms", ()):
        families = {DETECTION_HEADS[h] for h in model.get("heads", ()) if h in DETECTION_HEADS}
        if len(families) != 1:
            raise validation_error({"model": [
                f"a {config['type']} network from an NN archive needs the archive to declare a detection head "
                f"of one family (YOLO or SSD), as depthai's DetectionNetwork.setNNArchive requires; this one "
                f"declares {model.get('heads') or 'no head'}"]})
    if config["type"] == "MobileNet" and not any(len(s) >= 2 and s[-1] == 7 for s in outputs.values()):
        raise validation_error({"model": ["A MobileNet (SSD) network has an output of [..., N, 7] "
                                          f"(the detections); this one has {outputs}."]})
    if config["type"] == "YOLO":
        per_cell = (config["num_classes"] + config["coordinates"] + 1)
        if not all(len(s) == 4 and s[1] % per_cell == 0 for s in outputs.values()):
            raise validation_error({"num_classes": [f"YOLO outputs have (num_classes + coordinates + 1) x anchors "
                                                    f"channels ({per_cell} x anchors); this network's are {outputs}."]})


@docs(tags=TAG, summary="Deploy Neural Network",
      description="Runs a network on the stream, replacing the one it had: `model` is, for an OAK (RVC2), an "
                  "OpenVINO blob compiled for RVC2 (or an NN archive, .tar.xz, holding one), for an OAK4 (RVC4) "
                  "an NN archive built for RVC4 (a .dlc model, its outputs' shapes in its config.json), at most "
                  "64 MiB; a model for the other chip is a 422; `config` is NNConfig as "
                  "JSON, flat or with the decoder's fields nested in `nn_config` (the original API's form). "
                  "The answer, as GET's, has the original's `type`, `num_inference_threads` and `nn_config`. "
                  "The network sees the centre of the frame at its input's shape, scaled to its input "
                  "size; on depth streams it sees the left sensor and reports millimetres too. The model is "
                  "kept with the camera's state and runs again after a reconnect or a restart. A file that is "
                  "not such a model is a 422 that says why, and nothing changes. Results: a WebSocket on this "
                  "path.",
      requestBody={"required": True, "content": {"multipart/form-data": {"schema": NNUploadSchema}}},
      responses={200: {"description": "What now runs on the stream", "headers": openapi.REVISION_HEADER,
                       "content": {"application/json": {"schema": NNViewSchema}}},
                 **openapi.errors(*openapi.STREAM, "body_too_large", "invalid_multipart", "uploads_busy",
                                  "model_not_saved", *openapi.WRITE)})
@match_info_schema(StreamPathSchema)
async def deploy_nn(request: web.Request) -> web.Response:
    actor, name = stream(request)
    files, uploads = request.app[MODELS], request.app[UPLOADS]
    if uploads.count >= uploads.limit:
        raise ApiError("uploads_busy", f"{uploads.limit} model uploads are under way; try again",
                       headers={"Retry-After": "5"})
    uploads.count += 1
    try:
        upload = files.upload()
        try:
            text, filename = await _read_upload(request, upload)
            upload.file.close()
            config = _config_of(text, filename)
            sha256 = upload.hash.hexdigest()
            try:
                info = await request.app[CHECKER].check(upload.path, sha256)
            except ModelRefused as exc:
                raise validation_error({"model": [str(exc)]}, "the model cannot run on an OAK camera") from None
            _check_platform(actor, info)
            _check_fit(config, info)
            try:
                path = await asyncio.to_thread(files.keep, upload.path, sha256)
            except OSError as exc:
                raise ApiError("model_not_saved", f"the model could not be saved: {exc.strerror or exc}",
                               headers={"Retry-After": "5"}) from None
        finally:
            upload.discard()              # nothing is left of a refused upload; a kept one was moved away
    finally:
        uploads.count -= 1
    nn = {"config": config, "model": {"sha256": sha256, "size": upload.size, "filename": filename[:255], **info},
          "path": str(path)}
    try:
        with files.held(sha256):
            state = await ask(request, actor, DeployNN(name, nn))
    finally:
        await _prune(request)          # the replaced network's file, or this one's if the camera refused it
    log.info("camera %s: %s runs %s network %s", actor.mxid, name, config["type"], sha256[:12])
    return web.json_response(view(state.streams[name].nn), headers=revision(state))


def _config_of(text: str | None, filename: str | None) -> dict:
    missing = {field: ["Missing data for required field."] for field, got in
               (("model", filename), ("config", text)) if got is None}
    if missing:
        raise validation_error(missing)
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise validation_error({"config": [f"Not valid JSON: {exc}"]}) from None
    except RecursionError:
        raise validation_error({"config": ["The JSON is nested too deeply."]}) from None
    if not isinstance(document, dict):
        raise validation_error({"config": ["The config must be a JSON object."]})
    return load(_config, document, what="config")


async def _prune(request: web.Request) -> None:
    """Remove the model files no camera's state refers to any more (a replaced or removed network's)."""
    files = request.app[MODELS]
    keep = files.holding() | {s.nn["model"]["sha256"] for a in request.app[FLEET].actors.values()
                              for s in a.state.streams.values() if s.nn is not None}
    await asyncio.to_thread(files.prune, keep)


@docs(tags=TAG, summary="Get Neural Network",
      description="What runs on the stream: the original API's NNConfig (`type`, `num_inference_threads`, "
                  "`nn_config`) beside the config as kept and the model; `null` when nothing runs.\n\nA WebSocket "
                  "upgrade on this path gets the network's results, one JSON text message per processed frame: for "
                  "YOLO and MobileNet (DetectionsMessage) `detections` (label: the class index, label_name, class_id,"
                  " confidence, coords [xmin, ymin, xmax, ymax] as fractions of the network's view, frame_coords of "
                  "the whole frame and, on depth streams, spatial_coords in mm); for Generic networks "
                  "(TensorsMessage) `detections`, the first output layer's values, and `outputs`, every layer; with "
                  "the frame's timestamp and sequence. A slow client skips results; none queue. While the camera is "
                  "disconnected the socket waits. Close codes: 1000 the stream was deactivated or its network "
                  "removed, 1001 the service is stopping. No network (`no_nn`) or an inactive stream is a 409, before"
                  " the upgrade.",
      responses={200: {"description": "What runs on the stream, or null", "headers": openapi.REVISION_HEADER,
                       "content": {"application/json": {"schema": NN_OR_NULL}}},
                 101: {"description": "The WebSocket of results: each text message is a DetectionsMessage (YOLO, "
                                        "MobileNet) or a TensorsMessage (Generic)",
                       "content": {"application/json": {"schema": RESULTS_MESSAGE}}},
                 **openapi.errors(*openapi.STREAM, "no_nn", "stream_inactive")})
@match_info_schema(StreamPathSchema)
async def get_nn(request: web.Request) -> web.StreamResponse:
    actor, name = stream(request)
    state = actor.state
    nn = state.streams[name].nn
    if web.WebSocketResponse().can_prepare(request).ok:
        if nn is None:
            raise ApiError("no_nn", f"no neural network runs on {name}; POST one to this path first")
        if not actor.state.streams[name].active:
            raise StreamInactive(f"{name} is not active; activate it first")
        return await _results(request, actor, name)
    return web.json_response(None if nn is None else view(nn), headers=revision(state))


@docs(tags=TAG, summary="Remove Neural Network", description="Idempotent. The stream goes on without it.",
      responses={204: {"description": "No network runs on the stream", "headers": openapi.REVISION_HEADER},
                 **openapi.errors(*openapi.STREAM, *openapi.WRITE)})
@match_info_schema(StreamPathSchema)
async def remove_nn(request: web.Request) -> web.Response:
    actor, name = stream(request)
    state = await ask(request, actor, RemoveNN(name))
    await _prune(request)
    return web.Response(status=204, headers=revision(state))


class Results:
    """One reader thread per network output, however many WebSockets watch it, publishing each result (as JSON
    text) once to its watchers (actors.fanout: each holds only the latest, so a slow one skips and nothing
    queues). A reader that fails is gone from the table, and the next `watch` of its watchers starts another."""

    def __init__(self):
        self._feeds: dict[int, tuple[FrameSource, FanOut[str]]] = {}
        self._lock = threading.Lock()

    def watch(self, output: FrameSource, watcher: Latest[str]) -> None:
        """Idempotent: the watcher is fed by the output's reader, started if none runs."""
        with self._lock:
            feed = self._feeds.get(id(output))
            if feed is None or feed[0] is not output:
                feed = self._feeds[id(output)] = (output, FanOut(asyncio.get_running_loop()))
                threading.Thread(target=self._read, args=(feed,), name="nn-results", daemon=True).start()
            feed[1].consumers.add(watcher)

    def leave(self, output: FrameSource, watcher: Latest[str]) -> None:
        with self._lock:
            feed = self._feeds.get(id(output))
            if feed is not None and feed[0] is output:
                feed[1].consumers.discard(watcher)

    def _read(self, feed: tuple[FrameSource, FanOut[str]]) -> None:
        output, fanout = feed
        sequence = -1
        try:
            while not output.closed:
                with self._lock:
                    if not fanout.consumers:
                        return
                got = output.detections_after(sequence, 1.0)
                if got is not None:
                    sequence = got[0]
                    fanout.publish(json.dumps(got[1]))
        except Exception:  # noqa: BLE001 (logged; the watchers' next look starts a new reader)
            log.exception("the results reader of a network failed")
        finally:
            with self._lock:
                if self._feeds.get(id(output)) is feed:
                    del self._feeds[id(output)]


RESULTS = web.AppKey("results", Results)


async def _results(request: web.Request, actor: CameraActor, name: str) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(compress=False, max_msg_size=4096)
    ws.headers.update(request_id_header())
    await ws.prepare(request)
    sockets = request.app[SOCKETS]
    sockets.add(ws)
    results, watcher, output = request.app[RESULTS], Latest[str](), None
    listening = asyncio.create_task(_until_closed(ws))
    try:
        while not (ws.closed or listening.done()):
            state = actor.state.streams[name]
            if not state.active or state.nn is None:
                await ws.close(code=1000, message=b"stream deactivated" if not state.active else b"network removed")
                break
            current = actor.output(name)          # None while disconnected; a new one after a restart
            if current is not output:
                if output is not None:
                    results.leave(output, watcher)
                output = current
                if output is not None:
                    results.watch(output, watcher)
            text = await watcher.next(1.0) if output is not None else await _pause(listening)
            if text is not None and text is not WAITING and not ws.closed:
                await ws.send_str(text)
            elif output is not None:
                results.watch(output, watcher)      # nothing for a second: a reader that failed is replaced
    except ConnectionError:
        pass
    finally:
        listening.cancel()
        sockets.discard(ws)
        if output is not None:
            results.leave(output, watcher)
    return ws


async def _pause(listening: asyncio.Task) -> None:
    """While the camera is away: look again in half a second, or at once when the client leaves."""
    await asyncio.wait([listening], timeout=0.5)


async def _until_closed(ws: web.WebSocketResponse) -> None:
    async for _ in ws:
        pass


def add_routes(add) -> None:
    path = "/cameras/{mxid}/streams/{stream_name}/nn"
    add("GET", path, get_nn)
    add("POST", path, deploy_nn)
    add("DELETE", path, remove_nn)


def setup(app: web.Application, models: ModelFiles, checker: ModelChecker | None = None) -> None:
    app[MODELS], app[RESULTS], app[SOCKETS] = models, Results(), weakref.WeakSet()
    app[CHECKER] = checker or ModelChecker()
    app[UPLOADS] = Uploads()

    async def close(_app):
        for ws in list(app[SOCKETS]):
            await ws.close(code=1001, message=b"service shutting down")
    app.on_shutdown.append(close)
