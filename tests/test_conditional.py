"""Conditional requests: every camera-scoped answer about its state carries the revision as an ETag; a write
with a stale If-Match is a 412 that changes nothing, decided in the camera's mailbox order; a GET with a
current If-None-Match is a 304."""
import asyncio

import blobs
import pytest
from conftest import activate, assert_error, stream_url
from test_errors import snapshot
from test_nn import MOBILENET, upload

READS = ["", "streams/", "streams/CAM_A/", "streams/CAM_A/config", "streams/CAM_A/control", "ir"]


async def etag_of(client, url) -> str:
    resp = await client.get(url)
    assert resp.status == 200, await resp.text()
    assert resp.headers["ETag"] == f'"{resp.headers["X-State-Revision"]}"'
    return resp.headers["ETag"]


@pytest.mark.parametrize("tail", READS)
async def test_a_read_is_304_while_the_state_is_at_the_revision_it_names(client, mxid, tail):
    cam = mxid("oak-d-pro")
    url = f"/cameras/{cam}/{tail}"
    tag = await etag_of(client, url)
    resp = await client.get(url, headers={"If-None-Match": tag})
    assert resp.status == 304 and resp.headers["ETag"] == tag and await resp.read() == b""
    assert (await client.get(url, headers={"If-None-Match": f'W/{tag}, "999"'})).status == 304   # weak compare
    assert (await client.get(url, headers={"If-None-Match": "*"})).status == 304
    resp = await client.post(stream_url(cam, "CAM_B", "control"), json={"contrast": 4})      # another change
    assert resp.status == 200
    resp = await client.get(url, headers={"If-None-Match": tag})
    assert resp.status == 200 and resp.headers["ETag"] == f'"{int(tag.strip(chr(34))) + 1}"'


WRITES = [
    ("post", "streams/CAM_A/", None), ("delete", "streams/CAM_B/", None),
    ("post", "streams/CAM_A/config", {"fps": 12}), ("post", "streams/CAM_A/control", {"contrast": 3}),
    ("post", "ir", {"flood_light": 0.5}), ("delete", "streams/CAM_A/nn", None), ("delete", "", None),
]


@pytest.mark.parametrize("method, tail, body", WRITES)
async def test_a_write_with_a_stale_if_match_is_412_and_changes_nothing(client, mxid, method, tail, body):
    cam = mxid("oak-d-pro")
    await activate(client, cam, "CAM_B")
    tag = await etag_of(client, f"/cameras/{cam}/")
    current = int(tag.strip('"'))
    before = await snapshot(client, cam), await (await client.get(f"/cameras/{cam}/")).json()
    resp = await getattr(client, method)(f"/cameras/{cam}/{tail}", json=body, headers={"If-Match": f'"{current - 1}"'})
    error = await assert_error(resp, 412, "revision_mismatch")
    assert error["revision"] == current and resp.headers["ETag"] == tag and resp.headers["X-State-Revision"] == str(current)
    assert (await snapshot(client, cam), await (await client.get(f"/cameras/{cam}/")).json()) == before
    assert (await client.get(f"/cameras/{cam}/", headers={"If-None-Match": tag})).status == 304
    # The same write naming the current revision (alone, in a list, or *) applies.
    for if_match in ("{tag}", '"{stale}", {tag}', "*"):
        if_match = if_match.format(tag=tag, stale=current - 1)
        resp = await getattr(client, method)(f"/cameras/{cam}/{tail}", json=body, headers={"If-Match": if_match})
        assert resp.status in (200, 204), await resp.text()
        tag = resp.headers["ETag"]


async def test_boot_honours_if_match(client, mxid):
    cam = mxid("oak-d")
    resp = await client.delete(f"/cameras/{cam}/")
    assert resp.status == 200
    tag = resp.headers["ETag"]
    await assert_error(await client.post(f"/cameras/{cam}/", headers={"If-Match": '"0"'}), 412, "revision_mismatch")
    assert (await (await client.get(f"/cameras/{cam}/")).json())["state"] == "shut_down"
    resp = await client.post(f"/cameras/{cam}/", headers={"If-Match": tag})
    assert resp.status == 200 and (await resp.json())["state"] == "connected"


