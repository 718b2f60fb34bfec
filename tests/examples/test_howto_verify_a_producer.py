"""How to test a TRIFFT -> Klaviyo producer with the fake Klaviyo and the contract verifier.

The fixtures come from the installed plugin (``trifft-klaviyo`` registers ``emulator.pytest_plugin``):
``klaviyo_emulator`` is a real server emptied for each test, ``trifft_events`` generates TRIFFT traffic.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from emulator.pytest_plugin import KlaviyoEmulator
from sync import map_event
from sync.delivery import Syncer


def test_howto_sync_generated_traffic_and_check_the_contract(
    klaviyo_emulator: KlaviyoEmulator, trifft_events: Any
) -> None:
    events = trifft_events(count=300, seed=1, members=15)
    summary = asyncio.run(
        Syncer(klaviyo_emulator.url, klaviyo_emulator.api_key, rate_limits=None).run(events)
    )
    assert summary.ok, summary.dead
    report = klaviyo_emulator.assert_contract()
    assert report.metrics["Transaction created"] > 0


def test_howto_see_a_broken_producer_caught(klaviyo_emulator: KlaviyoEmulator, trifft_events: Any) -> None:
    # A producer that sends the events but never the profile refresh.
    event = next(e for e in trifft_events(count=50, seed=2) if e["kind"] == "wallet_credited")
    body = map_event(event).event_body()
    body["data"]["attributes"]["profile"]["data"]["attributes"] = {"external_id": event["member"]["id"]}
    with klaviyo_emulator.client() as client:
        assert client.post("/api/events", json=body).status_code == 202
    with pytest.raises(AssertionError, match="refresh-follows-event"):
        klaviyo_emulator.assert_contract()


def test_howto_inspect_what_the_emulator_received(klaviyo_emulator: KlaviyoEmulator) -> None:
    with klaviyo_emulator.client() as client:
        client.post(
            "/api/profile-import", json={"data": {"type": "profile", "attributes": {"email": "nope"}}}
        )
    [rejected] = klaviyo_emulator.requests()
    assert (
        rejected["status"] == 400 and rejected["errors"][0]["source"]["pointer"] == "/data/attributes/email"
    )
    assert isinstance(httpx.get(f"{klaviyo_emulator.url}/_emulator/health").json(), dict)
