"""Reading GET /events as an EventSource does: `id:`, `event:` and `data:` lines up to a blank line; comments
(keep-alives) are kept apart."""
import asyncio
import json
from timing import scaled


class EventReader:
    def __init__(self, resp):
        assert resp.status == 200 and resp.content_type == "text/event-stream", resp.status
        self.resp, self.comments, self.last_id = resp, [], None

    async def next(self, timeout: float = scaled(5.0)) -> dict:
        """The next event: its data, with `event` and `sse_id` from its own lines."""
        fields: dict = {}
        while True:
            line = (await asyncio.wait_for(self.resp.content.readline(), timeout)).decode()
            assert line, "the stream ended"
            line = line.rstrip("\r\n")
            if not line:
                if fields:
                    event = {**json.loads(fields["data"]), "event": fields.get("event"), "sse_id": fields.get("id")}
                    self.last_id = event["sse_id"]
                    return event
                continue
            if line.startswith(":"):
                self.comments.append(line)
                continue
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")

    async def until(self, predicate, timeout: float = 10.0) -> list[dict]:
        """Events up to and including the first that `predicate` accepts."""
        deadline = asyncio.get_running_loop().time() + scaled(timeout)
        got = []
        while True:
            got.append(await self.next(max(0.01, deadline - asyncio.get_running_loop().time())))
            if predicate(got[-1]):
                return got

    async def ended(self, timeout: float = 10.0) -> bool:
        """Whether the stream ends (after whatever events are still on their way)."""
        while True:
            line = await asyncio.wait_for(self.resp.content.readline(), scaled(timeout))
            if not line:
                return True


async def watch(client, **params) -> EventReader:
    headers = {"Last-Event-ID": params.pop("last_event_id")} if "last_event_id" in params else {}
    return EventReader(await client.get("/events", params=params, headers=headers))
