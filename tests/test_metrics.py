"""/metrics, /healthz and /readyz."""
from prometheus_client.parser import text_string_to_metric_families

from conftest import activate, stream_url
from test_video import frames, watch


async def scrape(client) -> dict:
    resp = await client.get("/metrics")
    assert resp.status == 200 and resp.content_type == "text/plain"
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(await resp.text()) for s in family.samples}


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_move_with_traffic(client, mxid):
    cam = mxid("oak-d")
    route = "/cameras/{mxid}/streams/{stream_name}/control"
    before = await scrape(client)
    await activate(client, cam, "CAM_A")
    for _ in range(3):
        await client.get(stream_url(cam, "CAM_A", "control"))
    await client.post(stream_url(cam, "CAM_A", "control"), json={"contrast": 99})
    resp = await watch(client, cam, "CAM_A", width="160")
    await frames(resp, 5)
    after = await scrape(client)
    assert value(after, "http_requests_total", route=route, method="GET", status="200") - \
        value(before, "http_requests_total", route=route, method="GET", status="200") == 3
    assert value(after, "http_requests_total", route=route, method="POST", status="422") == 1
    assert value(after, "http_request_duration_seconds_count", route=route, method="GET") >= 3
    assert value(after, "camera_command_duration_seconds_count", mxid=cam) >= 1
    assert value(after, "camera_state", mxid=cam, state="connected") == 1
    assert value(after, "camera_mailbox_depth", mxid=cam) == 0
    assert value(after, "camera_reconnects_total", mxid=cam) == 0
    assert value(after, "stream_active", mxid=cam, stream="CAM_A") == 1
    assert value(after, "stream_viewers", mxid=cam, stream="CAM_A") == 1
    assert value(after, "stream_encodes_total", mxid=cam, stream="CAM_A") >= 5
    assert value(after, "stream_frames_received_total", mxid=cam, stream="CAM_A") >= 5
    assert value(after, "stream_fps", mxid=cam, stream="CAM_A") > 5
    resp.close()


async def test_health_and_readiness(client):
    assert (await client.get("/healthz")).status == 200
    resp = await client.get("/readyz")
    assert resp.status == 200 and (await resp.json())["status"] == "ready"
