"""Crash and resume: ``trifft-klaviyo sync --state FILE`` killed with SIGKILL mid-run, then run again.

The kill comes from inside the fake Klaviyo, the moment it receives the run's k-th request (k seeded), so the
sync dies with that request in flight: Klaviyo processes it, the sync never hears back. The rerun over the same
state file must leave Klaviyo exactly as one clean run does: the same events (by unique_id, none twice) and the
same trifft_* profile properties.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.klaviyo.faults import Decision, Faults
from emulator.server import RunningEmulator
from emulator.trifft import generate, write_jsonl

KILL_POINTS = 3


@dataclass
class KillOnRequest(Faults):
    """No faults, except that the ``at``-th request kills process ``pid`` (SIGKILL) as it arrives."""

    at: int = 0
    pid: int = 0
    seen: int = 0

    def decide(self, operation_id: str) -> Decision:
        self.seen += 1
        if self.seen == self.at and self.pid > 0:
            os.kill(self.pid, signal.SIGKILL)
        return super().decide(operation_id)


def _sync_command(url: str, key: str, events: Path, state: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "emulator.cli",
        "sync",
        "--input",
        str(events),
        "--base-url",
        url,
        "--api-key",
        key,
        "--state",
        str(state),
        "--rate-limits",
        "off",
    ]


def _run(command: list[str], faults: KillOnRequest | None = None) -> subprocess.CompletedProcess[str]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if faults is not None:
        faults.pid = process.pid
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def _klaviyo_side(url: str, key: str) -> tuple[Counter[str], dict[str, dict[str, Any]]]:
    """Events by unique_id, and each profile's trifft_* properties by external_id."""
    state = httpx.get(f"{url}/_emulator/state", params={"key": key}).json()
    events = Counter(row["unique_id"] for row in state["events"])
    profiles = {}
    for row in state["profiles"]:
        properties = json.loads(row["doc"]).get("properties", {})
        profiles[row["external_id"]] = {k: v for k, v in properties.items() if k.startswith("trifft_")}
    return events, profiles


@pytest.fixture
def stream(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    with path.open("w", encoding="utf-8") as out:
        write_jsonl(generate(1000, seed=9, members=60, edge=True), out)
    return path


@pytest.mark.slow
def test_a_sync_killed_at_random_points_and_rerun_leaves_klaviyo_as_one_clean_run_does(
    emulator_url: str, _running_emulator: RunningEmulator, stream: Path, tmp_path: Path
) -> None:
    clean = _run(_sync_command(emulator_url, "pk_clean", stream, tmp_path / "clean.sqlite"))
    assert clean.returncode in (0, 1), clean.stderr  # 1: some custom webhooks are dead letters by design
    expected_events, expected_profiles = _klaviyo_side(emulator_url, "pk_clean")
    assert set(expected_events.values()) == {1} and len(expected_events) > 800
    requests = len(
        httpx.get(f"{emulator_url}/_emulator/requests", params={"key": "pk_clean", "limit": 1000}).json()[
            "data"
        ]
    )

    # Jobs shared across members are packed as their members' requests happen to meet, so runs of the same stream
    # differ by a few requests: kill within the first three quarters, which every run reaches.
    points = random.Random(20260301).sample(range(1, requests * 3 // 4), KILL_POINTS)
    for point in points:
        key, state = f"pk_crash_{point}", tmp_path / f"crash-{point}.sqlite"
        faults = KillOnRequest(at=point)
        _running_emulator.emulator.faults = faults
        crashed = _run(_sync_command(emulator_url, key, stream, state), faults)
        assert crashed.returncode == -signal.SIGKILL, f"killed at request {point}: {crashed.stderr}"
        _running_emulator.emulator.faults = Faults()

        resumed = _run(_sync_command(emulator_url, key, stream, state))
        assert resumed.returncode in (0, 1), resumed.stderr
        assert "still pending" not in resumed.stderr
        events, profiles = _klaviyo_side(emulator_url, key)
        assert events == expected_events, f"killed at request {point}"
        assert profiles == expected_profiles, f"killed at request {point}"
