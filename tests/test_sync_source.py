"""Reading saved TRIFFT events: JSON Lines for ``sync`` (bad lines skipped and named), any saved form for replay."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from emulator.trifft import dumps, generate
from sync import load_events, read_events


def _events(count: int = 3) -> list[dict[str, Any]]:
    return [dict(event) for event in generate(count, seed=4, members=2)]


def test_read_events_gives_each_valid_line_and_names_each_bad_one(tmp_path: Path) -> None:
    events = _events()
    path = tmp_path / "events.jsonl"
    broken = dict(events[1], kind="wallet_credit")
    path.write_text(f"{dumps(events[0])}\n\n{{oops\n{dumps(broken)}\n{dumps(events[2])}\n", encoding="utf-8")

    read, problems = read_events(str(path))

    assert read == [events[0], events[2]]
    assert len(problems) == 2
    assert problems[0].startswith(f"{path}:3:2: not JSON: ") and problems[0].endswith("; line skipped")
    assert problems[1].startswith(f"{path}:4: /kind: ") and "'wallet_credit'" in problems[1]
    assert problems[1].endswith("; line skipped")


def test_read_events_reads_standard_input_for_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    events = _events(2)
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(dumps(e) + "\n" for e in events) + "[1]\n"))

    read, problems = read_events("-")

    assert read == events
    assert len(problems) == 1 and problems[0].startswith("<stdin>:3: /: ")


def test_read_events_of_a_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        read_events(str(tmp_path / "missing.jsonl"))


@pytest.mark.parametrize("form", ["one event", "a list", "json lines"])
def test_load_events_reads_every_saved_form(tmp_path: Path, form: str) -> None:
    events = _events(1 if form == "one event" else 3)
    path = tmp_path / "saved"
    if form == "one event":
        path.write_text(json.dumps(events[0], indent=2), encoding="utf-8")
    elif form == "a list":
        path.write_text(json.dumps(events), encoding="utf-8")
    else:
        path.write_text("".join(dumps(e) + "\n" for e in events), encoding="utf-8")

    assert load_events(str(path)) == events


def test_load_events_names_the_first_bad_line_of_json_lines(tmp_path: Path) -> None:
    events = _events(2)
    path = tmp_path / "events.jsonl"
    path.write_text(f"{dumps(events[0])}\n{{oops\n{dumps(events[1])}\n", encoding="utf-8")

    with pytest.raises(ValueError, match=r"events\.jsonl:2:2: not JSON: .*[^;]$") as refused:
        load_events(str(path))
    assert "line skipped" not in str(refused.value)


def test_load_events_names_the_event_of_a_list_that_breaks_the_contract(tmp_path: Path) -> None:
    events = _events(2)
    events[1]["kind"] = "app_open"
    path = tmp_path / "events.json"
    path.write_text(json.dumps(events), encoding="utf-8")

    with pytest.raises(ValueError, match=r"events\.json: event 2: /kind: .*'app_open'"):
        load_events(str(path))


def test_load_events_refuses_a_list_of_what_is_not_an_event(tmp_path: Path) -> None:
    path = tmp_path / "numbers.json"
    path.write_text("[1, 2]", encoding="utf-8")

    with pytest.raises(ValueError, match="expected a TRIFFT event, a list of them, or JSON Lines"):
        load_events(str(path))
