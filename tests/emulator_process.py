"""The real ``trifft-klaviyo emulator`` command in a child process, for the CLI and durability tests."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

COMMAND = [sys.executable, "-m", "emulator.cli", "emulator"]


def start_emulator(arguments: list[str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start the command (stderr to ``log``) and wait until /_emulator/health answers; its base URL.

    Pass ``--port 0``: the banner names the port it got, so no free port has to be guessed.
    """
    with log.open("wb") as stderr:
        process = subprocess.Popen([*COMMAND, *arguments], stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        banner = log.read_text().partition("\n")[0]
        if banner.endswith("/_emulator/health"):
            url = banner.split("control API at ")[1].removesuffix("/_emulator/health")
            try:
                if httpx.get(f"{url}/_emulator/health").status_code == 200:
                    return process, url
            except httpx.TransportError:
                pass
        time.sleep(0.02)
    process.kill()
    process.wait()
    raise AssertionError(f"the emulator did not start: {log.read_text()}")


def run_emulator(arguments: list[str]) -> subprocess.CompletedProcess[str]:
    """Run the command to completion (for arguments it must refuse)."""
    return subprocess.run([*COMMAND, *arguments], capture_output=True, text=True, timeout=60)
