"""Subcommands that make and move TRIFFT events: generate, sync, replay, demo."""

from __future__ import annotations

import argparse
import os
import sys

from contracts import ALL_KINDS

from ._common import fail, target
from ._parser import kinds as parse_kinds


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
    from emulator.demo import demo

    return demo(members=args.members, count=args.count, seed=args.seed, port=args.port, serve=not args.exit)


def sync(args: argparse.Namespace) -> int:
    import asyncio

    from rich.console import Console
    from rich.progress import Progress

    from sync.delivery import Syncer
    from sync.limiter import parse_rate_limits
    from sync.outbox import Outbox
    from sync.source import read_events

    base_url, api_key = target(args)
    if not api_key:
        return fail("sync", "no API key: pass --api-key or set KLAVIYO_API_KEY")
    try:
        factor = parse_rate_limits(args.rate_limits)
    except ValueError as exc:
        return fail("sync", str(exc))
    try:
        events, problems = read_events(args.input)
    except OSError as exc:
        return fail("sync", f"cannot read {args.input}: {exc.strerror}")
    console = Console(stderr=True, soft_wrap=True)  # one line per bad input line, whatever the width
    for problem in problems:
        console.print(problem, markup=False, highlight=False)
    try:
        outbox = Outbox(args.state)
    except Exception as exc:
        return fail("sync", f"cannot open state {args.state}: {exc}")
    with Progress(console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task("syncing", total=len(events) + outbox.counts().get("pending", 0))
        syncer = Syncer(
            base_url,
            api_key,
            outbox=outbox,
            rate_limits=factor,
            concurrency=args.concurrency,
            batch=not args.no_batch,
            progress=lambda n: progress.advance(task, n),
        )
        try:
            summary = asyncio.run(syncer.run(events))
        except KeyboardInterrupt:
            console.print(
                "interrupted: what was not sent is kept in the outbox"
                + (f" ({args.state}); run again to resume" if args.state else "")
            )
            return 130
        finally:
            outbox.close()
    for line in summary.lines(bad_lines=len(problems)):
        console.print(line, markup=False, highlight=False)
    return 0 if summary.ok and not problems else 1


def replay(args: argparse.Namespace) -> int:
    from emulator.replay import replay
    from emulator.trifft import generate
    from sync.source import load_events

    if (args.file is None) == (args.seed is None):
        return fail("replay", "give a FILE or --seed (one of them)")
    if args.file is not None:
        try:
            events = load_events(args.file)
        except OSError as exc:
            return fail("replay", f"cannot read {args.file}: {exc.strerror}")
        except ValueError as exc:
            return fail("replay", str(exc))
    else:
        events = list(generate(args.count, seed=args.seed, members=args.members, edge=args.edge))
    return replay(events, args.base_url, compact=args.compact)
