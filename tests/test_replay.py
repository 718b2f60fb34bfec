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
