"""The demo: the fake Klaviyo up, realistic TRIFFT traffic synced into it under Klaviyo's limits, judged.

``trifft-klaviyo demo`` calls ``demo``; it then keeps serving so the dashboard and the inspection API can be
browsed, until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import socket
import time

from rich.console import Console
from rich.progress import Progress

from contracts.verifier import verify
from emulator.client import fetch
from emulator.klaviyo import Emulator
from emulator.server import RunningEmulator
from emulator.trifft import generate
from sync.delivery import Syncer

API_KEY = "pk_demo_trifft_0001"


def demo(*, members: int, count: int, seed: int, port: int, serve: bool = True) -> int:
    """Run the demo on ``port`` (a free one if it is taken) and print the verdict; 0 when it passes, else 1.

    With ``serve`` the emulator keeps serving until Ctrl-C; without, it stops after the report.
    """
    # soft_wrap: a line per message even when piped (rich would wrap at 80 columns, splitting URLs).
    console = Console(soft_wrap=True)
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            console.print(f"port {port} is taken; using a free one")
            port = 0
    running = RunningEmulator(Emulator(rate_limits="klaviyo"), port=port).start()
    console.print(f"fake Klaviyo on {running.url} (in memory, Klaviyo's rate limits enforced)")
    events = list(generate(count, seed=seed, members=members))
    console.print(f"fake TRIFFT: {len(events)} realistic member events for {members} members (seed {seed})")
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("syncing under Klaviyo's limits", total=len(events))
        syncer = Syncer(running.url, API_KEY, progress=lambda n: progress.advance(task, n))
        summary = asyncio.run(syncer.run(events))
    console.print(
        f"sync: {summary.events_sent} Klaviyo events ({summary.bulk_jobs} bulk jobs), {summary.refreshes} "
        f"profile refreshes, {summary.webhooks_sent} custom webhooks, {summary.subscriptions} subscription "
        f"changes, {summary.skipped} system-segment events ignored, {len(summary.dead)} dead letters, "
        f"{summary.throttled_waits} throttled waits, in {summary.seconds:.1f}s",
        markup=False,
    )
    for dead in summary.dead[:5]:
        console.print(f"  dead letter ({dead.kind}): {dead.reason}", markup=False, highlight=False)
    report = verify(fetch(running.url, API_KEY))
    console.print(report.text(), markup=False, highlight=False)
    console.print(
        f"dashboard: {running.url}/  |  what arrived: {running.url}/_emulator/requests?key={API_KEY}  |  "
        f"ledger: {running.url}/_emulator/ledger?key={API_KEY}",
        markup=False,
        highlight=False,
    )
    if serve:
        console.print("serving until Ctrl-C")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            running.stop()
    else:
        running.stop()
    return 0 if report.ok else 1
