"""``trifft-klaviyo``: one command, six subcommands. Errors are one line naming what is wrong; never a traceback."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from contracts import ALL_KINDS, KIND_BY_METRIC


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _positive(minimum: int) -> type[int]:
    class Bounded(int):
        def __new__(cls, text: str) -> Bounded:
            try:
                value = int(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
            if value < minimum:
                raise argparse.ArgumentTypeError(f"{value} is less than {minimum}")
            return super().__new__(cls, value)

    return Bounded


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)")
    return int(text)


def _kinds(values: Sequence[str]) -> list[str]:
    """Kinds given as snake_case kinds or exact metric names, separated by commas or spaces."""
    wanted: list[str] = []
    for value in values:
        for part in (p.strip() for p in value.split(",")):
            if not part:
                continue
            kind = KIND_BY_METRIC.get(part, part)
            if kind not in ALL_KINDS:
                raise ValueError(f"unknown kind {part!r} (kinds: {', '.join(ALL_KINDS)})")
            wanted.append(kind)
    if not wanted:
        raise ValueError("--kinds needs at least one kind")
    return wanted


def _parser() -> _Parser:
    parser = _Parser(prog="trifft-klaviyo", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    gen = commands.add_parser("generate", help="write realistic or nasty TRIFFT member events as JSON Lines")
    gen.add_argument("--count", type=_positive(0), default=1000, help="how many events (default 1000)")
    gen.add_argument("--seed", type=int, default=0, help="same seed, same bytes (default 0)")
    gen.add_argument("--members", type=_positive(1), default=100, help="members in the project (default 100)")
    gen.add_argument("--kinds", nargs="+", metavar="KIND", help="only these kinds (kinds or metric names)")
    gen.add_argument("--edge", action="store_true", help="lean on what breaks integrations")
    gen.add_argument("--out", metavar="FILE", help="write here instead of standard output")

    demo = commands.add_parser(
        "demo", help="the main job: emulator, realistic traffic, sync, verdict, dashboard"
    )
    demo.add_argument(
        "--members", type=_positive(1), default=300, help="members in the project (default 300)"
    )
    demo.add_argument("--count", type=_positive(1), default=2000, help="events to generate (default 2000)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument(
        "--port", type=_positive(0), default=8525, help="emulator port (default 8525, else a free one)"
    )
    demo.add_argument("--exit", action="store_true", help="stop after the report instead of serving")

    emu = commands.add_parser("emulator", help="serve the fake Klaviyo on a socket (default 127.0.0.1:8525)")
    emu.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1, this machine only)"
    )
    emu.add_argument("--port", type=_port, default=8525, help="port (default 8525; 0 picks a free one)")
    emu.add_argument("--db", metavar="PATH", help="keep state in this SQLite file (default: in memory)")
    emu.add_argument(
        "--rate-limits",
        default="klaviyo",
        metavar="MODE",
        help="klaviyo (default, the published limits), off, or a factor such as 0.1 or 10",
    )
    emu.add_argument(
        "--faults",
        default="",
        metavar="SPEC",
        help="inject faults, e.g. '5xx=0.1,429=0.05,latency_ms=20,seed=1' (see docs/emulator.md)",
    )
    emu.add_argument("--api-key", action="append", metavar="KEY", help="accept only these keys (repeatable)")
    emu.add_argument("--quiet", action="store_true", help="no line per request")

    syn = commands.add_parser("sync", help="deliver TRIFFT events (JSON Lines) to Klaviyo or the emulator")
    syn.add_argument(
        "--input", default="-", metavar="FILE", help="JSON Lines from `generate` (default: stdin)"
    )
    syn.add_argument(
        "--base-url", help="Klaviyo base URL (else $KLAVIYO_BASE_URL, else http://127.0.0.1:8525)"
    )
    syn.add_argument("--api-key", help="private API key (else $KLAVIYO_API_KEY)")
    syn.add_argument("--state", metavar="PATH", help="keep the outbox in this SQLite file (resumable)")
    syn.add_argument(
        "--rate-limits",
        default="klaviyo",
        metavar="MODE",
        help="client-side limits: klaviyo (default), off, or a factor such as 0.5",
    )
    syn.add_argument("--concurrency", type=_positive(1), default=8, help="requests in flight (default 8)")
    syn.add_argument("--no-batch", action="store_true", help="one request per event, no bulk jobs")

    ver = commands.add_parser("verify", help="judge what the emulator received against the TRIFFT contract")
    ver.add_argument("--base-url", help="the emulator (else $KLAVIYO_BASE_URL, else http://127.0.0.1:8525)")
    ver.add_argument("--api-key", help="the account to judge (else $KLAVIYO_API_KEY)")
    ver.add_argument("--junit", metavar="FILE", help="also write JUnit XML here")
    ver.add_argument("--json", metavar="FILE", help="also write the full report as JSON here")
    ver.add_argument(
        "--require-all-metrics", action="store_true", help="fail when a standard metric never came"
    )

    rep = commands.add_parser("replay", help="replay saved TRIFFT events through the sync into an emulator")
    rep.add_argument("file", nargs="?", help="a saved event (.json), a list of events, or JSON Lines")
    rep.add_argument("--seed", type=int, help="replay a generated stream instead of a file")
    rep.add_argument(
        "--count", type=_positive(1), default=20, help="with --seed: how many events (default 20)"
    )
    rep.add_argument("--members", type=_positive(1), default=3, help="with --seed: members (default 3)")
    rep.add_argument("--edge", action="store_true", help="with --seed: edge mode")
    rep.add_argument("--base-url", help="an emulator already running (default: a fresh one in this process)")
    return parser


def _generate(args: argparse.Namespace) -> int:
    from emulator.trifft import generate, write_jsonl

    try:
        kinds = _kinds(args.kinds) if args.kinds else list(ALL_KINDS)
    except ValueError as exc:
        return _fail("generate", str(exc))
    events = generate(args.count, seed=args.seed, members=args.members, kinds=kinds, edge=args.edge)
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
        return _fail("generate", f"cannot write {args.out}: {exc.strerror}")
    mode = "edge" if args.edge else "realistic"
    print(
        f"wrote {written} {mode} events ({args.members} members, seed {args.seed}) to {args.out}",
        file=sys.stderr,
    )
    return 0


def _demo(args: argparse.Namespace) -> int:
    from emulator.demo import demo

    return demo(members=args.members, count=args.count, seed=args.seed, port=args.port, serve=not args.exit)


def _emulator(args: argparse.Namespace) -> int:
    import logging

    from emulator.klaviyo import Emulator, Faults, Store
    from emulator.klaviyo.limits import parse_mode
    from emulator.server import create_app, listen, serve, url_of

    try:
        parse_mode(args.rate_limits)
        faults = Faults.parse(args.faults)
    except ValueError as exc:
        return _fail("emulator", str(exc))
    try:
        listener = listen(args.host, args.port)
    except OSError as exc:
        return _fail("emulator", f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    try:
        store = Store(args.db)
    except Exception as exc:  # sqlite3 errors name the problem; show it as one line
        listener.close()
        return _fail("emulator", f"cannot open database {args.db}: {exc}")
    emulator = Emulator(
        store=store,
        api_keys=frozenset(args.api_key) if args.api_key else None,
        rate_limits=args.rate_limits,
        faults=faults,
    )
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    where = url_of(listener)
    print(
        f"fake Klaviyo on {where} (state: {args.db or 'in memory'}, rate limits: {args.rate_limits}"
        f"{', faults: ' + args.faults if args.faults else ''}); control API at {where}/_emulator/health",
        file=sys.stderr,
        flush=True,
    )
    try:
        serve(create_app(emulator), listener)
    finally:
        store.close()
    return 0


def _target(args: argparse.Namespace) -> tuple[str, str | None]:
    """Base URL and API key: the flags, else $KLAVIYO_BASE_URL and $KLAVIYO_API_KEY; the emulator by default."""
    base_url = args.base_url or os.environ.get("KLAVIYO_BASE_URL") or "http://127.0.0.1:8525"
    return base_url, args.api_key or os.environ.get("KLAVIYO_API_KEY")


def _sync(args: argparse.Namespace) -> int:
    import asyncio

    from rich.console import Console
    from rich.progress import Progress

    from sync.delivery import Syncer
    from sync.limiter import parse_rate_limits
    from sync.outbox import Outbox
    from sync.source import read_events

    base_url, api_key = _target(args)
    if not api_key:
        return _fail("sync", "no API key: pass --api-key or set KLAVIYO_API_KEY")
    try:
        factor = parse_rate_limits(args.rate_limits)
    except ValueError as exc:
        return _fail("sync", str(exc))
    try:
        events, problems = read_events(args.input)
    except OSError as exc:
        return _fail("sync", f"cannot read {args.input}: {exc.strerror}")
    console = Console(stderr=True, soft_wrap=True)  # one line per bad input line, whatever the width
    for problem in problems:
        console.print(problem, markup=False, highlight=False)
    try:
        outbox = Outbox(args.state)
    except Exception as exc:
        return _fail("sync", f"cannot open state {args.state}: {exc}")
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


def _verify(args: argparse.Namespace) -> int:
    import json

    import httpx

    from contracts.verifier import junit, verify
    from emulator.client import fetch

    base_url, api_key = _target(args)
    if not api_key:
        return _fail("verify", "no API key: pass --api-key or set KLAVIYO_API_KEY (the account to judge)")
    try:
        traffic = fetch(base_url, api_key)
    except httpx.HTTPError as exc:
        return _fail("verify", f"cannot read {base_url}/_emulator/requests: {exc}")
    report = verify(traffic, require_all_metrics=args.require_all_metrics)
    print(report.text())
    try:
        if args.json:
            with open(args.json, "w", encoding="utf-8") as out:
                json.dump(report.to_dict(), out, ensure_ascii=False, indent=2)
        if args.junit:
            junit(report, args.junit)
    except OSError as exc:
        return _fail("verify", f"cannot write report: {exc.strerror} ({exc.filename})")
    return 0 if report.ok else 1


def _replay(args: argparse.Namespace) -> int:
    from emulator.replay import replay
    from emulator.trifft import generate
    from sync.source import load_events

    if (args.file is None) == (args.seed is None):
        return _fail("replay", "give a FILE or --seed (one of them)")
    if args.file is not None:
        try:
            events = load_events(args.file)
        except OSError as exc:
            return _fail("replay", f"cannot read {args.file}: {exc.strerror}")
        except ValueError as exc:
            return _fail("replay", str(exc))
    else:
        events = list(generate(args.count, seed=args.seed, members=args.members, edge=args.edge))
    return replay(events, args.base_url)


def _fail(command: str, message: str) -> int:
    print(f"trifft-klaviyo {command}: error: {message}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:  # `trifft-klaviyo ... | head` is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "generate": _generate,
    "demo": _demo,
    "emulator": _emulator,
    "sync": _sync,
    "verify": _verify,
    "replay": _replay,
}


def _main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return _COMMANDS[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
