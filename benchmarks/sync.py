"""How fast does the sync core deliver TRIFFT events to the fake Klaviyo over a real socket?

    python benchmarks/sync.py [--part a|b|c|all] [--events N] [--members M] [--seconds S] [--repeat R]

The emulator runs as its own process (``trifft-klaviyo emulator``), so sync and emulator each get a core. The sync
runs in this process with a durable outbox (as ``trifft-klaviyo sync --state`` does).

(a) Limits off on both sides: events/s with bulk jobs, and with ``--no-batch`` (one Create Event per event, on a
    quarter of the events), each the best of R runs.

(b) The emulator enforcing Klaviyo's published limits, the sync's client-side limiter on, for S seconds. Klaviyo
    limits each operation on its own (steady, per minute per account: Bulk Create Events 150 (each job up to 1,000
    events), Create Event 3,500, profile-import 750, Get Profiles 750, bulk subscribe/unsubscribe 750; bursts per
    second are 10x those per minute / 60 or more, so over a minute the steady limits bind). For the calls a run
    made, the least time those limits allow is max over operations of calls / (steady / 60 s): the ceiling. The
    achieved fraction is that time over the time the run took (first to last request the emulator saw). The sync's
    limiter runs at 97% of each steady limit, so ~0.97 is the best it can show.
    Baseline, measured in the same run over the same traffic: a naive sync, one Create Event and one
    profile-import per event, with the same limiter and concurrency.

(c) As (b), but the 3N events (60,000 by default) are delivered to the end (at most 3 S seconds): how long the
    whole run takes (first to last request, and wall clock including mapping the outbox), events/s, 429s, and the
    fraction of the ceiling. The target: 60,000 events in at most 45 s, no 429.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# This file is named sync.py: drop its folder from the path so ``import sync`` finds the package, not this script.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).parent.resolve()]

import httpx  # noqa: E402

import contracts  # noqa: E402
from emulator.trifft import generate  # noqa: E402
from sync import map_event  # noqa: E402
from sync.delivery import Syncer  # noqa: E402
from sync.limiter import Limiter  # noqa: E402
from sync.outbox import Outbox  # noqa: E402

STEADY = {name: op.steady_per_minute for name, op in contracts.klaviyo_operations().items()}


@contextlib.contextmanager
def emulator(rate_limits: str) -> Iterator[str]:
    """A fake Klaviyo in its own process; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "emulator.cli", "emulator", "--port", str(port), "--quiet"]
    process = subprocess.Popen([*command, "--rate-limits", rate_limits], stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            with contextlib.suppress(httpx.TransportError):
                httpx.get(f"{url}/_emulator/health")
                break
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait()


def requests_seen(url: str, key: str) -> list[dict[str, Any]]:
    """Every request the emulator logged for this key (operation, status, received)."""
    rows: list[dict[str, Any]] = []
    after = 0
    with httpx.Client(base_url=url, timeout=60) as control:
        while True:
            page = control.get(
                "/_emulator/requests", params={"key": key, "after": after, "limit": 1000}
            ).json()
            rows += [{k: row[k] for k in ("operation", "status", "received")} for row in page["data"]]
            if not page["data"]:
                return rows
            after = page["next_after"]


def ceiling_report(label: str, rows: list[dict[str, Any]], events: int) -> float:
    """Print events/s, requests/s per operation and the fraction of the ceiling; return the fraction."""
    elapsed = max(row["received"] for row in rows) - min(row["received"] for row in rows)
    calls = Counter(row["operation"] for row in rows)
    throttled = sum(1 for row in rows if row["status"] == 429)
    least = max(count / (STEADY[op] / 60) for op, count in calls.items())
    binding = max(calls, key=lambda op: calls[op] / STEADY[op])
    fraction = least / elapsed
    print(
        f"  {label}: {events} events in {elapsed:.1f} s = {events / elapsed:.1f} events/s; {throttled} x 429"
    )
    for op, count in calls.most_common():
        print(f"    {op:<28} {count:>6} requests  {count / elapsed:7.2f}/s  (limit {STEADY[op] / 60:.2f}/s)")
    print(
        f"    ceiling for these calls: {least:.1f} s ({binding} binds) -> {events / least:.1f} events/s; "
        f"achieved {fraction:.2f} of it"
    )
    return fraction


async def _deadline(run: Any, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(run, seconds)


def finished(outbox: Outbox) -> int:
    counts = outbox.counts()
    return sum(n for status, n in counts.items() if status != "pending")


def part_a(events: list[dict[str, Any]], state: Path, repeat: int) -> None:
    print(f"(a) limits off on both sides, durable outbox, best of {repeat}")
    with emulator("off") as url:
        for batch, label in ((True, "bulk jobs"), (False, "--no-batch")):
            chosen = events if batch else events[: len(events) // 4]
            best: Any = None
            for attempt in range(repeat):
                outbox = Outbox(str(state / f"a-{batch}-{attempt}.sqlite"))
                key = f"pk_bench_a_{batch}_{attempt}"
                summary = asyncio.run(
                    Syncer(url, key, outbox=outbox, rate_limits=None, batch=batch).run(chosen)
                )
                assert summary.pending == 0, summary
                if best is None or summary.seconds < best.seconds:
                    best, best_key = summary, key
            print(
                f"  {label:<10}: {len(chosen) / best.seconds:6.0f} events/s  ({len(chosen)} events, "
                f"{best.requests} requests = {best.requests / best.seconds:.0f}/s, {best.bulk_jobs} bulk jobs, "
                f"{best.seconds:.1f} s)"
            )
            calls = Counter(row["operation"] for row in requests_seen(url, best_key))
            print(f"    {best.subscriptions} subscription changes; requests: {dict(calls.most_common())}")


async def naive(url: str, key: str, outbox: Outbox, seconds: float, concurrency: int) -> None:
    """One Create Event and one profile-import per event, per member in order, same limiter."""
    limiter = Limiter(1.0)
    headers = {
        "Authorization": f"Klaviyo-API-Key {key}",
        "revision": contracts.KLAVIYO_REVISION,
        "Content-Type": "application/vnd.api+json",
    }
    queues = outbox.pending()
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http:

        async def member(items: list[Any]) -> None:
            for item in items:
                mapped = map_event(item.event)
                async with gate:
                    if mapped.webhook is not None:
                        await limiter.acquire("create_event")
                        await http.post(mapped.webhook.path, json=mapped.webhook.body)
                    elif mapped.metric is not None and mapped.skipped is None:
                        await limiter.acquire("create_event")
                        await http.post("/api/events", json=mapped.event_body())
                        await limiter.acquire("create_or_update_profile")
                        await http.post("/api/profile-import", json=mapped.refresh_body())
                outbox.finish([item.event_id], "done", 1)

        await _deadline(asyncio.gather(*(member(items) for items in queues.values())), seconds)


def part_b(events: list[dict[str, Any]], state: Path, seconds: float) -> None:
    print(f"(b) Klaviyo's limits enforced by the emulator, client-side limiter on, {seconds:.0f} s each")
    with emulator("klaviyo") as url:
        outbox = Outbox(str(state / "b-sync.sqlite"))
        outbox.add(events)
        syncer = Syncer(url, "pk_bench_b_sync", outbox=outbox, rate_limits=1.0)
        asyncio.run(_deadline(syncer.run(), seconds))
        sync_fraction = ceiling_report("sync core", requests_seen(url, "pk_bench_b_sync"), finished(outbox))

        baseline = Outbox(str(state / "b-naive.sqlite"))
        baseline.add(events)
        asyncio.run(naive(url, "pk_bench_b_naive", baseline, seconds / 2, syncer.concurrency))
        ceiling_report("baseline (naive)", requests_seen(url, "pk_bench_b_naive"), finished(baseline))
    print(f"  sync core at {sync_fraction:.2f} of the ceiling for its calls")


def part_c(events: list[dict[str, Any]], state: Path, cap: float) -> None:
    print(f"(c) {len(events)} events to the end under Klaviyo's limits (at most {cap:.0f} s)")
    with emulator("klaviyo") as url:
        outbox = Outbox(str(state / "c-sync.sqlite"))
        outbox.add(events)
        syncer = Syncer(url, "pk_bench_c_sync", outbox=outbox, rate_limits=1.0)
        began = time.perf_counter()
        asyncio.run(_deadline(syncer.run(), cap))
        wall = time.perf_counter() - began
        done = finished(outbox)
        fraction = ceiling_report("sync core", requests_seen(url, "pk_bench_c_sync"), done)
    pending = outbox.counts().get("pending", 0)
    print(f"  {done} events finished, {pending} pending; wall clock {wall:.1f} s including mapping")
    print(f"  sync core at {fraction:.2f} of the ceiling for its calls")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--part", choices=("a", "b", "c", "all"), default="all")
    parser.add_argument(
        "--events", type=int, default=20_000, help="events for (a); (b) uses 3x (default 20000)"
    )
    parser.add_argument("--members", type=int, default=1000, help="members in the project (default 1000)")
    parser.add_argument("--seconds", type=float, default=75.0, help="how long (b) runs the sync (default 75)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of (a), the best shown (default 2)")
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores; realistic traffic, seed 1")
    with tempfile.TemporaryDirectory() as scratch:
        if args.part in ("a", "all"):
            part_a(list(generate(args.events, seed=1, members=args.members)), Path(scratch), args.repeat)
        if args.part in ("b", "all"):
            part_b(list(generate(3 * args.events, seed=1, members=args.members)), Path(scratch), args.seconds)
        if args.part in ("c", "all"):
            part_c(
                list(generate(3 * args.events, seed=1, members=args.members)), Path(scratch), 3 * args.seconds
            )


if __name__ == "__main__":
    main()
