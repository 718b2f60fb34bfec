"""``trifft-klaviyo``: one command, six subcommands. Errors are one line naming what is wrong; never a traceback."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import NoReturn

from contracts import ALL_KINDS, KIND_BY_METRIC

NOT_BUILT = {
    "verify": "the verifier (issue 5)",
    "replay": "QA replay (issue 5)",
}


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

    demo = commands.add_parser("demo", help="the main job: generate, check and summarise a realistic stream")
    demo.add_argument("--members", type=_positive(1), default=300)
    demo.add_argument("--count", type=_positive(1), default=3000)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument(
        "--exit", action="store_true", help="stop after the report (the default until the emulator exists)"
    )

    emu = commands.add_parser("emulator", help="serve the fake Klaviyo on a socket (default 127.0.0.1:8525)")
    emu.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1, this machine only)"
    )
    emu.add_argument(
        "--port", type=_positive(0), default=8525, help="port (default 8525; 0 picks a free one)"
    )
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

    for name, what in NOT_BUILT.items():
        sub = commands.add_parser(name, help=f"{what}: not built yet", add_help=True)
        sub.add_argument("rest", nargs=argparse.REMAINDER)
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
    from rich.console import Console
    from rich.table import Table

    from contracts import METRIC_BY_KIND, event_schema
    from emulator.trifft import generate, inconsistencies

    console = Console()
    started = time.perf_counter()
    events = list(generate(args.count, seed=args.seed, members=args.members))
    schema = event_schema()
    invalid = [(event, problems) for event in events if (problems := schema.validate(event))]
    story = inconsistencies(events)
    kinds = Counter(event["kind"] for event in events)
    table = Table(title=f"{len(events)} TRIFFT events, {args.members} members, seed {args.seed}")
    table.add_column("kind")
    table.add_column("Klaviyo metric")
    table.add_column("events", justify="right")
    for kind in ALL_KINDS:
        table.add_row(kind, METRIC_BY_KIND.get(kind, "(custom webhook, no refresh)"), str(kinds[kind]))
    console.print(table)
    console.print(
        f"contract 1 (TRIFFT event envelope): {len(events) - len(invalid)} valid, {len(invalid)} invalid"
    )
    console.print(f"timeline consistency: {len(story)} problems")
    for event, problems in invalid[:5]:
        console.print(f"  event {event['event_id']}: {problems[0]}", markup=False)
    for line in story[:5]:
        console.print(f"  {line}", markup=False)
    console.print(f"done in {time.perf_counter() - started:.1f}s")
    console.print(
        "[yellow]Not built yet:[/] the Klaviyo emulator, the sync core and the verifier (issues 3-5). "
        "This demo exercises the fake TRIFFT and the contracts only."
    )
    return 1 if invalid or story else 0


def _emulator(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    from emulator.klaviyo import Emulator, Faults, Store, create_app
    from emulator.klaviyo.limits import parse_mode

    try:
        parse_mode(args.rate_limits)
        faults = Faults.parse(args.faults)
    except ValueError as exc:
        return _fail("emulator", str(exc))
    try:
        store = Store(args.db)
    except Exception as exc:  # sqlite3 errors name the problem; show it as one line
        return _fail("emulator", f"cannot open database {args.db}: {exc}")
    emulator = Emulator(
        store=store,
        api_keys=frozenset(args.api_key) if args.api_key else None,
        rate_limits=args.rate_limits,
        faults=faults,
    )
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    config = uvicorn.Config(
        create_app(emulator),
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    where = f"http://{args.host}:{args.port}"
    print(
        f"fake Klaviyo on {where} (state: {args.db or 'in memory'}, rate limits: {args.rate_limits}"
        f"{', faults: ' + args.faults if args.faults else ''}); control API at {where}/_emulator/health",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.run()
    except OSError as exc:
        return _fail("emulator", f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    except KeyboardInterrupt:
        pass
    finally:
        store.close()
    return 0 if server.started else _fail("emulator", f"could not start on {args.host}:{args.port}")


def _read_events(path: str) -> tuple[list[dict[str, object]], list[str]]:
    """Valid events and one message per bad line, naming the file, the line and the field."""
    from contracts import event_schema, parse_json
    from contracts._errors import MalformedPayload

    schema = event_schema()
    name = "<stdin>" if path == "-" else path
    stream = sys.stdin if path == "-" else open(path, encoding="utf-8")  # noqa: SIM115
    events, problems = [], []
    with stream:
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                event = parse_json(line, source=f"{name}:{number}")
            except MalformedPayload as error:
                problems.append(f"{name}:{number}:{error.column}: not JSON: {error.reason}; line skipped")
                continue
            violations = schema.validate(event)
            if violations:
                first = violations[0]
                more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
                problems.append(
                    f"{name}:{number}: {first.pointer or '/'}: {first.message}{more}; line skipped"
                )
                continue
            events.append(event)
    return events, problems


def _sync(args: argparse.Namespace) -> int:
    import asyncio

    from rich.console import Console
    from rich.progress import Progress

    from emulator.klaviyo.limits import parse_mode
    from sync.delivery import Syncer
    from sync.outbox import Outbox

    base_url = args.base_url or os.environ.get("KLAVIYO_BASE_URL") or "http://127.0.0.1:8525"
    api_key = args.api_key or os.environ.get("KLAVIYO_API_KEY")
    if not api_key:
        return _fail("sync", "no API key: pass --api-key or set KLAVIYO_API_KEY")
    try:
        factor = parse_mode(args.rate_limits)
    except ValueError as exc:
        return _fail("sync", str(exc))
    try:
        events, problems = _read_events(args.input)
    except OSError as exc:
        return _fail("sync", f"cannot read {args.input}: {exc.strerror}")
    console = Console(stderr=True)
    for problem in problems:
        console.print(problem, markup=False, highlight=False)
    try:
        outbox = Outbox(args.state)
    except Exception as exc:
        return _fail("sync", f"cannot open state {args.state}: {exc}")
    with Progress(console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task(
            "syncing", total=len(events) + sum(outbox.counts().get("pending", 0) for _ in [0])
        )
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
    console.print(
        f"{summary.received} events read, {len(problems)} bad lines skipped, {summary.duplicates} already "
        f"in the outbox; {summary.events_sent} Klaviyo events sent ({summary.bulk_jobs} bulk jobs), "
        f"{summary.refreshes} profile refreshes, {summary.webhooks_sent} custom webhooks, "
        f"{summary.subscriptions} subscription changes, {summary.skipped} system-segment events ignored; "
        f"{summary.retries} retries, {summary.throttled_waits} throttled waits, {summary.requests} "
        f"requests in {summary.seconds:.1f}s",
        markup=False,
        highlight=False,
    )
    for dead in summary.dead:
        console.print(
            f"dead letter: event {dead['event_id']} ({dead['kind']}, member {dead['member_id']}): "
            f"{dead['reason']}",
            markup=False,
            highlight=False,
        )
    if summary.pending:
        why = summary.stopped or "Klaviyo kept failing"
        console.print(
            f"{summary.pending} events still pending ({why}); run again to resume",
            markup=False,
            highlight=False,
        )
    return 0 if summary.ok and not problems else 1


def _fail(command: str, message: str) -> int:
    print(f"trifft-klaviyo {command}: error: {message}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "generate":
        return _generate(args)
    if args.command == "demo":
        return _demo(args)
    if args.command == "emulator":
        return _emulator(args)
    if args.command == "sync":
        return _sync(args)
    return _fail(args.command, f"{NOT_BUILT[args.command]} is not built yet")


if __name__ == "__main__":
    sys.exit(main())
