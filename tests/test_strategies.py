"""Everything the Hypothesis strategies generate validates against its contract, and shrinks as documented."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from contracts import ALL_KINDS, event_schema, schema
from emulator.trifft import inconsistencies, strategies

# find() would otherwise replay the example it saved last time: shrink from scratch, as a failing test would.
FRESH = settings(max_examples=2000, database=None)


def _violations(instance: Any, path: str) -> list[str]:
    return [str(v) for v in schema(path).validate(instance)]


@given(st.booleans().flatmap(lambda edge: strategies.members(edge=edge)))
def test_members_validate_against_the_member_contract(member: dict[str, Any]) -> None:
    assert _violations(member, "trifft/event.json#/$defs/member") == []


@given(st.booleans().flatmap(lambda edge: strategies.venues(edge=edge)))
def test_venues_validate_against_the_venue_contract(venue: dict[str, Any]) -> None:
    assert _violations(venue, "common.json#/$defs/venue") == []


@given(st.booleans().flatmap(lambda edge: strategies.coupons(edge=edge)))
def test_coupons_validate_against_the_coupon_contract(coupon: dict[str, Any]) -> None:
    assert _violations(coupon, "common.json#/$defs/coupon") == []


@given(st.booleans().flatmap(lambda edge: strategies.segments(edge=edge)))
def test_segments_validate_against_the_trifft_segment_contract(segment: dict[str, Any]) -> None:
    assert _violations(segment, "trifft/event.json#/$defs/trifft_segment") == []


@given(strategies.segments(internal=True))
def test_internal_segments_are_always_internal_system_segments(segment: dict[str, Any]) -> None:
    assert segment["is_internal"] is True
    assert segment["type"] == "INTERNAL"
    assert _violations(segment, "trifft/event.json#/$defs/trifft_segment") == []


@given(strategies.wallets())
def test_wallets_validate_against_the_wallet_contract(wallet: dict[str, Any]) -> None:
    assert _violations(wallet, "common.json#/$defs/wallet") == []


@given(st.booleans().flatmap(lambda edge: strategies.custom_webhooks(edge=edge)))
def test_custom_webhooks_validate_against_the_webhook_contract(webhook: dict[str, Any]) -> None:
    assert _violations(webhook, "trifft/event.json#/$defs/custom_webhook/properties/webhook") == []


@pytest.mark.parametrize("edge", [False, True], ids=["realistic", "edge"])
@pytest.mark.parametrize("kind", ALL_KINDS)
def test_each_kind_strategy_gives_valid_events_of_exactly_that_kind(kind: str, edge: bool) -> None:
    strategy = getattr(strategies, f"{kind}_events")(edge=edge)

    @given(strategy)
    def check(event: dict[str, Any]) -> None:
        assert event["kind"] == kind
        assert [str(v) for v in event_schema().validate(event)] == []

    check()


@given(st.booleans().flatmap(lambda edge: strategies.events(edge=edge)))
def test_events_of_any_kind_validate_against_the_event_contract(event: dict[str, Any]) -> None:
    assert event["kind"] in ALL_KINDS
    assert [str(v) for v in event_schema().validate(event)] == []


@pytest.mark.parametrize("edge", [False, True], ids=["realistic", "edge"])
def test_timelines_are_valid_and_tell_a_consistent_story(edge: bool) -> None:
    @given(strategies.timelines(edge=edge))
    def check(timeline: list[dict[str, Any]]) -> None:
        assert timeline
        assert [str(v) for event in timeline for v in event_schema().validate(event)] == []
        assert inconsistencies(timeline) == []

    check()


@pytest.mark.slow
def test_a_timeline_of_three_events_shrinks_to_three_events_of_one_member() -> None:
    timeline = find(strategies.timelines(), lambda t: len(t) >= 3, settings=FRESH)
    assert len(timeline) == 3
    assert len({event["member"]["id"] for event in timeline}) == 1
    assert [event["sequence"] for event in timeline] == [1, 2, 3]


@pytest.mark.slow
def test_a_member_without_email_shrinks_to_a_phone_only_member() -> None:
    member = find(strategies.members(edge=True), lambda m: m["email"] is None, settings=FRESH)
    assert member["email"] is None
    assert member["phone"]
    assert _violations(member, "trifft/event.json#/$defs/member") == []
