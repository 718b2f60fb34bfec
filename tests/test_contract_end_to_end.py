"""The central property: whatever the fake TRIFFT tells, the sync delivers it so that the verifier passes."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from hypothesis import given, settings

from contracts.verifier import verify
from emulator.klaviyo import Emulator, create_app
from emulator.klaviyo.store import account_id
from emulator.trifft.strategies import timelines
from sync.delivery import Syncer

KEY = "pk_property_test_1"


def _deliver_and_verify(events: list[dict[str, Any]], batch: bool) -> None:
    emulator = Emulator(rate_limits="off")
    syncer = Syncer(
        "http://klaviyo.test",
        KEY,
        transport=httpx.ASGITransport(create_app(emulator)),
        rate_limits=None,
        batch=batch,
    )
    summary = asyncio.run(syncer.run(events))
    # The only events Klaviyo may refuse are custom webhooks whose TRIFFT template renders a bad body.
    assert {dead.kind for dead in summary.dead} <= {"custom_webhook"}, summary.dead
    assert not summary.pending
    # A timeline of nothing but bad webhooks rightly sends nothing; the verifier, which never passes on nothing,
    # is told so only then, and only when every event is accounted for.
    nothing_sent = summary.events_sent == 0 and len(summary.dead) + summary.skipped == len(events)
    report = verify(emulator.store.traffic(account_id(KEY)), allow_empty=nothing_sent)
    assert report.ok, report.text()


@pytest.mark.parametrize("batch", [True, False], ids=["bulk", "single"])
@settings(max_examples=15)
@given(events=timelines(members=3, max_events=25))
def test_any_realistic_timeline_synced_into_the_emulator_keeps_the_contract(
    events: list[dict[str, Any]], batch: bool
) -> None:
    _deliver_and_verify(events, batch)


@pytest.mark.parametrize("batch", [True, False], ids=["bulk", "single"])
@settings(max_examples=15)
@given(events=timelines(members=3, max_events=25, edge=True))
def test_any_edge_timeline_synced_into_the_emulator_keeps_the_contract(
    events: list[dict[str, Any]], batch: bool
) -> None:
    _deliver_and_verify(events, batch)


@pytest.mark.parametrize("edge", [False, True], ids=["realistic", "edge"])
def test_a_generated_stream_exercises_all_fifteen_metrics_and_webhooks_and_keeps_the_contract(
    edge: bool,
) -> None:
    from emulator.trifft import generate

    events = list(generate(2500, seed=12, members=40, edge=edge))
    emulator = Emulator(rate_limits="off")
    syncer = Syncer(
        "http://klaviyo.test", KEY, transport=httpx.ASGITransport(create_app(emulator)), rate_limits=None
    )
    asyncio.run(syncer.run(events))
    report = verify(emulator.store.traffic(account_id(KEY)), require_all_metrics=True)
    assert report.ok, report.text()
    webhook_metrics = {metric for metric in report.metrics if metric.startswith("TRIFFT ")}
    assert webhook_metrics, "custom webhooks arrived under their own metrics"
