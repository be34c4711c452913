"""The application factory: routes, the fleet's life cycle and the OpenAPI spec."""
from __future__ import annotations

import asyncio
import functools
from pathlib import Path

from aiohttp import web

from actors.backend import Backend
from actors.fleet import Fleet
from actors.model_check import ModelChecker
from actors.nn import ModelFiles
from actors.store import StateStore
from schemas.state import SavedStateReader

from . import cameras, events, gateway, health, metrics, mqtt, nn, openapi, security, sim, sse, streams, video
from .front import Anything, expect, front_door, no_route
from .logs import quiet_bad_requests
from .inputs import BODY_TIMEOUT, FLEET

MAX_BODY = 64 * 1024     # config and control bodies are a few hundred bytes


def _routes(app: web.Application, modules, door) -> None:
    """Each module's routes, and their twins with or without the trailing slash, with no redirect (a redirect
    loses a POST body in many clients), and HEAD beside every GET but the endless streams; every handler behind the
    front door (service/front.py), and last the route that answers what no other takes. Only the documented
    paths appear in the spec: the twins' handlers carry no docs. The router tries resources in order, so the
    busiest come first and the twins last."""
    twins = []

    def add(method: str, path: str, handler, *, head: bool = True) -> None:
        """A route; a GET has a HEAD too (as GET without the body: probes, caches) unless `head` is false (an
        endless stream)."""
        app.router.add_route(method, path, functools.update_wrapper(door(handler), handler),    # with its docs
                             expect_handler=expect)
        paths = [path] if path == "/" else [path, path[:-1] if path.endswith("/") else path + "/"]
        twins.extend((method, twin, handler) for twin in paths[1:])
        if method == "GET" and head:
            twins.extend(("HEAD", each, handler) for each in paths)

    for module in modules:
        module.add_routes(add)
    for method, path, handler in twins:
        app.router.add_route(method, path, door(handler), expect_handler=expect)
    known = list(app.router.resources())
    app.router.register_resource(last := Anything())
    last.add_route("*", door(no_route(known)), expect_handler=expect)


def create_app(backend: Backend, *, state_dir: Path | None = None, mailbox_size: int = 128,
               device_timeout: float = 10.0, max_backoff: float = 30.0, discovery_interval: float = 2.0,
               max_body: int = MAX_BODY, tokens: list[str] | None = None, cors_origins: list[str] | None = None,
               with_metrics: bool = True, max_feeds: int = 4, initial_streams: str = "none",
               body_timeout: float = 10.0, model_checker: ModelChecker | None = None,
               mqtt_target: mqtt.MqttTarget | None = None, mqtt_results: bool = False) -> web.Application:
    """The application; with `state_dir` each camera's desired state is saved there and restored, with
    `tokens` every endpoint but /healthz needs one of them, with `cors_origins` browsers on those may call, with
    `mqtt_target` the events go to that broker too (with `mqtt_results`, the networks' results as well)."""
    # No middleware but CORS's preflight (service/front.py says why); request metrics come from the runner
    # (metrics.runner_options).
    app = web.Application(client_max_size=max_body)
    quiet_bad_requests()
    if cors_origins:
        security.setup_cors(app, cors_origins)
    # Made here, opened at start (`files`): making the app touches no file.
    store = StateStore(state_dir, SavedStateReader()) if state_dir is not None else None
    app[gateway.IDENTITY] = identity = gateway.Identity.make(None)      # the saved id replaces it at start
    fleet = Fleet(backend, store=store, interval=discovery_interval, initial_streams=initial_streams,
                  mailbox_size=mailbox_size, timeout=device_timeout, max_backoff=max_backoff)
    # Models live beside the state they belong to; without a state folder, for this run only, in a folder
    # removed at the end.
    models = store.models if store is not None else ModelFiles(None)

    async def open_files(_app):
        """First at start: the state folder (and the gateway's id in it, which the start event tells), or the
        run's models folder."""
        if store is not None:
            await asyncio.to_thread(store.open)
            identity.id = await asyncio.to_thread(store.gateway_id)
        else:
            await asyncio.to_thread(models.open)
    app.on_startup.append(open_files)
    app[FLEET] = fleet
    events.setup(app, fleet, identity.boot_id, lambda: gateway.gateway_body(app))
    app[BODY_TIMEOUT] = body_timeout
    app[health.READY] = False
    modules = (streams, cameras, video, nn, gateway, sse, health, openapi) + ((sim,) if sim.enabled(backend) else ())
    _routes(app, modules + ((metrics,) if with_metrics else ()), front_door(tokens or []))
    video.setup(app, max_feeds)
    nn.setup(app, models, model_checker)
    publisher = None
    if mqtt_target is not None:
        publisher = mqtt.setup(app, mqtt_target, identity, fleet, lambda: gateway.gateway_body(app), mqtt_results)
    if with_metrics:
        app[metrics.METRICS] = metrics.Metrics(fleet, app[video.VIDEO], identity, app[events.EVENTS], publisher)
    openapi.setup(app, version=gateway.installed("oak-camera-service"), tokens=bool(tokens))

    async def start(_app):
        await fleet.start()
        app[health.READY] = True

    async def stop(_app):
        """The cameras, then the files they use."""
        await fleet.stop()
        await asyncio.to_thread(models.close)

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return app
