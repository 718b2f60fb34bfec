"""Batched Klaviyo id look-ups and bulk jobs for Profile updated and referrals, against the in-process emulator."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from contracts import KLAVIYO_REVISION
from contracts.verifier import verify
from emulator.klaviyo import Emulator, create_app
from emulator.klaviyo.store import account_id
from emulator.trifft import generate
from sync import ids
from sync.delivery import Syncer
from sync.mapping import map_event
from sync.outbox import Outbox

KEY = "pk_test_batching"


class Recorder(httpx.AsyncBaseTransport):
    """The in-process emulator, remembering each request's method, path with query, and body."""

    def __init__(self, emulator: Emulator) -> None:
        self.inner = httpx.ASGITransport(create_app(emulator))
        self.seen: list[tuple[str, str, Any]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.seen.append((request.method, str(request.url), body))
        return await self.inner.handle_async_request(request)

    def paths(self) -> Counter[str]:
        return Counter(urlsplit(url).path for _, url, _ in self.seen)


def _sync(events: list[dict[str, Any]]) -> tuple[Emulator, Recorder, Syncer]:
    emulator = Emulator(rate_limits="off")
    recorder = Recorder(emulator)
    syncer = Syncer("http://klaviyo.test", KEY, transport=recorder, rate_limits=None, seed=1)
    summary = asyncio.run(syncer.run(events))
    assert summary.ok and not summary.pending, summary
    return emulator, recorder, syncer


def _filters(recorder: Recorder) -> list[str]:
    return [
        parse_qs(urlsplit(url).query)["filter"][0]
        for method, url, _ in recorder.seen
        if urlsplit(url).path == "/api/profiles"
    ]


def test_the_look_up_path_asks_for_up_to_100_external_ids_in_one_any_filter() -> None:
    path = ids.look_up_path(["a", "b"])
    query = parse_qs(urlsplit(path).query)
    assert query["filter"] == ['any(external_id,["a","b"])']
    assert query["page[size]"] == ["100"] and query["fields[profile]"] == ["external_id"]
    assert parse_qs(urlsplit(ids.look_up_path(["a"])).query)["filter"] == ['equals(external_id,"a")']


def test_the_emulator_answers_an_any_filter_with_every_member_it_knows() -> None:
    plain = list(generate(60, seed=3, members=5, kinds=["app_opened"]))
    emulator, _, syncer = _sync(plain)
    members = sorted({event["member"]["id"] for event in plain})
    response = asyncio.run(_get(emulator, ids.look_up_path([*members, "not-a-member"])))
    found = {p["attributes"]["external_id"]: p["id"] for p in response["data"]}
    assert sorted(found) == members
    assert syncer.outbox.klaviyo_id(members[0]) is None  # plain events alone teach the sync nothing


async def _get(emulator: Emulator, path: str) -> Any:
    headers = {"Authorization": f"Klaviyo-API-Key {KEY}", "revision": KLAVIYO_REVISION}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(create_app(emulator)), base_url="http://klaviyo.test"
    ) as client:
        response = await client.get(path, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()


def _known_members_then(kind: str, members: int = 30) -> list[dict[str, Any]]:
    """One plain event per member (which makes its profile), then events of ``kind`` without consent changes."""
    plain = list(generate(members * 20, seed=5, members=members, kinds=["app_opened"]))
    first: dict[str, dict[str, Any]] = {}
    for event in plain:
        first.setdefault(event["member"]["id"], event)
    later = [
        e
        for e in generate(members * 40, seed=5, members=members, kinds=[kind])
        if (e["kind"] != "profile_updated" or e["data"]["reason"] == "params_changed")
        and e["member"]["id"] in first
    ]
    return list(first.values()) + later


def test_profile_updated_of_known_members_learns_ids_in_shared_look_ups_and_rides_in_bulk_jobs() -> None:
    events = _known_members_then("profile_updated")
    members = {event["member"]["id"] for event in events}
    emulator, recorder, syncer = _sync(events)
    calls = recorder.paths()
    assert calls["/api/profile-import"] == 0, "a member with a profile is looked up, never imported"
    assert calls["/api/events"] == 0, "no Profile updated goes one by one"
    looked_up = _filters(recorder)
    assert 1 <= len(looked_up) < len(members) / 3, looked_up
    assert any(f.startswith("any(external_id,") for f in looked_up)
    for member in members:  # every Profile updated in the bulk jobs carries its member's real Klaviyo id
        assert syncer.outbox.klaviyo_id(member) is not None
    for _, url, body in recorder.seen:
        if urlsplit(url).path == "/api/event-bulk-create-jobs":
            for group in body["data"]["attributes"]["events-bulk-create"]["data"]:
                member = group["attributes"]["profile"]["data"]["attributes"]["external_id"]
                for entry in group["attributes"]["events"]["data"]:
                    props = entry["attributes"]["properties"]
                    if "klaviyoID" in props:
                        assert props["klaviyoID"] == syncer.outbox.klaviyo_id(member)
    assert verify(emulator.store.traffic(account_id(KEY))).ok


def test_referrals_look_up_their_referrers_together_and_ride_in_bulk_jobs() -> None:
    events = _known_members_then("referral_code_provided") + _known_members_then("referral_invited")[30:]
    emulator, recorder, _ = _sync(events)
    calls = recorder.paths()
    referrals = sum(1 for e in events if e["kind"].startswith("referral_"))
    assert referrals > 10
    assert calls["/api/events"] == 0, "no referral goes one by one"
    assert 1 <= calls["/api/profiles"] < referrals / 3
    report = verify(emulator.store.traffic(account_id(KEY)))
    assert report.ok, report.text()


def test_a_member_unknown_to_klaviyo_is_imported_once_and_its_later_updates_go_in_bulk() -> None:
    stream = [
        e
        for e in generate(400, seed=7, members=4, kinds=["profile_updated"])
        if e["data"]["reason"] == "params_changed"
    ]
    emulator, recorder, _ = _sync(stream)
    members = {e["member"]["id"] for e in stream}
    assert recorder.paths()["/api/profile-import"] == len(members)
    assert recorder.paths()["/api/events"] == len(members)  # only each member's first, with its import
    assert recorder.paths()["/api/event-bulk-create-jobs"] >= 1
    report = verify(emulator.store.traffic(account_id(KEY)))
    assert report.ok, report.text()


def _consent_of_known_members() -> list[dict[str, Any]]:
    events = _known_members_then("app_opened", members=10)[:10]
    members = {e["member"]["id"] for e in events}
    consent = [
        e
        for e in generate(400, seed=5, members=10, kinds=["profile_updated"])
        if e["data"]["reason"] in ("consent_signed", "consent_revoked") and e["member"]["id"] in members
    ]
    assert consent
    return events + consent


def test_a_consent_change_rides_in_a_bulk_job_and_its_subscription_follows_the_job() -> None:
    events = _consent_of_known_members()
    emulator, recorder, _ = _sync(events)
    assert recorder.paths()["/api/events"] == 0
    subscription_paths = (
        "/api/profile-subscription-bulk-create-jobs",
        "/api/profile-subscription-bulk-delete-jobs",
    )
    # Each subscription request comes after a bulk job carrying its member's consent event.
    sent: set[str] = set()
    for _, url, body in recorder.seen:
        path = urlsplit(url).path
        if path == "/api/event-bulk-create-jobs":
            for group in body["data"]["attributes"]["events-bulk-create"]["data"]:
                sent.update(e["attributes"]["unique_id"] for e in group["attributes"]["events"]["data"])
        elif path in subscription_paths:
            assert sent, "a subscription before any bulk job"
    mirrored = sum(recorder.paths()[p] for p in subscription_paths)
    assert mirrored >= 1
    assert {e["event_id"] for e in events if e["kind"] == "profile_updated"} <= sent
    report = verify(emulator.store.traffic(account_id(KEY)))
    assert report.ok, report.text()


class FailingSubscriptions(Recorder):
    failing = True

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.failing and request.url.path.startswith("/api/profile-subscription-bulk"):
            self.seen.append((request.method, str(request.url), None))
            return httpx.Response(503)
        return await super().handle_async_request(request)


def test_a_consent_event_whose_subscription_never_goes_through_stays_pending_and_is_resumed() -> None:
    events = _consent_of_known_members()

    async def no_wait(seconds: float) -> None:
        return None

    emulator = Emulator(rate_limits="off")
    transport = FailingSubscriptions(emulator)
    syncer = Syncer(
        "http://klaviyo.test",
        KEY,
        transport=transport,
        rate_limits=None,
        max_attempts=2,
        sleep=no_wait,
        seed=1,
    )
    summary = asyncio.run(syncer.run(events))
    assert summary.stop is not None
    pending = {p.event_id for items in syncer.outbox.pending().values() for p in items}
    mirrored = {e["event_id"] for e in events if map_event(e).subscriptions}
    assert mirrored and mirrored <= pending, "their events went in bulk jobs, their subscriptions did not"
    assert syncer.outbox.counts().get("done", 0) >= 10  # the plain events before them are done
    transport.failing = False
    resumed = asyncio.run(syncer.run())
    assert resumed.ok and not resumed.pending and not resumed.dead, resumed
    report = verify(emulator.store.traffic(account_id(KEY)))
    assert report.ok, report.text()
    state = emulator.store.traffic(account_id(KEY))
    assert {e["event_id"] for e in events} <= {o.unique_id for o in state.observations}, "nothing lost"


def test_ids_learned_in_a_batch_are_stored_durably_and_forgotten_when_the_outbox_moves_account(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "state.sqlite")
    outbox = Outbox(path)
    outbox.bind("http://klaviyo.test", "A")
    outbox.remember_all({"m1": "K1", "m2": "K2"})
    assert outbox.klaviyo_id("m1") == "K1"
    again = Outbox(path)
    assert (again.klaviyo_id("m1"), again.klaviyo_id("m2"), again.klaviyo_id("m3")) == ("K1", "K2", None)
    outbox.bind("http://klaviyo.test", "B", retarget=True)
    assert outbox.klaviyo_id("m1") is None, "the id names nothing in the other account"
