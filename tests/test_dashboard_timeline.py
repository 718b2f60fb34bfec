"""A member's timeline is what the fake Klaviyo recorded about the member, not a guess from request bodies."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from emulator.client import InProcessTransport
from emulator.klaviyo import Emulator
from emulator.klaviyo.store import account_id
from emulator.server import create_app
from emulator.trifft import generate
from sync.delivery import Syncer

KEY = "pk_test_timeline_0001"
HEADERS = {
    "Authorization": f"Klaviyo-API-Key {KEY}",
    "revision": "2026-07-15",
    "Content-Type": "application/vnd.api+json",
}


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Emulator, httpx.Client]]:
    emulator = Emulator(rate_limits="off")
    app = create_app(emulator)
    events = list(generate(600, seed=5, members=25, edge=True))
    syncer = Syncer("http://klaviyo.test", KEY, transport=httpx.ASGITransport(app), rate_limits=None)
    asyncio.run(syncer.run(events))
    with httpx.Client(transport=InProcessTransport(app), base_url="http://klaviyo.test") as client:
        yield emulator, client


def test_every_stored_event_of_every_member_shows_the_request_it_came_from(
    served: tuple[Emulator, httpx.Client],
) -> None:
    emulator, client = served
    account = account_id(KEY)
    requests = {r.seq: r for r in emulator.store.requests(account)}
    events = emulator.store.rows("events", account)
    assert len(events) > 300
    for profile in emulator.store.rows("profiles", account):
        answer = client.get("/_emulator/dashboard/member", params={"id": profile["id"], "key": KEY})
        assert answer.status_code == 200, answer.text
        shown = {i["stored"]: i for i in answer.json()["timeline"] if i["kind"] == "event" and i["stored"]}
        mine = [e for e in events if e["profile_id"] == profile["id"]]
        assert set(shown) == {e["id"] for e in mine}
        for event in mine:
            item = shown[event["id"]]
            assert requests[item["seq"]].id == event["request_id"] == item["request_id"]
            assert item["pointer"] and item["unique_id"] == event["unique_id"]


def test_a_deduplicated_event_is_shown_where_it_arrived_with_the_event_it_repeats(
    served: tuple[Emulator, httpx.Client],
) -> None:
    emulator, client = served
    account = account_id(KEY)
    [event] = emulator.store.rows("events", account)[:1]
    body = {
        "data": {
            "type": "event",
            "attributes": {
                "properties": {},
                "unique_id": event["unique_id"],
                "metric": {"data": {"type": "metric", "attributes": {"name": _metric(emulator, event)}}},
                "profile": {"data": {"type": "profile", "id": event["profile_id"], "attributes": {}}},
            },
        }
    }
    assert client.post("/api/events", json=body, headers=HEADERS).status_code == 202
    answer = client.get("/_emulator/dashboard/member", params={"id": event["profile_id"], "key": KEY}).json()
    [repeat] = [i for i in answer["timeline"] if i["kind"] == "event" and i["deduplicated"]]
    assert event["id"] in repeat["deduplicated"] and repeat["seq"] == emulator.store.requests(account)[-1].seq


def test_a_refused_request_naming_the_member_is_on_its_timeline_with_its_errors(
    served: tuple[Emulator, httpx.Client],
) -> None:
    emulator, client = served
    profile = next(p for p in emulator.store.rows("profiles", account_id(KEY)) if p["external_id"])
    body = {
        "data": {"type": "profile", "attributes": {"external_id": profile["external_id"], "email": "nope"}}
    }
    assert client.post("/api/profile-import", json=body, headers=HEADERS).status_code == 400
    answer = client.get("/_emulator/dashboard/member", params={"id": profile["id"], "key": KEY}).json()
    refused = answer["timeline"][-1]
    assert (
        refused["kind"] == "rejected" and refused["identifiers"][0]["external_id"] == profile["external_id"]
    )
    assert refused["errors"][0]["source"]["pointer"] == "/data/attributes/email"


def _metric(emulator: Emulator, event: dict[str, object]) -> str:
    [metric] = [m for m in emulator.store.rows("metrics", account_id(KEY)) if m["id"] == event["metric_id"]]
    return str(metric["name"])


def test_a_pending_double_opt_in_shows_as_pending_and_changes_no_consent() -> None:
    # Under double opt-in "profiles will receive a message requiring their confirmation before subscribing"
    # (https://developers.klaviyo.com/en/reference/bulk_subscribe_profiles): the timeline must not show consent.
    emulator = Emulator(rate_limits="off", opt_in="double_opt_in")
    row = {
        "type": "profile",
        "attributes": {
            "email": "ada@example.com",
            "subscriptions": {"email": {"marketing": {"consent": "SUBSCRIBED"}}, "sms": None},
        },
    }
    body = {
        "data": {"type": "profile-subscription-bulk-create-job", "attributes": {"profiles": {"data": [row]}}}
    }
    with httpx.Client(
        transport=InProcessTransport(create_app(emulator)), base_url="http://klaviyo.test", headers=HEADERS
    ) as client:
        assert client.post("/api/profile-subscription-bulk-create-jobs", json=body).status_code == 202
        [profile] = emulator.store.rows("profiles", account_id(KEY))
        timeline = client.get("/_emulator/dashboard/member", params={"id": profile["id"], "key": KEY}).json()
    [item] = [i for i in timeline["timeline"] if i["kind"] == "subscription"]
    assert item["consent"] == "SUBSCRIBED, pending confirmation"
    assert [change["attribute"] for change in item["diff"]] == ["email"]
