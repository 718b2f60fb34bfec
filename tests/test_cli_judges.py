"""The judging subcommands as a user runs them: verify, shrink, proxy and compare, over real sockets.

Each must be able to fail: on nothing, on a wrong key, on an unreachable server, on a flaky producer.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts import KLAVIYO_REVISION
from emulator.klaviyo import Emulator
from emulator.server import RunningEmulator
from emulator.trifft import generate, write_jsonl
from sync import map_event

ROOT = Path(__file__).resolve().parent.parent
CARELESS = f"{shlex.quote(sys.executable)} {ROOT / 'tests' / 'producers' / 'careless.py'}"
KEY = "pk_test_cli_judges_01"


def _run(*args: str, timeout: float = 180, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KLAVIYO_", "TTY_", "FORCE_COLOR"))}
    env.update(extra)
    return subprocess.run(
        [sys.executable, "-m", "emulator.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
    )


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served() -> Iterator[RunningEmulator]:
    with RunningEmulator(Emulator(rate_limits="off", api_keys=frozenset({KEY}))) as running:
        yield running


def _post_event(url: str, **change: Any) -> None:
    event = next(e for e in generate(60, seed=2) if e["kind"] == "app_opened")
    body = map_event(event).event_body()
    body["data"]["attributes"]["properties"].update(change)
    headers = {"Authorization": f"Klaviyo-API-Key {KEY}", "revision": KLAVIYO_REVISION}
    assert httpx.post(f"{url}/api/events", json=body, headers=headers).status_code == 202


# -- verify ------------------------------------------------------------------------------------------------------


def test_verify_fails_an_account_that_received_nothing_and_says_why(served: RunningEmulator) -> None:
    done = _run("verify", "--base-url", served.url, "--api-key", KEY)
    assert done.returncode == 1
    assert "nothing was received for this API key: check the key and the base URL" in done.stdout
    allowed = _run("verify", "--base-url", served.url, "--api-key", KEY, "--allow-empty")
    assert allowed.returncode == 0 and "PASS" in allowed.stdout


def test_verify_says_when_the_emulator_refuses_the_key(served: RunningEmulator) -> None:
    httpx.post(f"{served.url}/api/events", json={}, headers={"Authorization": "Klaviyo-API-Key pk_typo"})
    done = _run("verify", "--base-url", served.url, "--api-key", "pk_typo", "--allow-empty")
    assert done.returncode == 1 and "refuses the key" in done.stdout


def test_verify_exits_3_when_nothing_listens() -> None:
    started = time.monotonic()
    done = _run("verify", "--base-url", f"http://127.0.0.1:{_closed_port()}", "--api-key", KEY)
    assert done.returncode == 3 and "cannot reach" in done.stderr and "Traceback" not in done.stderr
    assert time.monotonic() - started < 10


def test_verify_json_names_the_event_the_value_and_what_was_expected(
    served: RunningEmulator, tmp_path: Path
) -> None:
    _post_event(served.url, app_version=7)
    report = tmp_path / "report.json"
    done = _run("verify", "--base-url", served.url, "--api-key", KEY, "--json", str(report))
    assert done.returncode == 1
    [violation] = json.loads(report.read_text())["violations"]
    assert violation["rule"] == "metric-payload" and violation["event_id"]
    assert (violation["value"], violation["expected"]) == (7, "string")
    assert 'value 7, expected "string"' in done.stdout


# -- shrink ------------------------------------------------------------------------------------------------------


@pytest.fixture
def input_file(tmp_path: Path) -> Path:
    path = tmp_path / "failing.jsonl"
    write_jsonl(generate(600, seed=3, members=60), path)
    return path


@pytest.mark.slow
def test_shrink_turns_600_events_into_at_most_3_that_still_break_the_rule(input_file: Path) -> None:
    started = time.monotonic()
    producer = f"{CARELESS} --forget language_changed,favorite_venue_changed"
    done = _run("shrink", "--input", str(input_file), "--producer", producer)
    assert done.returncode == 0, done.stderr
    shrunk = input_file.with_name("failing.shrunk.jsonl")
    kept = [json.loads(line) for line in shrunk.read_text().splitlines()]
    assert 1 <= len(kept) <= 3 and time.monotonic() - started < 120
    assert (
        f"600 events -> {len(kept)} event" in done.stdout
        and "refresh-follows-event still fails" in done.stdout
    )
    assert done.stderr.count("try ") >= 5  # a progress line per try


@pytest.mark.slow
def test_a_piped_shrink_shows_its_progress_every_few_seconds(input_file: Path) -> None:
    producer = f"{CARELESS} --forget language_changed,favorite_venue_changed"
    done = _run(
        "shrink", "--input", str(input_file), "--producer", producer, TRIFFT_KLAVIYO_PROGRESS_SECONDS="0.2"
    )
    assert done.returncode == 0, done.stderr
    progress = [line for line in done.stderr.splitlines() if line.startswith("shrinking: ")]
    assert progress, done.stderr
    assert all(
        re.fullmatch(r"shrinking: \d+/300 tries \(\d+%\), \d+ tries/s(, .*)?", line) for line in progress
    )
    assert any(re.search(r", smallest failing input so far: \d+ events$", line) for line in progress)


def test_shrink_says_an_empty_input_holds_nothing_to_shrink(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    done = _run("shrink", "--input", str(empty))
    assert done.returncode == 2 and done.stderr == (
        f"trifft-klaviyo shrink: error: no events in {empty} (empty input): nothing to shrink\n"
    )


def test_shrink_says_a_producer_that_keeps_the_contract_has_nothing_to_shrink(input_file: Path) -> None:
    done = _run("shrink", "--input", str(input_file), "--producer", f"{CARELESS} --forget none")
    assert done.returncode == 1 and "keeps the contract on the whole input" in done.stderr


def test_shrink_names_a_producer_that_breaks_the_rule_only_sometimes(
    input_file: Path, tmp_path: Path
) -> None:
    producer = f"{CARELESS} --forget language_changed --alternate {tmp_path / 'runs'}"
    done = _run("shrink", "--input", str(input_file), "--producer", producer)
    assert done.returncode == 1 and "only sometimes" in done.stderr


def test_shrink_names_a_command_that_cannot_run(input_file: Path) -> None:
    done = _run("shrink", "--input", str(input_file), "--producer", "no-such-producer-anywhere")
    assert (
        done.returncode == 2 and "cannot run the producer" in done.stderr and "Traceback" not in done.stderr
    )


def test_shrink_refuses_an_unknown_rule(input_file: Path) -> None:
    done = _run("shrink", "--input", str(input_file), "--rule", "refresh-follows")
    assert done.returncode == 2 and "unknown rule 'refresh-follows'" in done.stderr


# -- proxy and compare -------------------------------------------------------------------------------------------


def test_the_proxy_command_forwards_records_and_verify_judges_it(
    served: RunningEmulator, tmp_path: Path
) -> None:
    log = tmp_path / "proxy.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "emulator.cli", "proxy", "--port", "0", "--upstream", served.url],
            stderr=stderr,
            stdout=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + 30
        while "control API at" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        url = log.read_text().split("trifft-klaviyo proxy on ")[1].split(" ")[0]
        _post_event(url, app_version=7)
        judged = _run("verify", "--base-url", url, "--api-key", KEY)
        exported = httpx.get(f"{url}/_emulator/export", params={"key": KEY}).text
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert judged.returncode == 1 and "[metric-payload]" in judged.stdout
    recording = tmp_path / "recording.jsonl"
    recording.write_text(exported)
    with RunningEmulator(Emulator(rate_limits="off")) as other:
        same = _run("compare", str(recording), "--base-url", other.url)
    assert same.returncode == 0 and "1 exchange compared" in same.stdout and "no differences" in same.stdout
    unreachable = _run("compare", str(recording), "--base-url", f"http://127.0.0.1:{_closed_port()}")
    assert unreachable.returncode == 3 and "cannot reach" in unreachable.stderr


def test_the_proxy_refuses_an_upstream_that_is_not_a_url() -> None:
    done = _run("proxy", "--upstream", "a.klaviyo.com", "--port", "0")
    assert done.returncode == 2 and "--upstream must be an http:// or https:// URL" in done.stderr


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"\x1f\x8b\x08\xf6\xd0 random", ":1: not UTF-8 (byte 0x8B)"),
        (b"[" * 100_000, ":1: not an exchange of a recording (maximum recursion depth"),
        (b'"just a string"\n', ":1: not an exchange of a recording"),
        (
            b'{"seq": 1, "id": "r", "method": [], "path": "/", "status": 200, "received": 0}\n',
            ":1: not an exchange",
        ),
    ],
    ids=["bytes", "deep", "string", "mistyped"],
)
def test_compare_names_the_line_of_a_recording_it_cannot_read(
    tmp_path: Path, content: bytes, said: str
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(content)
    done = _run("compare", str(bad), "--base-url", f"http://127.0.0.1:{_closed_port()}")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"trifft-klaviyo compare: error: {bad}{said}"), done.stderr


def test_compare_refuses_a_file_that_is_not_a_recording(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"seq": 1}\nnot json\n')
    done = _run("compare", str(bad), "--base-url", "http://127.0.0.1:9")
    assert done.returncode == 2 and f"{bad}:1: not an exchange of a recording" in done.stderr
