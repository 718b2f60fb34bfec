from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from contracts import ALL_KINDS, event_schema
from emulator.trifft import dumps, generate, inconsistencies


def _stream(count: int, seed: int, edge: bool = False, members: int = 100) -> list[dict[str, Any]]:
    return list(generate(count, seed=seed, members=members, edge=edge))


def test_the_same_seed_gives_byte_identical_output() -> None:
    first = "\n".join(dumps(e) for e in generate(800, seed=42, edge=True))
    second = "\n".join(dumps(e) for e in generate(800, seed=42, edge=True))
    assert first == second


def test_different_seeds_give_different_streams() -> None:
    assert [dumps(e) for e in generate(50, seed=1)] != [dumps(e) for e in generate(50, seed=2)]


@pytest.mark.parametrize("edge", [False, True], ids=["realistic", "edge"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_kind_and_custom_webhooks_appear_in_a_few_thousand_events(seed: int, edge: bool) -> None:
    kinds = Counter(e["kind"] for e in generate(3000, seed=seed, edge=edge))
    assert set(kinds) == set(ALL_KINDS), set(ALL_KINDS) - set(kinds)


@pytest.mark.parametrize("edge", [False, True], ids=["realistic", "edge"])
def test_every_generated_event_validates_against_the_event_contract(edge: bool) -> None:
    schema = event_schema()
    invalid = [(e["kind"], v) for e in generate(2000, seed=7, edge=edge) for v in schema.validate(e)]
    assert invalid == []


@pytest.mark.parametrize("edge", [False, True], ids=["realistic", "edge"])
def test_generated_streams_tell_a_consistent_story(edge: bool) -> None:
    assert inconsistencies(generate(4000, seed=11, edge=edge, members=40)) == []


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_a_kinds_filter_gives_only_those_kinds_and_each_event_is_valid(kind: str) -> None:
    events = list(generate(150, seed=5, members=3, kinds=[kind], edge=True))
    assert {e["kind"] for e in events} == {kind}
    assert [v for e in events for v in event_schema().validate(e)] == []


def test_members_bounds_the_number_of_distinct_members() -> None:
    assert len({e["member"]["id"] for e in generate(3000, seed=3, members=25)}) == 25


def test_sequence_counts_each_members_events_from_one() -> None:
    seen: Counter[str] = Counter()
    for event in generate(1000, seed=9, members=10):
        seen[event["member"]["id"]] += 1
        assert event["sequence"] == seen[event["member"]["id"]]


def _renders_json(body: str) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


def test_edge_mode_contains_what_breaks_integrations() -> None:
    events = _stream(6000, seed=4, edge=True, members=60)
    members = {e["member"]["id"]: e["member"] for e in events}
    by_email: dict[str, set[str]] = {}
    for event in events:
        if event["member"]["email"]:
            by_email.setdefault(event["member"]["email"], set()).add(event["member"]["id"])
    text = "\n".join(dumps(e) for e in events)
    baskets = [len(e["data"]["items"]) for e in events if e["kind"] == "transaction_created"]
    webhooks = [e["data"]["rendered_body"] for e in events if e["kind"] == "custom_webhook"]
    params = [p["value"] for m in members.values() for p in m["params"].values()]
    same_second = Counter((e["member"]["id"], e["occurred_at"]) for e in events)
    assert any(m["email"] is None and m["phone"] for m in members.values()), "a phone-only member"
    assert any(len(ids) > 1 for ids in by_email.values()), "two members sharing an email"
    assert any(e["data"].get("reason") == "email_changed" for e in events), "an email change"
    assert 500 in baskets and 0 in baskets, "a 500-item basket and an empty one"
    assert any(not _renders_json(body) for body in webhooks), "a webhook body that is not JSON"
    assert None in params and "" in params, "null and empty custom parameters"
    assert "مرحبا" in text or "שלום" in text, "right-to-left text"
    assert "🍺" in text and "<img src=x onerror=alert(1)>" in text, "emoji and markup"
    assert max(same_second.values()) > 1, "two events of one member in the same second"
    assert any(m["points"] >= 10**10 for m in members.values()), "a very large balance"
    assert any(e["kind"] == "added_to_segment" and e["data"]["is_internal"] for e in events), "system segment"


def test_realistic_mode_stays_clean() -> None:
    events = _stream(3000, seed=4)
    text = "\n".join(dumps(e) for e in events)
    assert "<img" not in text and "مرحبا" not in text
    assert all(_renders_json(e["data"]["rendered_body"]) for e in events if e["kind"] == "custom_webhook")


def test_a_negative_count_is_refused() -> None:
    with pytest.raises(ValueError, match="count"):
        generate(-1)


def test_unknown_kinds_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"wallet_credit\b"):
        list(generate(1, kinds=["wallet_credit"]))
