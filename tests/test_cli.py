"""The real ``trifft-klaviyo`` entry point, run as a subprocess: output, exit codes and one-line errors."""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts import event_schema
from emulator.cli import _COMMANDS, _command, _parser
from emulator.trifft import dumps, generate

ROOT = Path(__file__).resolve().parent.parent


def _env() -> dict[str, str]:
    """The caller's environment without Klaviyo settings, so that only the command line counts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLAVIYO_")}
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emulator.cli", *args],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
    )


def _run_bytes(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "emulator.cli", *args], cwd=ROOT, env=_env(), capture_output=True, timeout=120
    )


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a refused command (exit 2, no traceback, nothing on stdout)."""
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_each_subcommand_the_parser_offers_has_a_handler() -> None:
    [commands] = [a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert (
        list(commands.choices)
        == list(_COMMANDS)
        == ["generate", "demo", "emulator", "sync", "verify", "replay", "shrink", "proxy", "compare"]
    )
    assert all(callable(_command(name)) for name in _COMMANDS)  # each imported when it runs


# -- generate ------------------------------------------------------------------------------------------------------


def test_generate_to_a_file_is_byte_identical_for_the_same_seed(tmp_path: Path) -> None:
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    results = [
        _run("generate", "--count", "300", "--seed", "5", "--out", str(out)) for out in (first, second)
    ]
    assert [r.returncode for r in results] == [0, 0]
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes().count(b"\n") == 300
    assert results[0].stdout == ""
    assert results[0].stderr == f"wrote 300 realistic events (100 members, seed 5) to {first}\n"


def test_generate_to_stdout_gives_the_same_bytes_as_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    assert _run("generate", "--count", "300", "--seed", "5", "--out", str(out)).returncode == 0
    streamed = _run_bytes("generate", "--count", "300", "--seed", "5")
    assert streamed.returncode == 0
    assert streamed.stderr == b""
    assert streamed.stdout == out.read_bytes()


def test_every_generated_line_validates_against_the_event_contract(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    assert _run("generate", "--count", "300", "--seed", "5", "--edge", "--out", str(out)).returncode == 0
    schema = event_schema()
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 300
    assert [
        (number, str(v)) for number, line in enumerate(lines, 1) for v in schema.validate(json.loads(line))
    ] == []


def test_generate_matches_the_library_generator() -> None:
    result = _run_bytes("generate", "--count", "50", "--seed", "9", "--members", "4")
    expected = "".join(dumps(event) + "\n" for event in generate(50, seed=9, members=4))
    assert result.stdout.decode("utf-8") == expected


def test_kinds_accepts_metric_names_and_kinds_mixed() -> None:
    result = _run("generate", "--count", "200", "--seed", "2", "--kinds", "Wallet credited,app_opened")
    assert result.returncode == 0, result.stderr
    kinds = Counter(json.loads(line)["kind"] for line in result.stdout.splitlines())
    assert set(kinds) == {"wallet_credited", "app_opened"}
    assert sum(kinds.values()) == 200


def test_edge_mode_differs_from_realistic_mode() -> None:
    realistic = _run_bytes("generate", "--count", "300", "--seed", "5")
    edge = _run_bytes("generate", "--count", "300", "--seed", "5", "--edge")
    assert realistic.returncode == edge.returncode == 0
    assert realistic.stdout != edge.stdout
    assert edge.stdout.count(b"\n") == 300


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--count", "-1"], ["--count", "-1"]),
        (["--count", "x"], ["--count", "'x'"]),
        (["--members", "0"], ["--members", "0"]),
        (["--kinds", "bogus"], ["'bogus'"]),
        (["--out", "/nonexistent/dir/f.jsonl"], ["/nonexistent/dir/f.jsonl"]),
        (["--no-such-flag"], ["--no-such-flag"]),
    ],
    ids=[
        "negative-count",
        "count-not-a-number",
        "no-members",
        "unknown-kind",
        "unwritable-out",
        "unknown-flag",
    ],
)
def test_invalid_generate_options_are_one_line_naming_the_problem(args: list[str], named: list[str]) -> None:
    line = _one_line_error(_run("generate", *args))
    assert line.startswith("trifft-klaviyo")
    for part in named:
        assert part in line


