"""The command line's grammar: every subcommand, its flags and their types. Parsing only; nothing runs here."""

from __future__ import annotations

import argparse
import functools
from collections.abc import Sequence
from typing import NoReturn

from contracts import ALL_KINDS, KIND_BY_METRIC


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def positive(minimum: int) -> type[int]:
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


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} seconds: must be more than 0")
    return value


def port(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)")
    return int(text)


def kinds(values: Sequence[str]) -> list[str]:
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


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("trifft-klaviyo")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


DESCRIPTION = """Emulate Klaviyo, generate TRIFFT traffic, sync it, and judge it against the TRIFFT -> Klaviyo
contract. Errors are one line naming what is wrong; never a traceback."""
EXIT_CODES = """exit codes: 0 everything delivered / contract kept; 1 dead letters, violations, bad input lines
skipped or events left pending; 2 usage or input errors (an input with no events, a state file of another
target); 3 Klaviyo (or the emulator) unreachable or the key refused"""


def parser() -> _Parser:
    parser = _Parser(
        prog="trifft-klaviyo",
        description=DESCRIPTION,
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")
    # Each command's --help ends with the exit codes too: they are what a script or CI step acts on.
    add = functools.partial(
        commands.add_parser, epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter
    )

    gen = add("generate", help="write realistic or nasty TRIFFT member events as JSON Lines")
    gen.add_argument("--count", type=positive(0), default=1000, help="how many events (default 1000)")
    gen.add_argument("--seed", type=int, default=0, help="same seed, same bytes (default 0)")
    gen.add_argument("--members", type=positive(1), default=100, help="members in the project (default 100)")
    gen.add_argument("--kinds", nargs="+", metavar="KIND", help="only these kinds (kinds or metric names)")
    gen.add_argument("--edge", action="store_true", help="lean on what breaks integrations")
    gen.add_argument("--out", metavar="FILE", help="write here instead of standard output")

    demo = add("demo", help="the main job: emulator, realistic traffic, sync, verdict, dashboard")
    demo.add_argument("--members", type=positive(1), default=300, help="members in the project (default 300)")
    demo.add_argument("--count", type=positive(1), default=2000, help="events to generate (default 2000)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument(
        "--port",
        type=port,
        help="emulator port; a busy port is an error (default: 8525, or a free one when 8525 is busy)",
    )
    demo.add_argument("--exit", action="store_true", help="stop after the report instead of serving")

    emu = add("emulator", help="serve the fake Klaviyo on a socket (default 127.0.0.1:8525)")
    emu.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1, this machine only)"
    )
    emu.add_argument("--port", type=port, default=8525, help="port (default 8525; 0 picks a free one)")
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
    emu.add_argument(
        "--opt-in",
        choices=("double_opt_in", "single_opt_in"),
        default="double_opt_in",
        help="the account-level default opt-in process, for subscriptions without a list and lists created "
        "without one (default double_opt_in, as Klaviyo's lists; change at run time with PUT /_emulator/opt-in)",
    )
    emu.add_argument(
        "--label",
        action="append",
        metavar="KEY=NAME",
        help="name an account on the dashboard (repeatable; also PUT /_emulator/accounts/label)",
    )
    emu.add_argument("--quiet", action="store_true", help="no line per request")

    syn = add("sync", help="deliver TRIFFT events (JSON Lines) to Klaviyo or the emulator")
    syn.add_argument(
        "--input",
        default="-",
        metavar="FILE",
        help="JSON Lines from `generate`, gzip or not (default: stdin); bad lines are named and skipped, and "
        "an input with no events is an error (exit 2) unless --state holds events to resume",
    )
    syn.add_argument(
        "--base-url", help="Klaviyo base URL (else $KLAVIYO_BASE_URL, else http://127.0.0.1:8525)"
    )
    syn.add_argument("--api-key", help="private API key (else $KLAVIYO_API_KEY)")
    syn.add_argument(
        "--state",
        metavar="PATH",
        help="keep the outbox in this SQLite file (resumable); it remembers the base URL and account it serves",
    )
    syn.add_argument(
        "--retarget",
        action="store_true",
        help="let --state serve another base URL or key: what is still pending goes there, what was "
        "delivered is not sent again (use a new --state to send everything)",
    )
    syn.add_argument(
        "--rate-limits",
        default="klaviyo",
        metavar="MODE",
        help="client-side limits: klaviyo (default), off, or a factor such as 0.5",
    )
    syn.add_argument("--concurrency", type=positive(1), default=8, help="requests in flight (default 8)")
    syn.add_argument("--no-batch", action="store_true", help="one request per event, no bulk jobs")
    syn.add_argument(
        "--connect-timeout",
        type=seconds,
        default=5.0,
        metavar="SECONDS",
        help="give up (exit 3) when nothing can connect for this long (default 5)",
    )
    syn.add_argument(
        "--deadline",
        type=seconds,
        metavar="SECONDS",
        help="stop after this long, the rest kept pending (default: none; throttled waits never give up)",
    )

    ver = add("verify", help="judge what the emulator received against the TRIFFT contract")
    ver.add_argument("--base-url", help="the emulator (else $KLAVIYO_BASE_URL, else http://127.0.0.1:8525)")
    ver.add_argument("--api-key", help="the account to judge (else $KLAVIYO_API_KEY)")
    ver.add_argument("--junit", metavar="FILE", help="also write JUnit XML here")
    ver.add_argument("--json", metavar="FILE", help="also write the full report as JSON here")
    ver.add_argument(
        "--require-all-metrics", action="store_true", help="fail when a standard metric never came"
    )
    ver.add_argument(
        "--allow-empty", action="store_true", help="pass when nothing arrived for the key (default: fail)"
    )

    rep = add("replay", help="replay saved TRIFFT events through the sync into an emulator")
    rep.add_argument("file", nargs="?", help="a saved event (.json), a list of events, or JSON Lines")
    rep.add_argument("--seed", type=int, help="replay a generated stream instead of a file")
    rep.add_argument(
        "--count", type=positive(1), default=20, help="with --seed: how many events (default 20)"
    )
    rep.add_argument("--members", type=positive(1), default=3, help="with --seed: members (default 3)")
    rep.add_argument("--edge", action="store_true", help="with --seed: edge mode")
    rep.add_argument("--base-url", help="an emulator already running (default: a fresh one in this process)")
    rep.add_argument(
        "--compact", action="store_true", help="shorten long values and arrays in the bodies shown"
    )
    rep.add_argument(
        "--connect-timeout",
        type=seconds,
        default=5.0,
        metavar="SECONDS",
        help="with --base-url: give up (exit 3) when it cannot be reached for this long (default 5)",
    )

    shr = add("shrink", help="the smallest input on which a producer still breaks a rule")
    shr.add_argument(
        "--input", required=True, metavar="FILE", help="TRIFFT events (JSON Lines, a list, an event)"
    )
    shr.add_argument(
        "--producer",
        metavar="CMD",
        help="shell command run per try with the candidate file's path appended and KLAVIYO_BASE_URL and "
        "KLAVIYO_API_KEY set (default: the reference sync)",
    )
    shr.add_argument(
        "--out", metavar="FILE", help="where the smallest input goes (default: INPUT.shrunk.jsonl)"
    )
    shr.add_argument("--rule", metavar="RULE", help="the rule to keep broken (default: the first one broken)")
    shr.add_argument(
        "--max-tries", type=positive(3), default=300, help="at most this many tries (default 300)"
    )
    shr.add_argument(
        "--time-limit", type=positive(1), default=600, metavar="SECONDS", help="stop after (default 600 s)"
    )

    pro = add("proxy", help="forward to Klaviyo, recording and judging the traffic on its way")
    pro.add_argument(
        "--upstream", help="where requests go (else $KLAVIYO_UPSTREAM, else https://a.klaviyo.com)"
    )
    pro.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    pro.add_argument("--port", type=port, default=8525, help="port (default 8525; 0 picks a free one)")
    pro.add_argument(
        "--db", metavar="PATH", help="keep the recording in this SQLite file (default: in memory)"
    )
    pro.add_argument("--strict", action="store_true", help="refuse (400) a request that breaks a rule")
    pro.add_argument(
        "--annotate", action="store_true", help="name broken rules in an X-Trifft-Contract header"
    )
    pro.add_argument("--faults", default="", metavar="SPEC", help="inject faults, as the emulator does")

    com = add("compare", help="re-send a proxy recording to another Klaviyo and show differences")
    com.add_argument("recording", help="JSON Lines from GET /_emulator/export")
    com.add_argument(
        "--base-url", help="the Klaviyo to compare with (else $KLAVIYO_BASE_URL, else the emulator)"
    )
    com.add_argument("--api-key", help="the key to send with (default: a fresh one, a fresh account)")
    com.add_argument("--json", metavar="FILE", help="also write the differences as JSON here")
    return parser
