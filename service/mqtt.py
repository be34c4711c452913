"""The events to an MQTT broker (aiomqtt), for fleets that watch many gateways through one subscription.

Under `<prefix>/<gateway id>/`: `status` is `online`, retained, with a Last Will of `offline` (and `offline`
on a clean stop); `gateway` is GET /gateway's body and `cameras/<mxid>` each camera's GET /cameras/{mxid}/,
both retained; `events/<type>` every event as GET /events gives it; with results on,
`cameras/<mxid>/streams/<stream>/nn` each network's results as its WebSocket gives them. The publisher reads the events with a
bounded queue of its own like any reader: a broker that is down or slow never slows the API; events past the
queue are dropped (counted), and every reconnect, and every reset, republishes the retained state so that it
is right again.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl

import aiomqtt
from aiohttp import web
from paho.mqtt.enums import MQTTErrorCode

from actors.fanout import WAITING, Latest
from actors.fleet import Fleet

from .events import EVENTS, Event, Events, camera_body
from .mqtt_target import MqttTarget
from .nn import RESULTS, Results

log = logging.getLogger(__name__)
BACKOFF = (0.5, 30.0)         # s: the first wait before reconnecting, doubling up to the second
STOP_GRACE = 5.0              # s the publisher gets at shutdown to send what is queued and `offline`
BATCH = 256                   # events handed to the connection at once: what it writes in one go holds the loop


class Publisher:
    def __init__(self, target: MqttTarget, events: Events, fleet: Fleet, gateway_body,
                 results: Results | None = None):
        self.target, self.events, self.fleet, self.gateway_body = target, events, fleet, gateway_body
        self.results = results          # the networks' results, to publish too; None: not published
        self.base = self.identifier = ""        # by the gateway's id, known at start
        self.connected = False
        self.published = self.dropped = self.connects = 0
        self._subscription = events.subscribe(None)
        self._subscription.on_drop = self._count_drops
        self._task: asyncio.Task | None = None

    def _count_drops(self, count: int) -> None:
        self.dropped += count

    def start(self, gateway_id: str) -> None:
        self.base, self.identifier = f"{self.target.prefix}/{gateway_id}", f"oak-camera-service-{gateway_id}"
        self._task = asyncio.create_task(self._run(), name="mqtt")

    async def stop(self) -> None:
        """After the events closed: send what is queued and `offline`, within STOP_GRACE."""
        if self._task is None:
            return
        if not self.connected:                # waiting to reconnect: nothing to send, the Will says offline
            self._task.cancel()
        try:
            async with asyncio.timeout(STOP_GRACE):      # not wait_for, which can lose a cancel (Fleet._discover)
                await asyncio.shield(self._task)
        except (TimeoutError, Exception):  # noqa: BLE001 (a broker that is away at the stop)
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task

    async def _run(self) -> None:
        delay = BACKOFF[0]
        tls = ssl.create_default_context() if self.target.tls else None
        while not self._subscription.closed or self._subscription.pending:
            try:
                async with aiomqtt.Client(
                        self.target.host, self.target.port, username=self.target.username,
                        password=self.target.password, identifier=self.identifier, tls_context=tls, timeout=10,
                        will=aiomqtt.Will(f"{self.base}/status", "offline", qos=1, retain=True)) as client:
                    self.connected, delay = True, BACKOFF[0]
                    self.connects += 1
                    log.info("mqtt: connected to %s as %s", self.target, self.base)
                    await self._publish_state(client)
                    await _first(self._pump(client), _until_lost(client), self._forward_results(client))
                    await client.publish(f"{self.base}/status", "offline", qos=1, retain=True)
                    return
            except aiomqtt.MqttError as exc:
                if self.connected:
                    log.warning("mqtt: lost %s: %s; reconnecting", self.target, exc)
                else:
                    log.warning("mqtt: cannot reach %s: %s; trying again in %g s", self.target, exc, delay)
            finally:
                self.connected = False
            if self._subscription.closed:
                return                    # stopping with the broker away: the Last Will says offline
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF[1])

    async def _publish_state(self, client: aiomqtt.Client) -> None:
        """The retained state as it is now: on every connect and after every reset."""
        await client.publish(f"{self.base}/status", "online", qos=1, retain=True)
        await client.publish(f"{self.base}/gateway", json.dumps(self.gateway_body()), qos=1, retain=True)
        for actor in list(self.fleet.actors.values()):
            await client.publish(f"{self.base}/cameras/{actor.mxid}", json.dumps(camera_body(actor)), qos=1,
                                 retain=True)

    async def _pump(self, client: aiomqtt.Client) -> None:
        while True:
            taken = await self._subscription.take(1.0)
            if not taken:
                if self._subscription.closed:
                    return
                continue
            for start in range(0, len(taken), BATCH):
                await self._send(client, taken[start:start + BATCH])

    async def _send(self, client: aiomqtt.Client, taken: list[Event]) -> None:
        """A batch of events, then the retained state they changed. The events go at QoS 0, in order on the
        one connection: each is handed to the connection as it is, and only the last one is waited for (once
        it is written, so is every one before it), so that a batch costs one round of the loop and the
        connection never holds more than a batch. Events lost with the connection are counted; the
        reconnect republishes the state."""
        # aiomqtt waits for every publish (a future, a task and a timer each); paho's own publish hands the
        # message over and returns.
        paho = client._client
        sent = 0
        try:
            for event in taken[:-1]:
                info = paho.publish(f"{self.base}/events/{event.type}", event.text)
                if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    raise aiomqtt.MqttCodeError(info.rc, "Could not publish message")
                sent += 1
            await client.publish(f"{self.base}/events/{taken[-1].type}", taken[-1].text)
            sent += 1
        except aiomqtt.MqttError:
            self.dropped += len(taken) - sent     # lost with the connection; the reconnect republishes the state
            raise
        finally:
            self.published += sent
        if any(event.type == "reset" for event in taken):
            await self._publish_state(client)
            return
        changed = dict.fromkeys(event.mxid for event in taken if event.type in ("camera_added", "camera_state"))
        retained = [(actor.mxid, camera_body(actor)) for mxid in changed if (actor := self.fleet.get(mxid)) is not None]
        await asyncio.gather(*(client.publish(f"{self.base}/cameras/{mxid}", json.dumps(body), qos=1, retain=True)
                               for mxid, body in retained))

    async def _forward_results(self, client: aiomqtt.Client) -> None:
        """Every running network's results to its stream's topic, as the results WebSocket gives them: one
        forwarder per network, holding only the latest result, so a slow broker skips results (QoS 0)."""
        if self.results is None:
            await asyncio.Event().wait()          # nothing to do; ends with the connection
        forwarders: dict[tuple[str, str], tuple[object, asyncio.Task]] = {}
        try:
            while True:
                running = {(actor.mxid, name): output for actor in list(self.fleet.actors.values())
                           for name, s in actor.state.streams.items()
                           if s.nn is not None and (output := actor.output(name)) is not None}
                for key, (output, task) in list(forwarders.items()):
                    if running.get(key) is not output or task.done():
                        task.cancel()
                        del forwarders[key]
                for key, output in running.items():
                    if key not in forwarders:
                        topic = f"{self.base}/cameras/{key[0]}/streams/{key[1]}/nn"
                        forwarders[key] = (output, asyncio.create_task(self._forward(client, output, topic)))
                await asyncio.sleep(0.5)          # a network deployed or a camera back is seen within it
        finally:
            for _, task in forwarders.values():
                task.cancel()
            await asyncio.gather(*(task for _, task in forwarders.values()), return_exceptions=True)

    async def _forward(self, client: aiomqtt.Client, output, topic: str) -> None:
        watcher = Latest[str]()
        self.results.watch(output, watcher)
        try:
            while True:
                text = await watcher.next(1.0)
                if text is WAITING:
                    self.results.watch(output, watcher)      # a reader that failed is replaced
                    continue
                await client.publish(topic, text)
        finally:
            self.results.leave(output, watcher)


async def _until_lost(client: aiomqtt.Client) -> None:
    """Raises MqttError when the connection is lost (the publisher subscribes to nothing, so no message
    comes): an idle publisher notices a broker that went away at once, not at its next event."""
    async for _ in client.messages:
        pass


async def _first(*coroutines) -> None:
    """Run them until the first ends; its error, if any, is raised; the others are cancelled."""
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    next(iter(done)).result()


MQTT = web.AppKey("mqtt", Publisher)


def setup(app: web.Application, target: MqttTarget, identity, fleet: Fleet, gateway_body,
          results: bool = False) -> Publisher:
    """The publisher, started and stopped with the app; `results`: the networks' results too (nn.setup first)."""
    publisher = app[MQTT] = Publisher(target, app[EVENTS], fleet, gateway_body, app[RESULTS] if results else None)

    async def start(_app):
        publisher.start(identity.id)      # read from the state folder by then

    async def stop(_app):
        await publisher.stop()
    app.on_startup.append(start)
    app.on_shutdown.append(stop)           # after the events' own: gateway_stopped is queued by then
    return publisher
