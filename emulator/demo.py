"""The demo: the fake Klaviyo up, realistic TRIFFT traffic synced into it under Klaviyo's limits, judged.

``trifft-klaviyo demo`` calls ``demo``; it then keeps serving so the dashboard and the inspection API can be
browsed, until Ctrl-C (or stops at once with ``--exit``).
"""

from __future__ import annotations

import asyncio
import errno
import time

from rich.console import Console

from contracts.verifier import verify
from emulator.client import fetch
from emulator.klaviyo import Emulator
from emulator.progress import Report, sync_counts
from emulator.server import RunningEmulator
from emulator.trifft import generate
from sync.delivery import Syncer
from sync.summary import counted

API_KEY = "pk_demo_trifft_0001"
DEFAULT_PORT = 8525


class PortTaken(Exception):
    """The port asked for is busy (or cannot be bound); the message says which and what to do."""


def _start(port: int | None, console: Console) -> RunningEmulator:
    """The emulator on ``port``; with no port asked for, on 8525, or a free one if 8525 is taken (said so)."""
    emulator = Emulator(rate_limits="klaviyo")
    try:
        return RunningEmulator(emulator, port=DEFAULT_PORT if port is None else port).start()
    except OSError as error:
        if port is not None or error.errno != errno.EADDRINUSE:
            where = DEFAULT_PORT if port is None else port
            raise PortTaken(
                f"cannot listen on 127.0.0.1:{where}: {error.strerror or error}; choose another --port "
                "(0 picks a free one)"
            ) from None
    console.print(f"port {DEFAULT_PORT} is taken; using a free one (--port to choose)")
    return RunningEmulator(emulator, port=0).start()


def demo(*, members: int, count: int, seed: int, port: int | None = None, serve: bool = True) -> int:
    """Run the demo on ``port`` and print the verdict; 0 when it passes, else 1.

    With no ``port``, 8525, or a free port if 8525 is taken; a ``port`` asked for that is taken raises PortTaken.
    With ``serve`` the emulator keeps serving until Ctrl-C, and the links to browse it are printed; without, it
    stops after the report, and no link is printed to a server that is gone.
    """
    # soft_wrap: a line per message even when piped (rich would wrap at 80 columns, splitting URLs).
    console = Console(soft_wrap=True)
    running = _start(port, console)
    console.print(f"fake Klaviyo on {running.url} (in memory, Klaviyo's rate limits enforced)")
    events = list(generate(count, seed=seed, members=members))
    console.print(f"fake TRIFFT: {len(events)} realistic member events for {members} members (seed {seed})")
    syncer = Syncer(running.url, API_KEY)
    # The bar on standard error, so what is piped from standard output is the report alone.
    progress = Console(stderr=True, soft_wrap=True)
    with Report(
        progress, "syncing under Klaviyo's limits", counts=sync_counts(lambda: syncer.summary)
    ) as report:
        syncer.progress = report.update
        summary = asyncio.run(syncer.run(events))
    console.print(
        f"sync: {counted(summary.events_sent, 'Klaviyo event')} ({counted(summary.bulk_jobs, 'bulk job')}), "
        f"{counted(summary.refreshes, 'profile refresh', 'profile refreshes')}, "
        f"{counted(summary.webhooks_sent, 'custom webhook')}, "
        f"{counted(summary.subscriptions, 'subscription change')}, "
        f"{counted(summary.skipped, 'system-segment event')} ignored, {counted(len(summary.dead), 'dead letter')}, "
        f"{counted(summary.throttled_waits, 'throttled wait')}, in {summary.seconds:.1f}s",
        markup=False,
    )
    for dead in summary.dead[:5]:
        console.print(f"  dead letter ({dead.kind}): {dead.reason}", markup=False, highlight=False)
    verdict = verify(fetch(running.url, API_KEY))
    console.print(verdict.text(), markup=False, highlight=False)
    if not serve:
        running.stop()
        console.print("the emulator has stopped (--exit); run without --exit to browse the dashboard")
        return 0 if verdict.ok else 1
    console.print(
        f"dashboard: {running.url}/  |  what arrived: {running.url}/_emulator/requests?key={API_KEY}  |  "
        f"ledger: {running.url}/_emulator/ledger?key={API_KEY}",
        markup=False,
        highlight=False,
    )
    console.print("serving until Ctrl-C")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        running.stop()
    return 0 if verdict.ok else 1
