#!/usr/bin/env python3
"""Take docs/dashboard.png: the dashboard with its charts, in Debian's headless chromium (as the tests drive it).

A fake Klaviyo on a fast clock (thirty seconds a second) takes several minutes of realistic TRIFFT traffic
through the reference sync, in runs a minute or so apart, under a tenth of Klaviyo's rate limits and a few
injected faults, so the charts have a story to show: bursts, 429s, faults and their retries, refused requests.
Then the clock runs at its own pace again and a last burst arrives, so the rate-limit panel shows this minute's
use. Run it from the repository with the test extras installed (Playwright, Debian's chromium):

    python scripts/dashboard_screenshot.py [--out docs/dashboard.png]
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from pathlib import Path

import httpx
from playwright.sync_api import expect, sync_playwright

from emulator.klaviyo import Emulator, Faults
from emulator.klaviyo.store import account_id
from emulator.server import RunningEmulator
from emulator.trifft import generate
from sync.delivery import Syncer

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
STAGING = "pk_staging_4c1e0b9f2a7d4e8b9c3a1f5e6d7c8b9a0f"  # a real key's length: shown as pk_…9a0f
CI = "pk_test_ci_runner_0042"
SPEED = 30.0


class Clock:
    """The emulator's clock: ``speed`` seconds a real second, changeable without jumping."""

    def __init__(self, start: float, speed: float) -> None:
        self._lock = threading.Lock()
        self._base, self._real, self.speed = start, time.monotonic(), speed

    def __call__(self) -> float:
        with self._lock:
            return self._base + (time.monotonic() - self._real) * self.speed

    def set_speed(self, speed: float) -> None:
        with self._lock:
            now = time.monotonic()
            self._base += (now - self._real) * self.speed
            self._real, self.speed = now, speed


def _bad_event() -> dict[str, object]:
    return {"data": {"type": "event", "attributes": {"properties": {}}}}


async def _send(url: str, key: str, events: list[dict[str, object]], clock: Clock, bad: int) -> None:
    """``events`` through the sync in runs a few emulator minutes apart, with ``bad`` refused requests among
    them (a producer with a bug), so the charts show traffic over time rather than one bar."""

    async def scaled(seconds: float) -> None:  # the sync's waits (Retry-After, backoff) on the fast clock
        await asyncio.sleep(seconds / clock.speed)

    syncer = Syncer(url, key, rate_limits=None, sleep=scaled, seed=1, backoff=0.2)
    headers = {"Authorization": f"Klaviyo-API-Key {key}", "revision": "2026-07-15"}
    runs = 6
    async with httpx.AsyncClient(base_url=url, headers=headers) as http:
        for n in range(runs):
            await syncer.run(events[n * len(events) // runs : (n + 1) * len(events) // runs])
            if n < bad:
                await http.post("/api/events", json=_bad_event())
            await asyncio.sleep(1.5 if n % 2 else 0.6)


async def _traffic(url: str, clock: Clock) -> None:
    staging = list(generate(700, seed=11, members=30))
    ci = list(generate(150, seed=5, members=6))
    await asyncio.gather(_send(url, STAGING, staging, clock, bad=2), _send(url, CI, ci, clock, bad=5))


def _last_burst(url: str) -> None:
    for key, count in ((STAGING, 40), (CI, 6)):
        headers = {"Authorization": f"Klaviyo-API-Key {key}", "revision": "2026-07-15"}
        with httpx.Client(base_url=url, headers=headers) as http:
            for _ in range(count):
                http.get("/api/profiles")
            http.get("/api/metrics")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "dashboard.png"
    )
    out: Path = parser.parse_args().out
    clock = Clock(time.time() - 420, SPEED)
    emulator = Emulator(rate_limits=0.1, clock=clock, faults=Faults.parse("5xx=0.02,seed=3"))
    with RunningEmulator(emulator) as running:
        for key, label in ((STAGING, "TRIFFT staging"), (CI, "CI runner")):
            httpx.put(f"{running.url}/_emulator/accounts/label", params={"key": key}, content=label)
        asyncio.run(_traffic(running.url, clock))
        clock.set_speed(1.0)
        _last_burst(running.url)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1050})
            page.goto(f"{running.url}/?account={account_id(STAGING)}")
            expect(page.locator("#live")).to_contain_text("live")
            expect(page.locator("#chart-requests .plot svg")).not_to_have_attribute("data-total", "0")
            expect(page.locator("#profiles tbody tr").first).to_be_visible()
            page.wait_for_timeout(500)
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
            browser.close()
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