def test_closing_the_pipe_early_prints_no_traceback() -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "emulator.cli", "generate", "--count", "100000"],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        first = process.stdout.readline()
        process.stdout.close()
        errors = process.stderr.read()
        code = process.wait(timeout=120)
    assert json.loads(first)["sequence"] == 1
    assert errors == b""
    assert code == 0


# -- replay --------------------------------------------------------------------------------------------------------


def test_replaying_a_saved_stream_prints_each_request_in_order_and_the_identifier_conflict() -> None:
    fixture = ROOT / "fixtures" / "edge" / "shared_email.jsonl"
    members = [json.loads(line)["member"]["id"] for line in fixture.read_text(encoding="utf-8").splitlines()]
    result = _run("replay", "fixtures/edge/shared_email.jsonl")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("replayed 2 TRIFFT events into http://127.0.0.1:")
    requests = [line for line in lines if re.match(r"#\d+ POST /api/events ", line)]
    assert [f"for member {m})" in line for line, m in zip(requests, members, strict=True)] == [True, True]
    assert all(line.endswith("-> 202 accepted") for line in requests)
    conflicts = [i for i, line in enumerate(lines) if line.strip().startswith("identifier conflict: email ")]
    assert len(conflicts) == 1 and "'family@example.com'" in lines[conflicts[0]]
    # In the file's order: the second member's event is the one whose email is already taken.
    assert lines.index(requests[1]) < conflicts[0]
    assert any(line.startswith("PASS:") for line in lines)


def test_replaying_a_seed_generates_and_sends_that_many_events() -> None:
    result = _run("replay", "--seed", "3", "--count", "6")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("replayed 6 TRIFFT events")
    assert len([line for line in lines if re.match(r"#\d+ POST /api/events ", line)]) == 6
    assert any(line.startswith("PASS:") for line in lines)


def test_replaying_a_file_that_is_not_json_names_file_line_and_column() -> None:
    line = _one_line_error(_run("replay", "fixtures/seed/raw/member_verified.txt"))
    assert "fixtures/seed/raw/member_verified.txt:1:1: not JSON" in line


def test_replaying_a_missing_file_is_one_line() -> None:
    line = _one_line_error(_run("replay", "fixtures/edge/no_such_file.jsonl"))
    assert "cannot read fixtures/edge/no_such_file.jsonl" in line


def test_replaying_an_event_that_breaks_the_contract_names_the_line_and_the_field(tmp_path: Path) -> None:
    events = [dict(event) for event in generate(2, seed=1, kinds=["app_opened"])]
    events[1]["kind"] = "app_open"
    path = tmp_path / "events.jsonl"
    path.write_text("".join(dumps(e) + "\n" for e in events), encoding="utf-8")
    line = _one_line_error(_run("replay", str(path)))
    assert f"{path}:2: /kind:" in line and "'app_open'" in line


@pytest.mark.parametrize(
    "args",
    [[], ["fixtures/edge/shared_email.jsonl", "--seed", "3"]],
    ids=["neither-file-nor-seed", "both-file-and-seed"],
)
def test_replay_wants_exactly_one_of_file_and_seed(args: list[str]) -> None:
    line = _one_line_error(_run("replay", *args))
    assert "FILE or --seed" in line


# -- sync ----------------------------------------------------------------------------------------------------------


