"""From a failing verdict to the smallest input that still fails: delta debugging over TRIFFT events.

A *try* runs the producer on a candidate input against a fresh account of an embedded fake Klaviyo and judges
what arrived. The producer is any shell command: the candidate file's path is appended to it, and it finds the
emulator in ``KLAVIYO_BASE_URL`` and the account's key in ``KLAVIYO_API_KEY`` (``--producer`` defaults to the
reference sync). Zeller's ddmin runs twice: over whole members first (a member's story is what usually matters),
then over the events that are left, until removing any one of them makes the rule pass.

Guarding the answer: the whole input is tried twice before shrinking (a producer that fails one way and then
another is flaky, and ddmin on a flaky oracle finds nothing true), and the final input is tried once more.
"""

from __future__ import annotations

import os
import secrets
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from contracts.verifier import verify
from emulator.klaviyo import Emulator
from emulator.klaviyo.store import account_id
from emulator.server import RunningEmulator
from emulator.trifft import write_jsonl

T = TypeVar("T")
Event = dict[str, Any]
#: The reference sync, as a producer: it reads the file, delivers it with limits off, and exits.
REFERENCE_SYNC = f"{shlex.quote(sys.executable)} -m emulator.cli sync --rate-limits off --input"


class ShrinkError(Exception):
    """Shrinking cannot start or cannot be trusted; the message says why and what to do. ``code`` is the exit
    code: 2 when the producer cannot run, 1 when it gives nothing to shrink or fails only sometimes."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Try:
    """One run of the producer: how many events, which rules broke, how long it took, and its exit status."""

    number: int
    events: int
    members: int
    broken: frozenset[str]
    seconds: float
    exit_code: int
    stderr: str = ""


@dataclass
class Result:
    """The smallest failing input found, and how it was found."""

    rule: str
    original: int
    events: list[Event]
    tries: list[Try] = field(default_factory=list)
    complete: bool = True  # False when a bound (tries or time) stopped the search early
    seconds: float = 0.0

    def summary(self) -> str:
        where = "" if self.complete else " (a bound stopped the search: it may shrink further)"
        return (
            f"{self.original} events -> {len(self.events)} event{'s' if len(self.events) != 1 else ''}; "
            f"{self.rule} still fails{where}; {len(self.tries)} tries in {self.seconds:.1f}s"
        )


def _members(events: Sequence[Event]) -> int:
    return len({_member(e) for e in events})


def _member(event: Event) -> str:
    member = event.get("member")
    return str(member.get("id")) if isinstance(member, dict) else ""


class _Bound(Exception):
    pass


class Shrinker:
    """Runs tries of ``producer`` on an embedded emulator; ``shrink(events)`` finds the smallest failing input."""

    def __init__(
        self,
        producer: str = REFERENCE_SYNC,
        rule: str | None = None,
        max_tries: int = 300,
        time_limit: float = 600.0,
        try_timeout: float = 120.0,
        progress: Callable[[str], None] = lambda line: None,
        on_try: Callable[[Try], None] = lambda attempt: None,
    ) -> None:
        self.producer = producer
        self.rule = rule
        self.max_tries = max_tries
        self.time_limit = time_limit
        self.try_timeout = try_timeout
        self.progress, self.on_try = progress, on_try
        self.tries: list[Try] = []
        self.smallest: int | None = None  # events in the smallest input found failing so far
        self._started = time.monotonic()
        self._workdir = Path(tempfile.mkdtemp(prefix="trifft-shrink-"))
        self._running: RunningEmulator | None = None

    def __enter__(self) -> Shrinker:
        self._running = RunningEmulator(Emulator(rate_limits="off")).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._running is not None:
            self._running.stop()
        for path in self._workdir.iterdir():
            path.unlink()
        self._workdir.rmdir()

    def attempt(self, events: Sequence[Event]) -> Try:
        """Run the producer once on ``events`` against a fresh account and judge what arrived."""
        if self._running is None:
            raise RuntimeError("use the Shrinker in a with block")
        if len(self.tries) >= self.max_tries or time.monotonic() - self._started > self.time_limit:
            raise _Bound
        number = len(self.tries) + 1
        key = f"pk_shrink_{number}_{secrets.token_hex(4)}"
        path = self._workdir / f"try-{number}.jsonl"
        write_jsonl(events, path)
        env = {**os.environ, "KLAVIYO_BASE_URL": self._running.url, "KLAVIYO_API_KEY": key}
        started = time.monotonic()
        try:
            done = subprocess.run(
                f"{self.producer} {shlex.quote(str(path))}",
                shell=True,
                env=env,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=self.try_timeout,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise ShrinkError(
                f"the producer did not finish within {self.try_timeout:.0f}s on {len(events)} events"
            ) from None
        finally:
            path.unlink(missing_ok=True)
        report = verify(self._running.emulator.store.traffic(account_id(key)))
        self._running.emulator.store.reset(account_id(key))
        broken = frozenset(v.rule for v in report.violations)
        attempt = Try(
            number,
            len(events),
            _members(events),
            broken,
            time.monotonic() - started,
            done.returncode,
            done.stderr[-2000:],
        )
        self.tries.append(attempt)
        self.on_try(attempt)
        return attempt

    def _fails(self, events: Sequence[Event], rule: str) -> bool:
        attempt = self.attempt(events)
        verdict = f"still fails {rule}" if rule in attempt.broken else "passes " + rule
        if rule in attempt.broken:
            self.smallest = min(self.smallest or attempt.events, attempt.events)
        self.progress(
            f"try {attempt.number}: {attempt.events} events ({attempt.members} members) -> {verdict} "
            f"({attempt.seconds:.1f}s)"
        )
        return rule in attempt.broken

    def _start(self, events: Sequence[Event]) -> str:
        """Try the whole input twice; the rule to keep broken. ShrinkError when there is nothing to shrink."""
        first = self.attempt(events)
        if first.exit_code in (126, 127):
            raise ShrinkError(
                f"cannot run the producer {self.producer!r} (exit {first.exit_code}): "
                f"{first.stderr.strip().splitlines()[-1] if first.stderr.strip() else 'no output'}",
                code=2,
            )
        if not first.broken:
            tail = (
                f"; its last words: {first.stderr.strip().splitlines()[-1]}" if first.stderr.strip() else ""
            )
            raise ShrinkError(
                f"the producer keeps the contract on the whole input ({len(events)} events, exit "
                f"{first.exit_code}): nothing to shrink{tail}"
            )
        if first.broken == {"received"} and self.rule != "received":
            tail = (
                f"; its last words: {first.stderr.strip().splitlines()[-1]}" if first.stderr.strip() else ""
            )
            raise ShrinkError(
                f"the producer sent nothing the emulator accepted (exit {first.exit_code}): it must send to "
                f"KLAVIYO_BASE_URL with KLAVIYO_API_KEY, which each try sets; nothing to shrink{tail}"
            )
        rule = self.rule or sorted(first.broken)[0]
        if rule not in first.broken:
            raise ShrinkError(
                f"the producer does not break {rule} on the whole input; it breaks {', '.join(sorted(first.broken))}"
            )
        self.progress(f"try 1: {len(events)} events ({_members(events)} members) -> fails {rule}")
        second = self.attempt(events)
        if rule not in second.broken:
            raise ShrinkError(
                f"the producer breaks {rule} only sometimes: the same {len(events)} events failed it once and "
                "passed it on the next try; shrinking needs a producer that fails the same way every time"
            )
        self.progress(f"try 2: the same input fails {rule} again")
        return rule

    def shrink(self, events: Sequence[Event]) -> Result:
        """The smallest subset of ``events`` (in their order) on which the producer still breaks the rule."""
        events = list(events)
        if not events:
            raise ShrinkError("the input holds no events")
        rule = self._start(events)
        self.smallest = len(events)
        result = Result(rule, len(events), events)
        try:
            by_member: dict[str, list[Event]] = {}
            for event in events:
                by_member.setdefault(_member(event), []).append(event)
            groups = ddmin(
                list(by_member.values()), lambda keep: self._fails([e for g in keep for e in g], rule)
            )
            result.events = [e for group in groups for e in group]
            result.events = ddmin(result.events, lambda keep: self._fails(keep, rule))
        except _Bound:
            result.complete = False
        if result.complete and len(result.events) < len(events):
            try:
                confirmed = self._fails(result.events, rule)
            except _Bound:
                confirmed = True
            if not confirmed:
                raise ShrinkError(
                    f"the producer breaks {rule} only sometimes: the {len(result.events)} events it shrank to "
                    "failed once and passed when tried again"
                )
        kept = {id(e) for e in result.events}
        result.events = [e for e in events if id(e) in kept]  # the input's own order
        result.tries, result.seconds = self.tries, time.monotonic() - self._started
        return result


def ddmin(items: list[T], fails: Callable[[list[T]], bool]) -> list[T]:
    """Zeller's ddmin: a 1-minimal sublist of ``items`` (order kept) for which ``fails`` holds.

    ``fails(items)`` must hold on entry. Tries each of n chunks, then each complement, doubling n when neither
    fails, until the chunks are single items.
    """
    n = 2
    while len(items) >= 2:
        size = len(items) / n
        chunks = [c for i in range(n) if (c := items[round(i * size) : round((i + 1) * size)])]
        reduced = next((c for c in chunks if fails(c)), None)
        if reduced is not None:
            items, n = reduced, 2
            continue
        if len(chunks) > 2:  # with two chunks each complement is the other chunk, already tried
            complements = ([x for j, c in enumerate(chunks) if j != i for x in c] for i in range(len(chunks)))
            reduced = next((c for c in complements if fails(c)), None)
            if reduced is not None:
                items, n = reduced, max(n - 1, 2)
                continue
        if n >= len(items):
            break
        n = min(n * 2, len(items))
    return items
