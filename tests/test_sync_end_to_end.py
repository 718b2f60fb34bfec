"""The sync core against the fake Klaviyo under injected faults: everything arrives, once, with the final state.

Generated TRIFFT traffic goes through ``Syncer`` into the emulator (in process, and once over a real socket)
while the emulator answers 5xx and 429 at random. Afterwards the emulator's own tables must show exactly one
Klaviyo event per standard TRIFFT event that is not skipped, every member's profile as of their last standard
event, and dead letters only for custom webhooks whose own body Klaviyo cannot take.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from typing import Any

import httpx
import pytest

from emulator.klaviyo import Emulator, Faults, create_app
from emulator.klaviyo.store import account_id
from emulator.trifft import generate
from sync import map_event
from sync.delivery import Syncer
from sync.summary import Summary

KEY = "pk_test_end_to_end"
# Klaviyo's rule for an email identifier: a plain address, no whitespace (notes §1, §8), at most 100 characters
# (https://developers.klaviyo.com/en/reference/profiles_api_overview).
PLAIN_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
MAX_EMAIL = 100


async def _no_wait(seconds: float) -> None:
    await asyncio.sleep(0)


def _sync(events: list[dict[str, Any]], base_url: str, transport: httpx.AsyncBaseTransport | None) -> Summary:
    syncer = Syncer(
        base_url, KEY, transport=transport, rate_limits=None, sleep=_no_wait, seed=7, concurrency=8
    )
    return asyncio.run(syncer.run(events))


def _webhook_is_broken(event: dict[str, Any]) -> bool:
    """Whether a custom webhook's own rendered body is something Klaviyo must refuse."""
    try:
        body = json.loads(event["data"]["rendered_body"])
    except ValueError:
        return True
    email = body["data"]["attributes"]["profile"]["data"]["attributes"].get("email")
    return email is not None and (len(email) > MAX_EMAIL or not PLAIN_ADDRESS.match(email))


def _assert_arrived_complete(events: list[dict[str, Any]], state: dict[str, Any], summary: Summary) -> None:
    standard: set[str] = set()
    webhooks: set[str] = set()
    broken: set[str] = set()
    last: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}  # member -> (event, refresh)
    for event in events:
        if event["kind"] == "custom_webhook":
            (broken if _webhook_is_broken(event) else webhooks).add(event["event_id"])
            continue
        mapped = map_event(event)
        if mapped.skipped is None:
            standard.add(event["event_id"])
            assert mapped.profile is not None
            last[event["member"]["id"]] = (event, mapped.profile)
    assert standard and webhooks and last

    recorded = Counter(row["unique_id"] for row in state["events"])
    assert set(recorded) == standard | webhooks
    assert set(recorded.values()) == {1}, "exactly one Klaviyo event per TRIFFT event"

    assert summary.pending == 0
    assert {dead.event_id for dead in summary.dead} == broken
    assert all(dead.kind == "custom_webhook" for dead in summary.dead)

    profiles = {row["external_id"]: json.loads(row["doc"]) for row in state["profiles"]}
    for member, (event, refresh) in last.items():
        profile = profiles[member]
        assert profile.get("locale") == refresh["locale"], member
        properties = profile.get("properties", {})
        for name in ("trifft_points", "trifft_segments", "trifft_coupons"):
            assert properties[name] == refresh["properties"][name], (member, name)
        for slug, param in event["member"]["params"].items():
            assert properties.get(slug) == param["value"], (member, slug)  # a null param is cleared


def _in_process(events: list[dict[str, Any]], faults: str) -> tuple[Emulator, Summary]:
    emulator = Emulator(rate_limits="off", faults=Faults.parse(faults))
    summary = _sync(events, "http://klaviyo.test", httpx.ASGITransport(create_app(emulator)))
    return emulator, summary


@pytest.mark.parametrize(
    ("seed", "edge"),
    [(1, False), (2, True), (3, False), (4, True)],
    ids=["realistic-1", "edge-2", "realistic-3", "edge-4"],
)
def test_traffic_arrives_complete_and_once_through_5xx_and_429(seed: int, edge: bool) -> None:
    events = list(generate(2500, seed=seed, members=120, edge=edge))
    emulator, summary = _in_process(events, f"5xx=0.1,429=0.1,seed={seed}")
    _assert_arrived_complete(events, emulator.store.export(account_id(KEY)), summary)
    assert bool(summary.dead) is edge, "only edge traffic holds webhooks Klaviyo must refuse"
    statuses = Counter(row["status"] for row in emulator.store.export(account_id(KEY))["requests"])
    assert statuses[429] > 0 and sum(n for status, n in statuses.items() if status >= 500) > 0
    assert summary.retries > 0 and summary.throttled_waits > 0 and summary.bulk_jobs > 0


def test_a_request_processed_then_answered_500_is_retried_without_a_second_event() -> None:
    events = list(generate(2500, seed=5, members=120, edge=True))
    emulator, summary = _in_process(events, "5xx_after=0.15,seed=5")
    state = emulator.store.export(account_id(KEY))
    _assert_arrived_complete(events, state, summary)
    deduplicated = [row for row in state["ledger"] if row["kind"] == "event_deduplicated"]
    assert deduplicated, "some retries resent events Klaviyo had already recorded"


def test_traffic_arrives_complete_over_a_real_socket(emulator_url: str) -> None:
    events = list(generate(2000, seed=6, members=100, edge=True))
    with httpx.Client(base_url=emulator_url) as control:
        control.put("/_emulator/faults", content="5xx=0.1,429=0.1,seed=6").raise_for_status()
        summary = _sync(events, emulator_url, None)
        state = control.get("/_emulator/state", params={"key": KEY}).json()
        injected = control.get("/_emulator/faults").json()["injected"]
    assert injected > 0
    _assert_arrived_complete(events, state, summary)


@pytest.mark.parametrize("seed", range(1, 21))
def test_realistic_traffic_is_deliverable_whatever_the_seed(seed: int) -> None:
    """Realistic is a promise: ``generate`` without ``--edge`` never makes input Klaviyo must refuse."""
    events = list(generate(400, seed=seed, members=40))
    emulator = Emulator(rate_limits="off")
    summary = _sync(events, "http://klaviyo.test", httpx.ASGITransport(create_app(emulator)))
    assert summary.ok, [dead for dead in summary.dead]
    # Two members may share an email (a family); the profile import's 409 is how the sync learns it and retries.
    refused = {
        (r.status, r.errors[0]["code"]) for r in emulator.store.requests(account_id(KEY)) if r.status >= 400
    }
    assert refused <= {(409, "duplicate_profile")}