def test_sync_without_an_api_key_is_one_line(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text("", encoding="utf-8")
    line = _one_line_error(_run("sync", "--input", str(events), "--base-url", "http://127.0.0.1:9"))
    assert "--api-key" in line and "KLAVIYO_API_KEY" in line


def test_sync_reports_each_bad_line_by_file_and_line_and_delivers_the_rest(
    tmp_path: Path, emulator_url: str
) -> None:
    events = list(generate(12, seed=1, members=3))
    violating: dict[str, Any] = dict(events[5], kind="wallet_credit")
    lines = [dumps(e) for e in events[:3]] + ['{"version": 1, oops'] + [dumps(e) for e in events[3:5]]
    lines += [dumps(violating)] + [dumps(e) for e in events[6:]]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    key = "pk_test_cli_sync_0001"

    result = _run(
        "sync", "--input", str(path), "--base-url", emulator_url, "--api-key", key, "--rate-limits", "off"
    )

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    stderr = result.stderr.splitlines()
    malformed = [line for line in stderr if line.startswith(f"{path}:4:")]
    wrong_kind = [line for line in stderr if line.startswith(f"{path}:7: /kind:")]
    assert len(malformed) == 1 and "not JSON" in malformed[0] and malformed[0].endswith("; line skipped")
    assert (
        len(wrong_kind) == 1
        and "'wallet_credit'" in wrong_kind[0]
        and wrong_kind[0].endswith("; line skipped")
    )
    assert not any(line.startswith(f"{path}:") for line in stderr if line not in malformed + wrong_kind)

    state = httpx.get(f"{emulator_url}/_emulator/state", params={"key": key}, timeout=30).json()
    delivered = {row["unique_id"] for row in state["events"]}
    expected = {e["event_id"] for e in events if e is not events[5]}
    system = {
        e["event_id"]
        for e in events
        if e["kind"] in ("added_to_segment", "removed_from_segment") and e["data"]["is_internal"]
    }
    assert delivered == expected - system
    assert events[5]["event_id"] not in delivered


# -- demo ----------------------------------------------------------------------------------------------------------


def test_demo_with_exit_passes_and_links_to_no_server_that_has_stopped() -> None:
    result = _run("demo", "--count", "200", "--members", "20", "--exit", "--port", "0", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    verdict = [line for line in lines if line.startswith("PASS: ")]
    assert len(verdict) == 1 and verdict[0].endswith(" 0 violations"), lines
    assert re.fullmatch(
        r"sync: \d+ Klaviyo events? \(\d+ bulk jobs?\), \d+ profile refresh(es)?, \d+ custom webhooks?, .*, "
        r"0 dead letters, \d+ throttled waits?, in \d+\.\ds",
        next(line for line in lines if line.startswith("sync: ")),
    )
    assert not any("http://" in line for line in lines[1:]), "no link to an emulator that is gone"
    assert lines[-1] == "the emulator has stopped (--exit); run without --exit to browse the dashboard"


def test_demo_serving_links_to_its_dashboard_while_it_is_up() -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "emulator.cli", "demo", "--count", "60", "--members", "6", "--port", "0"],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    ) as process:
        assert process.stdout is not None
        try:
            lines = []
            for line in process.stdout:
                lines.append(line.rstrip("\n"))
                if line.startswith("serving until Ctrl-C"):
                    break
            dashboard = next(line for line in lines if line.startswith("dashboard: "))
            match = re.match(r"dashboard: (http://127\.0\.0\.1:(\d+))/ ", dashboard)
            assert match is not None and int(match.group(2)) > 0
            for link in re.findall(r"http://\S+", dashboard):
                assert httpx.get(link, timeout=30).status_code == 200, link
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)


def test_demo_on_a_busy_port_asked_for_is_one_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = _one_line_error(_run("demo", "--port", str(port), "--exit"))
    assert line.startswith(f"trifft-klaviyo demo: error: cannot listen on 127.0.0.1:{port}: ")
    assert line.endswith("choose another --port (0 picks a free one)")


def test_demo_without_a_port_moves_off_a_busy_8525_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rich.console import Console

    from emulator import demo

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        monkeypatch.setattr(demo, "DEFAULT_PORT", busy.getsockname()[1])
        said = io.StringIO()
        running = demo._start(None, Console(file=said))
        running.stop()
    assert running.port not in (0, demo.DEFAULT_PORT)
    assert said.getvalue() == f"port {demo.DEFAULT_PORT} is taken; using a free one (--port to choose)\n"


def test_a_bare_command_prints_the_help_with_the_exit_codes() -> None:
    result = _run()
    assert result.returncode == 2 and "COMMAND" in result.stderr and "exit codes: 0" in result.stderr
    for command in _COMMANDS:
        assert command in result.stderr


def test_version_names_the_installed_version() -> None:
    result = _run("--version")
    assert result.returncode == 0 and re.fullmatch(r"trifft-klaviyo \d+\.\d+\.\d+\S*\n", result.stdout)
