"""Subcommands that make and move TRIFFT events: generate, sync, replay, demo."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from contracts import ALL_KINDS
from sync.summary import counted

from ._common import FAILED, OK, fail, target
from ._common import UNREACHABLE as UNREACHABLE_CODE
from ._parser import kinds as parse_kinds

if TYPE_CHECKING:
    from rich.console import Console

    from sync.outbox import Outbox
    from sync.summary import Summary


def generate(args: argparse.Namespace) -> int:
    from emulator.trifft import generate, write_jsonl

    try:
        wanted = parse_kinds(args.kinds) if args.kinds else list(ALL_KINDS)
    except ValueError as exc:
        return fail("generate", str(exc))
    events = generate(args.count, seed=args.seed, members=args.members, kinds=wanted, edge=args.edge)
    if args.out is None:
        sys.stdout.reconfigure(encoding="utf-8", newline="\n")  # type: ignore[union-attr]
        try:
            write_jsonl(events, sys.stdout)
            sys.stdout.flush()
        except BrokenPipeError:  # `generate | head` is fine
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    try:
        with open(args.out, "w", encoding="utf-8", newline="\n") as out:
            written = write_jsonl(events, out)
    except OSError as exc:
        return fail("generate", f"cannot write {args.out}: {exc.strerror}")
    mode = "edge" if args.edge else "realistic"
    print(
        f"wrote {written} {mode} events ({args.members} members, seed {args.seed}) to {args.out}",
        file=sys.stderr,
    )
    return 0


def demo(args: argparse.Namespace) -> int:
    from emulator.demo import PortTaken, demo

    try:
        return demo(
            members=args.members, count=args.count, seed=args.seed, port=args.port, serve=not args.exit
        )
    except PortTaken as exc:
        return fail("demo", str(exc))


def sync(args: argparse.Namespace) -> int:
    from rich.console import Console

    from sync.limiter import parse_rate_limits
    from sync.outbox import Outbox
    from sync.source import input_name, read_events

    base_url, api_key = target(args)
    if not api_key:
        return fail("sync", "no API key: pass --api-key or set KLAVIYO_API_KEY")
    try:
        factor = parse_rate_limits(args.rate_limits)
    except ValueError as exc:
        return fail("sync", str(exc))
    name = input_name(args.input)
    if args.input == "-" and sys.stdin.isatty():  # else a bare `sync` waits in silence for a paste
        print(
            "reading TRIFFT events from standard input (end with Ctrl-D; --input FILE reads a file)",
            file=sys.stderr,
        )
    try:
        events, problems = read_events(args.input)
    except OSError as exc:
        return fail("sync", f"cannot read {name}: {exc.strerror or exc}")
    console = Console(stderr=True, soft_wrap=True)  # one line per bad input line, whatever the width
    for problem in problems:
        console.print(problem, markup=False, highlight=False)
    try:
        outbox = Outbox(args.state)
    except Exception as exc:
        return fail("sync", f"cannot open state {args.state}: {exc}")
    try:
        return _deliver(args, console, outbox, base_url, api_key, factor, events, problems, name)
    finally:
        outbox.close()


def _deliver(
    args: argparse.Namespace,
    console: Console,
    outbox: Outbox,
    base_url: str,
    api_key: str,
    factor: float | None,
    events: list[dict[str, Any]],
    problems: list[str],
    name: str,
) -> int:
    import asyncio

    from emulator.progress import Report, sync_counts
    from sync.delivery import Syncer
    from sync.errors import TargetMismatch, target_change
    from sync.outbox import account_of
    from sync.summary import REFUSED, UNREACHABLE

    try:
        syncer = Syncer(
            base_url,
            api_key,
            outbox=outbox,
            rate_limits=factor,
            concurrency=args.concurrency,
            batch=not args.no_batch,
            connect_timeout=args.connect_timeout,
            deadline=args.deadline,
            retarget=args.retarget,
        )
    except TargetMismatch as exc:
        return fail(
            "sync",
            f"{exc}: use a new --state for this target, or --retarget to send what is still pending there",
        )
    if syncer.retargeted:
        change = target_change(syncer.retargeted, (syncer.base_url, account_of(api_key)))
        console.print(
            f"re-targeted {args.state}, which {change}: what is still pending goes to this target; what was "
            "delivered is not sent again",
            markup=False,
            highlight=False,
        )
    waiting = outbox.counts().get("pending", 0)
    if not events and not waiting:
        if problems:
            return fail("sync", f"no valid events in {name}: every line was bad (see above)")
        return fail("sync", f"no events in {name} (empty input): nothing to send")
    if not events:
        console.print(
            f"no events in {name}; resuming the {counted(waiting, 'event')} left pending in {args.state}",
            markup=False,
            highlight=False,
        )
    counts = sync_counts(lambda: syncer.summary)
    with Report(console, "syncing", "events", counts) as report:
        syncer.progress = report.update
        try:
            summary = asyncio.run(syncer.run(events))
        except KeyboardInterrupt:
            kept = (
                f"is kept in {args.state}; run again to resume" if args.state else "is not kept (no --state)"
            )
            console.print(f"interrupted: what was not sent {kept}", markup=False, highlight=False)
            return 130
    unreachable = summary.stop in (UNREACHABLE, REFUSED)
    for line in summary.lines(bad_lines=len(problems), state=args.state, why=not unreachable):
        console.print(line, markup=False, highlight=False)
    if summary.stop == REFUSED:
        return fail("sync", f"Klaviyo refuses the key: {summary.stopped}", UNREACHABLE_CODE)
    if unreachable:
        return fail("sync", summary.stopped or "Klaviyo unreachable", UNREACHABLE_CODE)
    return OK if summary.ok and not problems else FAILED


def replay(args: argparse.Namespace) -> int:
    from rich.console import Console

    from emulator.progress import Report, sync_counts
    from emulator.replay import NotAnEmulator, replay
    from emulator.trifft import generate
    from sync.errors import Unreachable
    from sync.source import input_name, load_events
    from sync.summary import Summary

    if (args.file is None) == (args.seed is None):
        return fail("replay", "give a FILE or --seed (one of them)")
    if args.file is not None:
        name = input_name(args.file)
        try:
            events = load_events(args.file)
        except OSError as exc:
            return fail("replay", f"cannot read {name}: {exc.strerror or exc}")
        except ValueError as exc:
            return fail("replay", str(exc))
        if not events:
            return fail("replay", f"no events in {name} (empty input): nothing to replay")
    else:
        events = list(generate(args.count, seed=args.seed, members=args.members, edge=args.edge))
    seen = [Summary()]
    console = Console(stderr=True, soft_wrap=True)
    try:
        with Report(console, "replaying", "events", sync_counts(lambda: seen[0])) as report:
            report.update(0, len(events))

            def progress(done: int, total: int, summary: Summary) -> None:
                seen[0] = summary
                report.update(done, total)

            return replay(
                events,
                args.base_url,
                compact=args.compact,
                connect_timeout=args.connect_timeout,
                progress=progress,
            )
    except Unreachable as exc:
        return fail("replay", str(exc), UNREACHABLE_CODE)
    except NotAnEmulator as exc:
        return fail("replay", str(exc))