async def test_a_weak_tag_never_matches_a_write(client, mxid):
    cam = mxid("oak-d")
    tag = await etag_of(client, stream_url(cam, "CAM_A", "control"))
    resp = await client.post(stream_url(cam, "CAM_A", "control"), json={"contrast": 2}, headers={"If-Match": f"W/{tag}"})
    await assert_error(resp, 412, "revision_mismatch")


async def test_a_read_with_a_stale_if_match_is_412(client, mxid):
    cam = mxid("oak-d")
    resp = await client.get(stream_url(cam, "CAM_A", "config"), headers={"If-Match": '"9999"'})
    await assert_error(resp, 412, "revision_mismatch")
    tag = await etag_of(client, stream_url(cam, "CAM_A", "config"))
    assert (await client.get(stream_url(cam, "CAM_A", "config"), headers={"If-Match": tag})).status == 200


@pytest.mark.parametrize("value", ['"17', "W/17", "abc", "", ", ,", '"x"'])
async def test_an_if_match_that_names_no_revision_is_412_and_changes_nothing(client, mxid, value):
    cam = mxid("oak-d")
    before = await snapshot(client, cam)
    resp = await client.post(stream_url(cam, "CAM_A", "control"), json={"contrast": 5}, headers={"If-Match": value})
    error = await assert_error(resp, 412, "revision_mismatch")
    assert error["revision"] == int(resp.headers["X-State-Revision"])
    assert await snapshot(client, cam) == before
    url = stream_url(cam, "CAM_A", "control")
    assert (await client.get(url, headers={"If-None-Match": value})).status == 200       # nothing it names


async def test_a_bare_revision_counts_as_its_tag(client, mxid):
    cam = mxid("oak-d")
    url = stream_url(cam, "CAM_A", "control")
    current = (await client.get(url)).headers["X-State-Revision"]
    assert (await client.get(url, headers={"If-None-Match": current})).status == 304
    resp = await client.post(url, json={"contrast": 5}, headers={"If-Match": f"{int(current) - 1}, {current}"})
    assert resp.status == 200 and (await resp.json())["contrast"] == 5


async def test_of_two_writes_naming_the_same_revision_only_the_first_applies(client, mxid):
    """The actor decides, in mailbox order: both writes are posted before either is applied (the device is
    slow), so a check in the handler would let both through."""
    cam = mxid("oak-d")
    await activate(client, cam, "CAM_A")
    tag = await etag_of(client, stream_url(cam, "CAM_A", "control"))
    assert (await client.post(f"/sim/cameras/{cam}/faults", json={"latency_ms": 300})).status == 200
    url = stream_url(cam, "CAM_A", "control")
    first, second = await asyncio.gather(
        client.post(url, json={"contrast": 1}, headers={"If-Match": tag}),
        client.post(url, json={"contrast": 2, "saturation": 2}, headers={"If-Match": tag}))
    assert first.status == 200, await first.text()
    await assert_error(second, 412, "revision_mismatch")
    assert (await second.json())["error"]["revision"] == int(first.headers["X-State-Revision"])
    control = await (await client.get(url)).json()
    assert (control["contrast"], control["saturation"]) == (1, 0)


async def test_a_network_deployed_with_a_stale_if_match_is_412_and_leaves_no_file(client, mxid, state_dir):
    cam = mxid("oak-d")
    resp = await client.post(stream_url(cam, "CAM_A", "nn"), data=upload(blobs.blob(), MOBILENET),
                             headers={"If-Match": '"999"'})
    await assert_error(resp, 412, "revision_mismatch")
    resp = await client.get(stream_url(cam, "CAM_A", "nn"))
    assert resp.status == 200 and await resp.json() is None                  # no network runs
    assert [p.name for p in (state_dir / "models").iterdir()] == []          # no file is left behind
