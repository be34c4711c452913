"""Prometheus metrics at /metrics."""
from __future__ import annotations

import logging
import time
import weakref
from bisect import bisect_left
from itertools import accumulate

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp_apigami import docs
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, InfoMetricFamily

from actors.fleet import Fleet
from actors.video import VideoHub
from schemas.camera import CAMERA_STATES

from . import openapi
from .events import Events
from .front import NO_ROUTE
from .gateway import Identity
from .mqtt import Publisher
from .inputs import METRICS

METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"))
RATE_WINDOW = 1.0     # s: stream_fps is measured over scrapes at least this far apart
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class RouteStats:
    """Requests of one route and method: counts by status and a latency histogram, kept as plain numbers on
    the hot path (a few hundred nanoseconds a request) and turned into Prometheus samples when scraped."""

    __slots__ = ("statuses", "buckets", "total")

    def __init__(self):
        self.statuses: dict[int, int] = {}
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)      # the last one is +Inf
        self.total = 0.0

    def add(self, status: int, seconds: float) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.total += seconds


class Metrics:
    def __init__(self, fleet: Fleet, video: VideoHub, identity: Identity, events: Events,
                 mqtt: Publisher | None = None):
        self.registry = CollectorRegistry()
        self.routes: dict[tuple, RouteStats] = {}          # by (route object, method)
        self.commands = Histogram("camera_command_duration_seconds",
                                  "Time from posting a command to a camera's actor to its answer",
                                  ["mxid"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self._command_children: dict[str, object] = {}
        self.registry.register(_Live(fleet, video, self.routes))
        self.registry.register(_About(fleet, identity, events))
        if mqtt is not None:
            self.registry.register(_Mqtt(mqtt))

    def command_latency(self, mxid: str):
        child = self._command_children.get(mxid)
        if child is None:
            child = self._command_children[mxid] = self.commands.labels(mxid)
        return child


class _About:
    """Who the gateway is (GET /gateway): its identity as labels of oak_camera_service_info, and its figures."""

    def __init__(self, fleet: Fleet, identity: Identity, events: Events):
        self.fleet, self.identity, self.events = fleet, identity, events

    def collect(self):
        i = self.identity
        yield InfoMetricFamily("oak_camera_service", "Who this gateway is (GET /gateway)", value={
            "gateway_id": i.id, "hostname": i.hostname, "version": i.version,
            "depthai_version": i.depthai_version or "", "boot_id": i.boot_id})
        yield GaugeMetricFamily("oak_camera_service_start_time_seconds", "When the service started (Unix time)",
                                value=i.started_at)
        yield GaugeMetricFamily("oak_camera_service_cameras", "Cameras the service has found",
                                value=len(self.fleet.actors))
        yield CounterMetricFamily("events", "Events published (GET /events)", value=self.events.last_seq)
        yield GaugeMetricFamily("events_readers", "Readers of the events: /events clients and the MQTT publisher",
                                value=len(self.events.subscribers))
        yield CounterMetricFamily("events_resets", "Times a reader fell too far behind and was reset",
                                  value=self.events.resets)


class _Mqtt:
    """The MQTT publisher: whether it is connected, what it sent and what it dropped."""

    def __init__(self, publisher: Publisher):
        self.publisher = publisher

    def collect(self):
        p = self.publisher
        yield GaugeMetricFamily("mqtt_connected", "1 while the broker is connected", value=float(p.connected))
        yield CounterMetricFamily("mqtt_connects", "Connections made to the broker", value=p.connects)
        yield CounterMetricFamily("mqtt_published", "Events published to the broker", value=p.published)
        yield CounterMetricFamily("mqtt_dropped", "Events dropped while the broker was away or slow (the retained "
                                  "state is republished after)", value=p.dropped)


class _Live:
    """Values read from the fleet and the video hub when Prometheus scrapes."""

    def __init__(self, fleet: Fleet, video: VideoHub, routes: dict):
        self.fleet, self.video, self.routes = fleet, video, routes
        # Per running output: (frames, time) of the scrape a rate is measured from, and the last rate. Keyed
        # by the output object, so a restarted stream starts afresh; entries of stopped outputs go.
        self._rates: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def _rate(self, output, received: int, now: float) -> float:
        """The output's frames a second since an earlier scrape at least RATE_WINDOW ago (0 until there is one)."""
        since, then, rate = self._rates.get(output, (received, now, 0.0))
        if now - then >= RATE_WINDOW:
            rate, since, then = max(0, received - since) / (now - then), received, now
        self._rates[output] = (since, then, rate)
        return rate

    def collect(self):
        requests = CounterMetricFamily("http_requests", "HTTP requests by route, method and status",
                                       labels=["route", "method", "status"])
        latency = HistogramMetricFamily("http_request_duration_seconds", "HTTP request latency by route and method",
                                        labels=["route", "method"])
        for (route, method), stats in list(self.routes.items()):
            name = route.resource.canonical if route is not None else "(no route)"
            for status, count in list(stats.statuses.items()):
                requests.add_metric([name, method, str(status)], count)
            bounds = [str(b) for b in LATENCY_BUCKETS] + ["+Inf"]
            latency.add_metric([name, method], list(zip(bounds, accumulate(stats.buckets))), stats.total)
        yield from (requests, latency)
        state = GaugeMetricFamily("camera_state", "1 for the camera's current state", labels=["mxid", "state"])
        reconnects = CounterMetricFamily("camera_reconnects", "Times the camera came back after a loss", labels=["mxid"])
        mailbox = GaugeMetricFamily("camera_mailbox_depth", "Commands waiting for the camera", labels=["mxid"])
        active = GaugeMetricFamily("stream_active", "1 when the stream is active", labels=["mxid", "stream"])
        for mxid, actor in self.fleet.actors.items():
            for name in CAMERA_STATES:
                state.add_metric([mxid, name], 1.0 if actor.status == name else 0.0)
            reconnects.add_metric([mxid], actor.reconnects)
            mailbox.add_metric([mxid], actor.mailbox_depth)
            for stream, s in actor.state.streams.items():
                active.add_metric([mxid, stream], 1.0 if s.active else 0.0)
        yield from (state, reconnects, mailbox, active)
        yield from self._device_stats()
        families = {
            "frames": CounterMetricFamily("stream_frames_received", "Frames that reached the gateway since the "
                                          "stream started (as /stats), watched or not", labels=["mxid", "stream"]),
            "dropped": CounterMetricFamily("stream_frames_dropped", "Frames lost on the way from the camera since "
                                           "the stream started: gaps in its frame numbers (as /stats)",
                                           labels=["mxid", "stream"]),
            "fps": GaugeMetricFamily("stream_fps", "Frames reaching the gateway a second, between the last two "
                                     "scrapes at least a second apart", labels=["mxid", "stream"]),
            "skipped": CounterMetricFamily("stream_frames_skipped", "Video frames skipped for a viewer's lower "
                                           "requested frame rate", labels=["mxid", "stream"]),
            "encodes": CounterMetricFamily("stream_encodes", "JPEG encodes of video frames",
                                           labels=["mxid", "stream"]),
            "viewers": GaugeMetricFamily("stream_viewers", "Clients watching the stream's video",
                                         labels=["mxid", "stream"]),
        }
        now = time.monotonic()
        for mxid, actor in self.fleet.actors.items():
            for stream in actor.state.streams:
                output = actor.output(stream)
                if output is None:
                    continue
                received, dropped = output.counts()     # not blocking: the output's own counters
                labels = [mxid, stream]
                families["frames"].add_metric(labels, received)
                families["dropped"].add_metric(labels, dropped)
                families["fps"].add_metric(labels, self._rate(output, received, now))
        for (mxid, stream), stats in self.video.stats.items():
            labels = [mxid, stream]
            families["skipped"].add_metric(labels, stats.dropped)
            families["encodes"].add_metric(labels, stats.encodes)
            families["viewers"].add_metric(labels, self.video.viewers_of(mxid, stream))
        yield from families.values()


    def _device_stats(self):
        """The cameras' own figures, as the actors last read them (their health jobs read them every 10 s)."""
        temperature = GaugeMetricFamily("camera_chip_temperature_celsius", "Chip temperature by block",
                                        labels=["mxid", "block"])
        memory = GaugeMetricFamily("camera_memory_used_bytes", "Device memory in use", labels=["mxid", "memory"])
        total = GaugeMetricFamily("camera_memory_total_bytes", "Device memory", labels=["mxid", "memory"])
        cpu = GaugeMetricFamily("camera_leon_cpu_usage_ratio", "LEON CPU usage, 0..1", labels=["mxid", "cpu"])
        for mxid, actor in self.fleet.actors.items():
            stats = actor.stats
            if stats is None or actor.status != "connected":
                continue
            for block, value in stats["chip_temperature"].items():
                temperature.add_metric([mxid, block], value)
            for kind in ("cmx", "ddr"):
                memory.add_metric([mxid, kind], stats[f"{kind}_memory_usage"]["used"])
                total.add_metric([mxid, kind], stats[f"{kind}_memory_usage"]["total"])
            for name, value in stats["leon_cpu_usage"].items():
                cpu.add_metric([mxid, name], value)
        return temperature, memory, total, cpu


class RequestMetrics(AbstractAccessLogger):
    """Counts every request into /metrics as aiohttp finishes it: aiohttp's access-log hook gives the route,
    the final status and the time taken, with no middleware on the request's path. aiohttp makes one logger a
    connection, and a request it could not parse has no app: `runner_options` binds the class to its app's
    table."""

    _routes: dict | None = None       # the app's RouteStats

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        routes = self._routes
        if routes is None:
            return
        # Labels from a bounded set: the route template (never the path), a known method or OTHER. A request
        # aiohttp could not parse has no match_info and counts under "(no route)", as one no route took.
        match_info = getattr(request, "_match_info", None)
        route = match_info.route if match_info is not None else None
        if route is not None and (route.resource is None or route.resource.name == NO_ROUTE):
            route = None
        method = request.method if request.method in METHODS else "OTHER"
        key = (route, method)
        stats = routes.get(key)
        if stats is None:
            stats = routes[key] = RouteStats()
        stats.add(response.status, time)

    @property
    def enabled(self) -> bool:
        return True


def runner_options(app: web.Application) -> dict:
    """How the application must be served for its requests to reach /metrics (the runner's access log)."""
    metrics = app.get(METRICS)
    logger = type("RequestMetrics", (RequestMetrics,), {"_routes": metrics.routes if metrics else None})
    return {"access_log_class": logger, "access_log": logging.getLogger("oak-camera-service.access")}


@docs(tags=["service"], summary="Prometheus metrics",
      description="HTTP requests by route and status with latency histograms; per camera its state, "
                  "reconnects, mailbox depth and command latency; per active stream, watched or not, frames "
                  "received and dropped (as /stats) and fps; per stream video frames skipped, encodes and "
                  "viewers.",
      responses={200: {"description": "Prometheus text format",
                       "content": {"text/plain": {"schema": {"type": "string"}}}}, **openapi.errors()})
async def metrics(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(request.app[METRICS].registry),
                        headers={"Content-Type": CONTENT_TYPE_LATEST})


def add_routes(add) -> None:
    add("GET", "/metrics", metrics)

