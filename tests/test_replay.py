"""``emulator.replay``: events through the sync into an emulator, each request told in the stream's order."""

from __future__ import annotations

import json
import re
from pathlib import Path

from emulator.replay import replay
from emulator.trifft import generate
from sync import load_events

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_a_replay_into_its_own_emulator_tells_each_request_in_order_and_the_verdict() -> None:
    events = load_events(str(FIXTURES / "edge" / "shared_email.jsonl"))
    said: list[str] = []

    assert replay(events, out=said.append) == 0

    assert re.fullmatch(
        r"replayed 2 TRIFFT events into http://127\.0\.0\.1:\d+ as account pk_replay_\w{12}", said[0]
    )
    members = [event["member"]["id"] for event in events]
    requests = [line for line in said if line.startswith("#")]
    assert [f"for member {member})" in line for line, member in zip(requests, members, strict=True)] == [
        True
    ] * 2
    conflict = next(i for i, line in enumerate(said) if line.startswith("    identifier conflict: email "))
    assert said.index(requests[1]) < conflict
    assert said[-1].startswith("PASS:")


def test_a_replay_into_a_running_emulator_uses_a_fresh_account_and_names_dead_letters(
    emulator_url: str,
) -> None:
    broken = json.loads((FIXTURES / "edge" / "custom_webhook_null_param.json").read_text(encoding="utf-8"))
    events = [*generate(3, seed=2, members=2, kinds=["app_opened"]), broken]
    said: list[str] = []

    assert replay(events, base_url=emulator_url, out=said.append) == 1

    assert said[0].startswith(f"replayed 4 TRIFFT events into {emulator_url} as account pk_replay_")
    assert len([line for line in said if re.match(r"#\d+ POST /api/events ", line)]) == 3
    [dead] = [line for line in said if line.startswith("dead letter ")]
    assert dead.startswith(
        f"dead letter (custom_webhook {broken['event_id']}): the rendered body is not JSON"
    )


def test_a_replay_shows_the_exact_value_that_arrived_and_what_was_done_with_it() -> None:
    [event] = load_events(str(FIXTURES / "edge" / "very_large_balance.json"))
    said: list[str] = []
    assert replay([event], out=said.append) == 0
    text = "\n".join(said)
    assert f'"points": {event["data"]["wallet"]["points"]},' in text  # 17 digits, not rounded by a float
    assert f"    from TRIFFT event {event['event_id']}" in said
    assert any(
        re.fullmatch(r"    profile \(/data/attributes/profile/data\): created profile \w{26}", s)
        for s in said
    )
    assert any(
        re.fullmatch(r"    event 'Wallet credited' \(/data/attributes\): stored as event \w{26}", s)
        for s in said
    )


def test_a_replay_names_every_input_event_that_produced_nothing_and_why() -> None:
    [segment] = load_events(str(FIXTURES / "edge" / "system_segment_added.json"))
    [other] = generate(1, seed=4, members=1, kinds=["app_opened"])
    said: list[str] = []
    assert replay([segment, other, other], out=said.append) == 0
    quiet = said.index("2 input events produced no request:")
    assert "system segment 'internal-all-members': TRIFFT ignores system segments" in said[quiet + 1]
    assert said[quiet + 2].endswith("a repeat of an earlier event with the same event_id; sent once")


def test_a_replay_shows_the_value_klaviyo_refused_at_its_pointer(emulator_url: str) -> None:
    broken = json.loads((FIXTURES / "edge" / "custom_webhook_null_param.json").read_text(encoding="utf-8"))
    [event] = generate(1, seed=9, members=1, kinds=["app_opened"])
    event["member"]["email"] = "not an address"
    said: list[str] = []
    assert replay([event, broken], base_url=emulator_url, out=said.append) == 1
    [refused] = [line for line in said if line.startswith("    rejected: ")]
    assert refused.endswith(
        'at /data/attributes/profile/data/attributes/email; the value there: "not an address"'
    )
    assert any(line.startswith("#") and line.endswith("-> 400 rejected") for line in said)


def test_a_replay_with_compact_shortens_long_values_only_when_asked() -> None:
    [event] = load_events(str(FIXTURES / "edge" / "basket_500_items.json"))
    whole: list[str] = []
    short: list[str] = []
    replay([event], out=whole.append)
    replay([event], out=short.append, compact=True)
    assert "more items" in "\n".join(short) and "more items" not in "\n".join(whole)
    assert len(short) < len(whole)
