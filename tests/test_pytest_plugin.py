"""The pytest plugin keeps what a failing test generated, so the failure can be replayed and shrunk."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings

from emulator.pytest_plugin import KlaviyoEmulator
from emulator.trifft.strategies import timelines
from sync import map_event


def _send_without_refresh(emulator: KlaviyoEmulator, events: list[dict[str, Any]]) -> None:
    """A careless producer: every standard event, but its profile carries only the member's external_id."""
    with emulator.client() as client:
        for event in events:
            mapped = map_event(event)
            if mapped.skipped or mapped.problems or mapped.webhook is not None:
                continue
            body = mapped.event_body()
            body["data"]["attributes"]["profile"]["data"]["attributes"] = {"external_id": mapped.member_id}
            assert client.post("/api/events", json=body).status_code == 202


def _saved(message: str) -> list[dict[str, Any]]:
    match = re.search(r"are in (\S+failing-events\.jsonl)", message)
    assert match, message
    assert f"trifft-klaviyo replay {match.group(1)}" in message
    return [json.loads(line) for line in Path(match.group(1)).read_text(encoding="utf-8").splitlines()]


def test_a_failing_contract_check_saves_the_events_the_test_generated(
    klaviyo_emulator: KlaviyoEmulator, trifft_events: Callable[..., list[dict[str, Any]]], tmp_path: Path
) -> None:
    events = trifft_events(count=30, seed=4)
    _send_without_refresh(klaviyo_emulator, events)
    with pytest.raises(AssertionError) as failed:
        klaviyo_emulator.assert_contract()
    assert _saved(str(failed.value)) == events
    assert str(tmp_path) in str(failed.value)


def test_a_passing_or_event_free_test_saves_nothing(klaviyo_emulator: KlaviyoEmulator) -> None:
    with pytest.raises(AssertionError) as failed:
        klaviyo_emulator.assert_contract()
    assert "failing-events" not in str(failed.value)


def test_a_failing_hypothesis_example_saves_the_events_of_the_example_that_failed(
    klaviyo_emulator: KlaviyoEmulator,
) -> None:
    last: list[list[dict[str, Any]]] = []

    @settings(max_examples=20, database=None, suppress_health_check=list(HealthCheck), deadline=None)
    @given(timelines(members=2, max_events=6))
    def check(events: list[dict[str, Any]]) -> None:
        klaviyo_emulator.reset()
        last.append(events)
        _send_without_refresh(klaviyo_emulator, events)
        klaviyo_emulator.assert_contract(allow_empty=True)

    with pytest.raises(AssertionError) as failed:
        check()
    assert _saved(str(failed.value)) == last[-1]


def test_the_saved_file_replays_with_the_printed_command(
    klaviyo_emulator: KlaviyoEmulator, trifft_events: Callable[..., list[dict[str, Any]]]
) -> None:
    events = trifft_events(count=5, seed=2)
    _send_without_refresh(klaviyo_emulator, events)
    with pytest.raises(AssertionError) as failed:
        klaviyo_emulator.assert_contract()
    assert len(_saved(str(failed.value))) == 5
    assert httpx.get(f"{klaviyo_emulator.url}/_emulator/health").status_code == 200
