"""Replay: TRIFFT events through the sync into an emulator, then what each request did, told request by request.

``trifft-klaviyo replay`` reads a saved stream (or generates one) and calls ``replay``: the events go to a fresh
account, one request per event and in the file's order, and what arrived is read back over the inspection API,
so it works as well against an emulator already running elsewhere as against one started here. For each request:
the TRIFFT event it came from, the body as it arrived (long values whole, unless ``compact``), what Klaviyo did
with each part (the emulator's observations), and for a refused request the value and pointer refused. Then the
input events that produced no request and why, the dead letters, and the verdict.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import httpx

from contracts.traffic import Observation, RequestRecord, Traffic, value_at
from contracts.verifier import verify
from emulator.client import EmulatorClient
from emulator.klaviyo.types import LedgerEntry
from emulator.server import RunningEmulator
from sync import map_event
from sync.delivery import Syncer
from sync.errors import Unreachable, connect_failure
from sync.summary import UNREACHABLE, Summary

_MISSING = object()


class NotAnEmulator(Exception):
    """What answers at the base URL is not a trifft-klaviyo emulator (or proxy): it has no inspection API."""


#: Told after each event: how many are done, of how many, and what the replay has counted so far.
Progress = Callable[[int, int, Summary], None]


def replay(
    events: Sequence[dict[str, Any]],
    base_url: str | None = None,
    out: Callable[[str], None] = print,
    compact: bool = False,
    connect_timeout: float = 5.0,
    progress: Progress | None = None,
) -> int:
    """Sync ``events`` into the emulator at ``base_url`` (else a fresh one in this process) and tell what came of it.

    Returns 0 when the verdict passes and every event was delivered, else 1. Unreachable when nothing at
    ``base_url`` could be connected to for ``connect_timeout`` seconds; NotAnEmulator when what answers there
    is not an emulator.
    """
    running = None if base_url else RunningEmulator().start()
    url = base_url or (running.url if running else "")
    api_key = f"pk_replay_{secrets.token_hex(6)}"
    timeout = httpx.Timeout(30.0, connect=connect_timeout)
    try:
        client = EmulatorClient(url, api_key, timeout=timeout)
        _reach(client, connect_timeout)
        summary, origin = _sync_in_order(client, events, connect_timeout, progress)
        traffic, ledger = client.traffic(), client.ledger()
    except httpx.TransportError as error:
        raise Unreachable(f"cannot reach {url}: {connect_failure(error)[0]}") from None
    finally:
        if running:
            running.stop()
    out(
        f"replayed {len(events)} TRIFFT event{'s' if len(events) != 1 else ''} into {url} as account {api_key}"
    )
    for line in _told(traffic, ledger, origin, compact):
        out(line)
    for line in _silent(events, traffic, origin):
        out(line)
    for dead in summary.dead:
        out(f"dead letter ({dead.kind} {dead.event_id}): {dead.reason}")
    # Nothing sent can be right (a system segment alone); the lines above say which events produced nothing and why.
    report = verify(traffic, allow_empty=True)
    out(report.text())
    return 0 if report.ok and summary.ok else 1


def _reach(client: EmulatorClient, connect_timeout: float) -> None:
    """Wait until the emulator answers (it may be starting), at most ``connect_timeout`` seconds of nothing
    connecting; Unreachable after that, NotAnEmulator when something else answers."""
    began = time.monotonic()
    while True:
        try:
            client.key()
            return
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            reason, hopeless = connect_failure(error)
            waited = time.monotonic() - began
            if hopeless or waited >= connect_timeout:
                tried = "" if hopeless else f"; tried for {waited:.1f}s"
                raise Unreachable(f"cannot reach {client.base_url}: {reason}{tried}") from None
            time.sleep(min(0.25, connect_timeout - waited))
        except httpx.HTTPStatusError as error:
            raise NotAnEmulator(
                f"{client.base_url} answered {error.response.status_code} for {error.request.url.path}: is it "
                "a trifft-klaviyo emulator?"
            ) from None


def _sync_in_order(
    client: EmulatorClient,
    events: Sequence[dict[str, Any]],
    connect_timeout: float,
    progress: Progress | None,
) -> tuple[Summary, dict[int, str]]:
    """Deliver the events one request each, one run each, so they reach the emulator in the file's order; what
    the runs did together, and which TRIFFT event each request (by its seq) came from.

    A single run keeps each member's order but interleaves members concurrently, and which of two members sharing
    an email wins would change from one replay to the next.
    """
    syncer = Syncer(
        client.base_url, client.api_key, rate_limits=None, batch=False, connect_timeout=connect_timeout
    )
    origin: dict[int, str] = {}

    async def in_order() -> Summary:
        together = Summary()
        for done, event in enumerate(events, 1):
            summary = await syncer.run([event])
            if summary.stop == UNREACHABLE:
                raise Unreachable(summary.stopped)
            together.dead += summary.dead
            together.pending = summary.pending
            together.throttled_waits += summary.throttled_waits
            for record in await asyncio.to_thread(client.requests):
                origin.setdefault(record.seq, str(event.get("event_id")))
            if progress:
                progress(done, len(events), together)
        return together

    return asyncio.run(in_order()), origin


_NUMBER = "\x00number:"
_NUMBER_SHOWN = re.compile(r'"\\u0000number:([^"\\]*)\\u0000"')


def _number(text: str) -> str:
    # Numbers are kept as the text that arrived (a 17-digit balance must not be rounded by a float on its way to
    # the screen), wrapped so they can be told from strings after indenting.
    return f"{_NUMBER}{text}\x00"


def _pretty(text: str, compact: bool, indent: str) -> Iterator[str]:
    """A body, indented, with every number exactly as sent."""
    try:
        body = json.loads(text, parse_float=_number, parse_int=_number, parse_constant=_number)
    except (ValueError, RecursionError):
        yield indent + text
        return
    shown = _shortened(body) if compact else body
    for line in json.dumps(shown, ensure_ascii=False, indent=2).splitlines():
        yield indent + _NUMBER_SHOWN.sub(lambda m: m.group(1), line)


def _shortened(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _shortened(v) for k, v in value.items()}
    if isinstance(value, list):
        kept = [_shortened(v) for v in value[:5]]
        return [*kept, f"… {len(value) - 5} more items"] if len(value) > 5 else kept
    if isinstance(value, str) and len(value) > 80 and not value.startswith(_NUMBER):
        return value[:60] + f"… ({len(value)} characters)"
    return value


def _status(record: RequestRecord) -> str:
    if record.fault:
        return f"failed (injected fault {record.fault})"
    if record.status == 429:
        return "throttled"
    if record.status >= 400:
        return "rejected"
    if record.method == "GET":
        return "looked up"
    return {201: "created", 200: "updated", 202: "accepted"}.get(record.status, "")


def _did(seen: Observation) -> str:
    """What Klaviyo did with one part of a request, as the emulator recorded it."""
    if seen.kind == "event":
        what = f"event {seen.metric!r} ({seen.pointer})"
        if seen.outcome == "stored":
            return f"{what}: stored as event {seen.event_id}"
        return f"{what}: {seen.outcome or 'not recorded'}" + (f": {seen.reason}" if seen.reason else "")
    what = f"{'subscription' if seen.kind == 'subscription' else 'profile'} ({seen.pointer})"
    profile = f" profile {seen.profile_id}" if seen.profile_id else ""
    reason = f"; {seen.reason}" if seen.reason and seen.outcome != "rejected" else ""
    return f"{what}: {seen.outcome or 'not recorded'}{profile}{reason}"


def _told(
    traffic: Traffic, ledger: list[LedgerEntry], origin: dict[int, str], compact: bool
) -> Iterator[str]:
    """Per request in arrival order: a headline, the TRIFFT event, the body, what was done, errors and notes."""
    notes: dict[str, list[str]] = {}
    for note in ledger:
        notes.setdefault(note.request_id, []).append(f"{note.kind.replace('_', ' ')}: {note.reason}")
    carried: dict[str, list[Observation]] = {}
    for seen in traffic.observations:
        carried.setdefault(seen.request_id, []).append(seen)
    for record in traffic.requests:
        parts = carried.get(record.id, [])
        yield f"#{record.seq} {record.method} {record.path}{_what(parts)} -> {record.status} {_status(record)}".rstrip()
        if record.seq in origin:
            yield f"    from TRIFFT event {origin[record.seq]}"
        body = _body(record.request_body)
        if record.request_body:
            yield "    body:"
            yield from _pretty(record.request_body, compact, "      ")
        for seen in parts:
            if seen.outcome != "rejected":
                yield f"    {_did(seen)}"
        for error in record.errors:
            source = error.get("source") or {}
            where = source.get("pointer") or source.get("parameter") or ""
            refused = (
                value_at(body, where, _MISSING)
                if source.get("pointer") and body is not _MISSING
                else _MISSING
            )
            value = (
                f"; the value there: {json.dumps(refused, ensure_ascii=False)}"
                if refused is not _MISSING
                else ""
            )
            yield f"    rejected: {error.get('detail')}{(' at ' + where) if where else ''}{value}"
        for said in notes.get(record.id, []):
            yield f"    {said}"


def _body(text: str | None) -> Any:
    if not text:
        return _MISSING
    try:
        return json.loads(text)
    except ValueError:
        return text


def _silent(events: Sequence[dict[str, Any]], traffic: Traffic, origin: dict[int, str]) -> Iterator[str]:
    """The input events that produced no request, and why."""
    sent = set(origin.values())
    seen_ids: set[str] = set()
    quiet = []
    for event in events:
        event_id = str(event.get("event_id"))
        about = f"{event_id} ({event.get('kind')}, member {(event.get('member') or {}).get('id')})"
        if event_id in seen_ids:
            quiet.append(f"  {about}: a repeat of an earlier event with the same event_id; sent once")
        elif event_id not in sent:
            mapped = map_event(event)
            why = mapped.skipped or "; ".join(mapped.problems) or "no request was made for it"
            quiet.append(f"  {about}: {why}")
        seen_ids.add(event_id)
    if quiet:
        yield f"{len(quiet)} input event{'s' if len(quiet) != 1 else ''} produced no request:"
        yield from quiet


def _what(observations: list[Observation]) -> str:
    """A few words on what a request carried: the metric and member of an event, the profile refreshed."""
    events = [o for o in observations if o.kind == "event"]
    if len(events) == 1:
        return f" ({events[0].metric!r} for member {events[0].member})"
    refreshes = [o for o in observations if o.kind == "profile" and o.refresh]
    if len(refreshes) == 1:
        return f" (refresh of member {refreshes[0].member})"
    return ""
