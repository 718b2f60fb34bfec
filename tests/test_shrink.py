"""shrink: from a producer that breaks a rule on a big input to the smallest input that still breaks it."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from emulator.shrink import Shrinker, ShrinkError, ddmin
from emulator.trifft import generate

CARELESS = f"{shlex.quote(sys.executable)} {Path(__file__).parent / 'producers' / 'careless.py'}"
EVENTS = list(generate(600, seed=3, members=60))


def test_ddmin_finds_the_two_items_that_together_fail() -> None:
    tried: list[int] = []

    def fails(items: list[int]) -> bool:
        tried.append(len(items))
        return 3 in items and 417 in items

    assert ddmin(list(range(600)), fails) == [3, 417]
    assert len(tried) < 120


def test_ddmin_keeps_an_input_whose_every_part_is_needed() -> None:
    assert ddmin([1, 2, 3], lambda items: len(items) == 3) == [1, 2, 3]


@pytest.mark.slow
def test_a_producer_breaking_one_rule_on_two_kinds_shrinks_from_600_events_to_at_most_3() -> None:
    lines: list[str] = []
    with Shrinker(
        f"{CARELESS} --forget language_changed,favorite_venue_changed", progress=lines.append
    ) as shrinker:
        result = shrinker.shrink(EVENTS)
    assert result.rule == "refresh-follows-event" and result.complete
    assert 1 <= len(result.events) <= 3
    assert {e["kind"] for e in result.events} & {"language_changed", "favorite_venue_changed"}
    assert result.summary().startswith(f"600 events -> {len(result.events)} event")
    assert len(lines) == len(result.tries) and result.seconds < 120


def test_a_producer_that_keeps_the_contract_has_nothing_to_shrink() -> None:
    with (
        Shrinker(f"{CARELESS} --forget nothing") as shrinker,
        pytest.raises(ShrinkError, match="keeps the contract"),
    ):
        shrinker.shrink(EVENTS[:40])


def test_a_producer_that_fails_only_sometimes_is_named_flaky(tmp_path: Path) -> None:
    counter = tmp_path / "runs"
    producer = f"{CARELESS} --forget app_opened,language_changed --alternate {shlex.quote(str(counter))}"
    with Shrinker(producer) as shrinker, pytest.raises(ShrinkError, match="only sometimes"):
        shrinker.shrink(EVENTS[:80])


def test_a_command_that_cannot_run_is_named() -> None:
    with Shrinker("no-such-producer-command") as shrinker, pytest.raises(ShrinkError, match="cannot run"):
        shrinker.shrink(EVENTS[:5])


def test_a_rule_the_producer_keeps_cannot_be_the_target() -> None:
    careless = Shrinker(f"{CARELESS} --forget app_opened", rule="no-duplicate")
    with careless as shrinker, pytest.raises(ShrinkError, match="does not break no-duplicate"):
        shrinker.shrink(EVENTS[:60])


def test_the_try_bound_stops_the_search_and_says_so() -> None:
    with Shrinker(f"{CARELESS} --forget app_opened", max_tries=4) as shrinker:
        result = shrinker.shrink(EVENTS[:200])
    assert not result.complete and len(result.tries) == 4
    assert "may shrink further" in result.summary()


def test_a_producer_that_sends_nothing_is_named_not_shrunk() -> None:
    with Shrinker("true") as shrinker, pytest.raises(ShrinkError, match="sent nothing the emulator accepted"):
        shrinker.shrink(EVENTS[:20])
