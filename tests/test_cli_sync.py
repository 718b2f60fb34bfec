"""``trifft-klaviyo sync`` and ``replay`` as real subprocesses: whatever the input, an unreachable Klaviyo, an outbox
that knows its target, and the counts a run tells.

Never a traceback, whatever the bytes; an input error is exit 2, an unreachable Klaviyo exit 3, within seconds.
"""

from __future__ import annotations

import gzip
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from emulator.pytest_plugin import KlaviyoEmulator
from emulator.trifft import dumps, generate

ROOT = Path(__file__).resolve().parent.parent


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KLAVIYO_", "TTY_", "FORCE_COLOR"))}
    env["PYTHONIOENCODING"] = "utf-8"
    env.pop("TRIFFT_KLAVIYO_PROGRESS_SECONDS", None)
    return {**env, **extra}


def _run(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emulator.cli", *args],
        cwd=ROOT,
        env=_env(**env),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
    )


def _one_line_error(result: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert result.returncode == code, result
    assert "Traceback" not in result.stderr and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port nothing listens on (bound and closed again: the kernel refuses connections to it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    yield port


def _jsonl(count: int, seed: int = 3) -> bytes:
    return "".join(
        dumps(e) + "\n" for e in generate(count, seed=seed, members=4, kinds=["app_opened"])
    ).encode()


# -- whatever the input ----------------------------------------------------------------------------------------


def _garbage(kind: str, seed: int) -> bytes:
    noise = random.Random(seed).randbytes(20_000)
    if kind == "bytes":
        return noise
    squeezed = gzip.compress(noise if kind == "gzip" else _jsonl(40, seed) + noise)
    return squeezed if kind == "gzip" else squeezed[: len(squeezed) // 2]


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("kind", ["bytes", "gzip", "truncated-gzip"])
def test_random_bytes_never_make_a_traceback_in_sync_or_replay(
    tmp_path: Path, closed_port: int, kind: str, seed: int
) -> None:
    path = tmp_path / "noise.bin"
    path.write_bytes(_garbage(kind, seed))
    url = f"http://127.0.0.1:{closed_port}"

    synced = _run(
        "sync", "--input", str(path), "--api-key", "pk_noise", "--base-url", url, "--connect-timeout", "1"
    )
    replayed = _run("replay", str(path), "--base-url", url, "--connect-timeout", "1")

    for result in (synced, replayed):
        assert "Traceback" not in result.stderr, result.stderr[-3000:]
        assert result.returncode in (2, 3), result
        assert result.stderr.splitlines()[-1].startswith(f"trifft-klaviyo {result.args[3]}: error: ")
    named = [line for line in synced.stderr.splitlines() if line.startswith(f"{path}:")]
    assert named and all(re.match(rf"{re.escape(str(path))}:\d+(:\d+)?: ", line) for line in named)


def test_bad_lines_bom_latin_1_and_gzip_are_read_and_the_good_lines_delivered(
    tmp_path: Path, emulator_url: str
) -> None:
    good = _jsonl(6).splitlines(keepends=True)
    latin = b'{"note": "caf\xe9"}\n'
    path = tmp_path / "mixed.jsonl.gz"
    path.write_bytes(gzip.compress(b"\xef\xbb\xbf" + b"".join(good[:3]) + latin + b"".join(good[3:])))
    key = "pk_cli_mixed"

    result = _run(
        "sync", "--input", str(path), "--api-key", key, "--base-url", emulator_url, "--rate-limits", "off"
    )

    assert result.returncode == 1, result.stderr  # a line was skipped: not everything was delivered
    assert f"{path}:4: not UTF-8: byte 0xE9" in result.stderr
    assert (
        "6 events read, 1 bad line skipped, 0 already in the outbox; 6 Klaviyo events sent" in result.stderr
    )
    state = httpx.get(f"{emulator_url}/_emulator/state", params={"key": key}, timeout=30).json()
    assert len(state["events"]) == 6


def test_an_empty_input_says_so_and_is_an_input_error(tmp_path: Path, closed_port: int) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    blank = tmp_path / "blank.jsonl.gz"
    blank.write_bytes(gzip.compress(b"\n\n"))
    url = f"http://127.0.0.1:{closed_port}"

    for path in (empty, blank):
        line = _one_line_error(_run("sync", "--input", str(path), "--api-key", "pk_e", "--base-url", url))
        assert line == f"trifft-klaviyo sync: error: no events in {path} (empty input): nothing to send"
        line = _one_line_error(_run("replay", str(path)))
        assert line == f"trifft-klaviyo replay: error: no events in {path} (empty input): nothing to replay"
    helped = " ".join(_run("sync", "--help").stdout.split())
    assert "an input with no events is an error (exit 2)" in helped and "2 usage or input errors" in helped


# -- an unreachable Klaviyo ------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("command", ["sync", "replay"])
def test_a_closed_port_ends_within_10_seconds_with_exit_3_and_the_reason(
    tmp_path: Path, closed_port: int, command: str
) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(_jsonl(5))
    url = f"http://127.0.0.1:{closed_port}"
    args = ["--input", str(path), "--api-key", "pk_closed"] if command == "sync" else [str(path)]

    began = time.monotonic()
    result = _run(command, *args, "--base-url", url, timeout=30)
    took = time.monotonic() - began

    assert took < 10, f"{command} took {took:.1f}s to give up"
    assert result.returncode == 3 and "Traceback" not in result.stderr, result
    last = result.stderr.splitlines()[-1]
    assert re.fullmatch(
        rf"trifft-klaviyo {command}: error: cannot reach {url}: connection refused; tried for \d+\.\ds", last
    )
    if command == "sync":
        assert "; 0 requests in " in result.stderr, "a connection never made sends no request"
        assert "5 events not delivered; nothing was kept: pass --state FILE" in result.stderr
        assert "run again" not in result.stderr


def test_a_state_that_kept_what_could_not_be_sent_resumes_it_elsewhere_only_when_told(
    tmp_path: Path, closed_port: int, emulator_url: str
) -> None:
    path, state = tmp_path / "events.jsonl", tmp_path / "sync.db"
    path.write_bytes(_jsonl(8))
    closed = f"http://127.0.0.1:{closed_port}"
    base = ["sync", "--api-key", "pk_cli_resume", "--state", str(state), "--rate-limits", "off"]

    down = _run(*base, "--input", str(path), "--base-url", closed, "--connect-timeout", "1")
    assert down.returncode == 3
    assert f"8 events still pending; kept in {state}: run again to resume" in down.stderr

    (tmp_path / "empty.jsonl").write_bytes(b"")
    still_down = _run(
        *base, "--input", str(tmp_path / "empty.jsonl"), "--base-url", closed, "--connect-timeout", "1"
    )
    assert still_down.returncode == 3
    assert still_down.stderr.startswith(
        f"no events in {tmp_path / 'empty.jsonl'}; resuming the 8 events left pending in {state}\n"
    )

    elsewhere = _run(*base, "--input", str(path), "--base-url", emulator_url)
    assert _one_line_error(elsewhere) == (
        f"trifft-klaviyo sync: error: the outbox {state} was used with {closed}, not {emulator_url}: use a new "
        "--state for this target, or --retarget to send what is still pending there"
    )

    moved = _run(*base, "--input", str(path), "--base-url", emulator_url, "--retarget")
    assert moved.returncode == 0, moved.stderr
    lines = moved.stderr.splitlines()
    assert lines[0].startswith(f"re-targeted {state}, which was used with {closed}, not {emulator_url}: ")
    assert lines[1].startswith(
        "8 events read, 0 bad lines skipped, 8 already in the outbox, 8 left pending by an earlier run; "
        "8 Klaviyo events sent (1 bulk job)"
    )

    again = _run(*base, "--input", str(tmp_path / "empty.jsonl"), "--base-url", emulator_url)
    assert _one_line_error(again).endswith("(empty input): nothing to send"), "nothing read, nothing pending"


def test_another_api_key_on_the_same_state_is_refused_and_never_sends_to_the_wrong_account(
    tmp_path: Path, klaviyo_emulator: KlaviyoEmulator
) -> None:
    path, state = tmp_path / "events.jsonl", tmp_path / "sync.db"
    path.write_bytes(_jsonl(5))
    base = ["sync", "--input", str(path), "--base-url", klaviyo_emulator.url, "--state", str(state)]

    assert _run(*base, "--api-key", "pk_cli_first", "--rate-limits", "off").returncode == 0
    line = _one_line_error(_run(*base, "--api-key", "pk_cli_second"))

    assert line.startswith(
        f"trifft-klaviyo sync: error: the outbox {state} was used with another API key (account "
    )
    assert "pk_cli_first" not in state.read_bytes().decode("latin-1"), "the key itself is never kept"
    assert klaviyo_emulator.rows("events", "pk_cli_second") == []


def test_a_refused_key_is_exit_3(tmp_path: Path, klaviyo_emulator: KlaviyoEmulator) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(_jsonl(3))
    klaviyo_emulator.emulator.api_keys = frozenset({"pk_cli_the_only_key"})
    try:
        result = _run(
            "sync", "--input", str(path), "--api-key", "pk_cli_other", "--base-url", klaviyo_emulator.url
        )
    finally:
        klaviyo_emulator.emulator.api_keys = None
    assert result.returncode == 3, result.stderr
    last = result.stderr.splitlines()[-1]
    assert re.match(r"trifft-klaviyo sync: error: Klaviyo refuses the key: POST \S+ -> 40[13] ", last), last


# -- progress --------------------------------------------------------------------------------------------------


def test_a_piped_long_sync_prints_progress_lines(tmp_path: Path, klaviyo_emulator: KlaviyoEmulator) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(_jsonl(40))
    klaviyo_emulator.set_faults("latency_ms=40,seed=1")
    args = ["--input", str(path), "--api-key", "pk_cli_progress", "--base-url", klaviyo_emulator.url]

    result = _run("sync", *args, "--no-batch", "--concurrency", "1", TRIFFT_KLAVIYO_PROGRESS_SECONDS="0.2")

    assert result.returncode == 0, result.stderr
    progress = [line for line in result.stderr.splitlines() if line.startswith("syncing: ")]
    assert progress, result.stderr
    assert all(
        re.fullmatch(
            r"syncing: \d+/40 events \(\d+%\), \d+ events/s, \d+ throttled waits?, \d+ dead letters?, "
            r"ETA (\d+:\d\d:\d\d|unknown)",
            line,
        )
        for line in progress
    ), progress
    assert "\x1b[" not in result.stderr, "no terminal codes in a pipe"


def test_on_a_terminal_sync_shows_a_live_bar_instead(tmp_path: Path, emulator_url: str) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(_jsonl(40))
    args = [
        "--input",
        str(path),
        "--api-key",
        "pk_cli_bar",
        "--base-url",
        emulator_url,
        "--rate-limits",
        "off",
    ]

    result = _run("sync", *args, TTY_COMPATIBLE="1", TTY_INTERACTIVE="1")

    assert result.returncode == 0, result.stderr
    assert "syncing" in result.stderr and "━" in result.stderr and "events/s" in result.stderr
    assert "throttled waits" in result.stderr and "dead letters" in result.stderr
    assert not re.search(r"^syncing: \d+/", result.stderr, flags=re.M), "the bar, not the piped lines"


@pytest.mark.parametrize("state", [False, True], ids=["in-memory", "state"])
def test_an_interrupted_sync_says_whether_anything_was_kept(
    tmp_path: Path, klaviyo_emulator: KlaviyoEmulator, state: bool
) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(_jsonl(200))
    klaviyo_emulator.set_faults("latency_ms=100,seed=1")
    args = ["--input", str(path), "--api-key", "pk_cli_interrupted", "--base-url", klaviyo_emulator.url]
    args += ["--no-batch", "--concurrency", "1"] + (["--state", str(tmp_path / "s.db")] if state else [])
    with subprocess.Popen(
        [sys.executable, "-m", "emulator.cli", "sync", *args],
        cwd=ROOT,
        env=_env(TRIFFT_KLAVIYO_PROGRESS_SECONDS="0.1"),
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    ) as process:
        assert process.stderr is not None
        first = process.stderr.readline()  # a progress line: the run is under way
        process.send_signal(signal.SIGINT)
        rest = process.stderr.read()
        code = process.wait(timeout=60)
    assert first.startswith("syncing: ") and code == 130 and "Traceback" not in rest
    said = rest.splitlines()[-1]
    if state:
        assert said == f"interrupted: what was not sent is kept in {tmp_path / 's.db'}; run again to resume"
    else:
        assert said == "interrupted: what was not sent is not kept (no --state)"


def test_a_piped_long_replay_prints_progress_lines(tmp_path: Path) -> None:
    result = _run(
        "replay", "--seed", "4", "--count", "40", "--members", "5", TRIFFT_KLAVIYO_PROGRESS_SECONDS="0.05"
    )

    assert result.returncode == 0, result.stderr
    progress = [line for line in result.stderr.splitlines() if line.startswith("replaying: ")]
    assert progress and all(
        re.match(r"replaying: \d+/40 events \(\d+%\), \d+ events/s, ", line) for line in progress
    )
