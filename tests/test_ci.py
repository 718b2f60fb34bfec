"""scripts/contract-suite runs the steps docs/ci.md gives a CI job, and fails the way CI must."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _suite(tmp_path: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PORT": str(port),
        "OUT": str(tmp_path / "verdict.xml"),
        **settings,
    }
    if "KLAVIYO_API_KEY" not in settings:  # the script's own default key, not one from the caller's shell
        env.pop("KLAVIYO_API_KEY", None)
    return subprocess.run(
        [str(ROOT / "scripts" / "contract-suite")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_the_contract_suite_passes_the_reference_sync_and_writes_junit(tmp_path: Path) -> None:
    done = _suite(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASS" in done.stdout
    suite = ElementTree.parse(tmp_path / "verdict.xml").getroot()
    assert suite.get("failures") == "0" and int(suite.get("tests", "0")) >= 8


def test_the_contract_suite_fails_a_producer_that_sent_nothing(tmp_path: Path) -> None:
    done = _suite(tmp_path, PRODUCER="true", KLAVIYO_API_KEY="pk_typo_in_ci")
    assert done.returncode == 1
    assert "nothing was received for this API key" in done.stdout
    failed = [c.get("name") for c in ElementTree.parse(tmp_path / "verdict.xml").getroot() if len(c)]
    assert failed == ["received"]


def test_the_contract_suite_reports_a_producer_that_failed(tmp_path: Path) -> None:
    done = _suite(tmp_path, PRODUCER="exit 7")
    assert done.returncode == 7 and "the producer exited with 7" in done.stderr
