"""The README's snippets run as written: its Python blocks under pytest, its tour in a shell.

Only the emulator's port is changed for the tour (a free one, given to the other lines through
KLAVIYO_BASE_URL, as a user with another port would), so the tour cannot collide with a server already on 8525.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _blocks(path: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLAVIYO_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return env


def test_every_python_block_in_the_readme_and_docs_runs(tmp_path: Path) -> None:
    written = []
    for doc in DOCS:
        for number, block in enumerate(_blocks(doc, "python")):
            path = tmp_path / f"test_{doc.stem.replace('-', '_').lower()}_{number}.py"
            path.write_text(block, encoding="utf-8")
            written.append(path)
    assert len(written) >= 2
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error", str(tmp_path)],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b2 passed\b", done.stdout), done.stdout


@pytest.mark.slow
def test_the_readme_tour_runs_as_written(tmp_path: Path) -> None:
    tour = _blocks(ROOT / "README.md", "sh")[2]
    lines = [line.split("  #")[0].strip() for line in tour.splitlines() if line.strip()]
    assert lines[0] == "trifft-klaviyo emulator &" and len(lines) == 4
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**_env(tmp_path), "KLAVIYO_BASE_URL": f"http://127.0.0.1:{port}"}
    emulator = subprocess.Popen(
        [sys.executable, "-m", "emulator.cli", "emulator", "--port", str(port), "--quiet"],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/_emulator/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        for line in lines[1:]:
            done = subprocess.run(
                ["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
            )
            assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
    assert "PASS" in done.stdout and (tmp_path / "verdict.xml").exists()
