"""Replay: TRIFFT events through the sync into an emulator, then what each request did, told line by line.

``trifft-klaviyo replay`` reads a saved stream (or generates one) and calls ``replay``: the events go to a fresh
account, one request per event and in the file's order, and what arrived is read back over the inspection API,
so it works as well against an emulator already running elsewhere as against one started here.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from contracts.traffic import Observation, Traffic
from contracts.verifier import verify
from emulator.client import EmulatorClient
from emulator.klaviyo.types import LedgerEntry
from emulator.server import RunningEmulator
from sync.delivery import Syncer
from sync.summary import Summary

_OUTCOME = {201: "created", 200: "updated", 202: "accepted"}


def replay(
    events: Sequence[dict[str, Any]], base_url: str | None = None, out: Callable[[str], None] = print
) -> int:
    """Sync ``events`` into the emulator at ``base_url`` (else a fresh one in this process) and tell what came of it.

    Each request is one line (what it carried, its status), with Klaviyo's errors and the emulator's quiet notes
    under it; then the dead letters and the verifier's verdict. Returns 0 when the verdict passes and every event
    was delivered, else 1.
    """
    running = None if base_url else RunningEmulator().start()
    url = base_url or (running.url if running else "")
    api_key = f"pk_replay_{secrets.token_hex(6)}"
    try:
        summary = _sync_in_order(url, api_key, events)
        client = EmulatorClient(url, api_key)
        traffic, ledger = client.traffic(), client.ledger()
    finally:
        if running:
            running.stop()
    out(f"replayed {len(events)} TRIFFT events into {url} as account {api_key}")
    for line in _told(traffic, ledger):
        out(line)
    for dead in summary.dead:
        out(f"dead letter ({dead.kind} {dead.event_id}): {dead.reason}")
    report = verify(traffic)
    out(report.text())
    return 0 if report.ok and summary.ok else 1


def _sync_in_order(base_url: str, api_key: str, events: Sequence[dict[str, Any]]) -> Summary:
    """Deliver the events one request each, one run each, so they reach the emulator in the file's order.

    A single run keeps each member's order but interleaves members concurrently, and which of two members sharing
    an email wins would change from one replay to the next.
    """
    syncer = Syncer(base_url, api_key, rate_limits=None, batch=False)

    async def in_order() -> Summary:
        for event in events[:-1]:
            await syncer.run([event])
        return await syncer.run(events[-1:])

    return asyncio.run(in_order())


def _told(traffic: Traffic, ledger: list[LedgerEntry]) -> Iterator[str]:
    """A line per request in arrival order, followed by Klaviyo's errors and the emulator's notes on it."""
    notes: dict[str, list[str]] = {}
    for note in ledger:
        notes.setdefault(note.request_id, []).append(f"{note.kind.replace('_', ' ')}: {note.reason}")
    carried: dict[str, list[Observation]] = {}
    for seen in traffic.observations:
        carried.setdefault(seen.request_id, []).append(seen)
    for record in traffic.requests:
        line = f"#{record.seq} {record.method} {record.path}{_what(carried.get(record.id, []))} -> {record.status}"
        yield f"{line} {_OUTCOME.get(record.status, '')}".rstrip()
        for error in record.errors:
            source = error.get("source") or {}
            where = source.get("pointer") or source.get("parameter") or ""
            yield f"    rejected: {error.get('detail')} {('at ' + where) if where else ''}".rstrip()
        for said in notes.get(record.id, []):
            yield f"    {said}"


def _what(observations: list[Observation]) -> str:
    """A few words on what a request carried: the metric and member of an event, the profile refreshed."""
    events = [o for o in observations if o.kind == "event"]
    if len(events) == 1:
        return f" ({events[0].metric!r} for member {events[0].member})"
    refreshes = [o for o in observations if o.kind == "profile" and o.refresh]
    if len(refreshes) == 1:
        return f" (refresh of member {refreshes[0].member})"
    return ""
