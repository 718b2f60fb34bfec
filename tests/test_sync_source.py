"""Reading saved TRIFFT events: JSON Lines for ``sync`` (bad lines skipped and named), any saved form for replay."""

from __future__ import annotations

import gzip
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
    text = "".join(dumps(e) + "\n" for e in events) + "[1]\n"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(text.encode()), encoding="utf-8"))

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


# -- whatever the bytes ---------------------------------------------------------------------------------------


def _jsonl(events: list[dict[str, Any]]) -> bytes:
    return "".join(dumps(e) + "\n" for e in events).encode("utf-8")


def test_a_latin_1_line_is_named_and_skipped_and_the_rest_is_read(tmp_path: Path) -> None:
    events = _events(3)
    lines = _jsonl(events).splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"version"', '"caf\u00e9"'.encode("latin-1") + b':1,"version"', 1)
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b"".join(lines))

    read, problems = read_events(str(path))

    assert read == [events[0], events[2]]
    assert problems == [
        f"{path}:2: not UTF-8: byte 0xE9 at byte 6 of the line (save it as UTF-8); line skipped"
    ]


def test_a_byte_order_mark_costs_no_event(tmp_path: Path) -> None:
    events = _events(2)
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + _jsonl(events))

    assert read_events(str(path)) == (events, [])
    assert load_events(str(path)) == events


def test_gzip_is_read_by_its_magic_bytes_whatever_the_name_and_from_standard_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = _events(4)
    path = tmp_path / "events.jsonl"  # no .gz: the bytes say what it is
    path.write_bytes(gzip.compress(_jsonl(events[:2])) + gzip.compress(_jsonl(events[2:])))
    assert read_events(str(path)) == (events, [])
    assert load_events(str(path)) == events

    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(path.read_bytes())))
    assert read_events("-") == (events, [])


def test_a_truncated_gzip_gives_the_lines_before_the_cut_and_names_where_it_ends(tmp_path: Path) -> None:
    events = _events(60)
    whole = gzip.compress(_jsonl(events))
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[: len(whole) * 2 // 3])

    read, problems = read_events(str(path))

    assert 0 < len(read) < len(events) and read == events[: len(read)]
    assert problems == [f"{path}:{len(read) + 1}: gzip data is truncated here; the rest of the input is lost"]
    with pytest.raises(ValueError, match=r"cut\.jsonl\.gz:\d+: gzip data is truncated here"):
        load_events(str(path))


def test_load_events_names_the_line_that_is_not_utf_8(tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    path.write_bytes(b'[\n  {"kind": "caf\xe9"}\n]\n')

    with pytest.raises(ValueError, match=r"events\.json:2: not UTF-8: byte 0xE9 at byte 16 of the line"):
        load_events(str(path))


@pytest.mark.parametrize("nesting", ["[" * 100_000, '{"a":' * 100_000])
def test_json_nested_deeper_than_the_reader_goes_is_a_bad_line(tmp_path: Path, nesting: str) -> None:
    path = tmp_path / "deep.jsonl"
    path.write_text(nesting + "\n" + dumps(_events(1)[0]) + "\n", encoding="utf-8")

    read, problems = read_events(str(path))

    assert len(read) == 1 and problems == [
        f"{path}:1: not JSON this reader takes: nested too deeply; line skipped"
    ]
    with pytest.raises(ValueError, match="nested too deeply"):
        load_events(str(path))


def test_a_lone_surrogate_escape_is_a_bad_line_not_a_crash_later(tmp_path: Path) -> None:
    member = _events(1)[0]
    slug = next(iter(member["member"]["params"]), None)
    assert slug is not None, "the generated member has a custom parameter to spoil"
    member["member"]["params"][slug]["value"] = "x\ud800"
    path = tmp_path / "surrogate.jsonl"
    path.write_text(json.dumps(member) + "\n", encoding="ascii")

    assert read_events(str(path)) == (
        [],
        [f"{path}:1: a \\ud800 escape is half a character (a lone surrogate); line skipped"],
    )


def test_the_reason_json_gives_is_not_followed_by_a_dangling_at(tmp_path: Path) -> None:
    path = tmp_path / "control.jsonl"
    path.write_bytes(b'{"a": "tab\there"}\n')

    [problem] = read_events(str(path))[1]

    assert problem == f"{path}:1:11: not JSON: Invalid control character; line skipped"


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_a_number_json_cannot_hold_is_a_bad_line_not_sent_on_as_null(tmp_path: Path, constant: str) -> None:
    event = _events(1)[0]
    text = dumps(event)
    path = tmp_path / "nan.jsonl"
    # Python's json reads NaN; an encoder further down would write it as null and change the member's data.
    cut = text.index('"sequence":') + len('"sequence":')
    number = text[cut:].split(",", 1)[0]
    line = text[:cut] + constant + text[cut + len(number) :]
    path.write_text(f"{line}\n{dumps(event)}\n", encoding="utf-8")

    read, [problem] = read_events(str(path))

    assert read == [event]
    assert problem == (
        f"{path}:1:{line.index(constant) + 1}: not JSON: {constant} is not a JSON value; line skipped"
    )
