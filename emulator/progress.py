"""Life during long work: a live bar on a terminal, a line every few seconds when piped, so CI logs show it too.

``Report`` is what sync, replay, demo and shrink show while they work: how much is done of how much, how fast,
what the work wants counted (throttled waits, dead letters), and the time left. On an interactive terminal it is
rich's live bar (gone when the work ends); otherwise, one line on the console every ``every`` seconds
(``$TRIFFT_KLAVIYO_PROGRESS_SECONDS``, default 5), nothing if the work ends sooner. Rich decides what is a
terminal: ``TTY_INTERACTIVE=0`` forces the lines, ``TTY_COMPATIBLE=1 TTY_INTERACTIVE=1`` the bar.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from sync.summary import Summary, counted

ENV = "TRIFFT_KLAVIYO_PROGRESS_SECONDS"
DEFAULT_EVERY = 5.0

#: What the work counts besides progress, each already phrased: ``["3 throttled waits", "1 dead letter"]``.
Counts = Callable[[], list[str]]


def sync_counts(summary: Callable[[], Summary]) -> Counts:
    """What a sync's progress counts besides events: its throttled waits and dead letters so far, read live from
    ``summary()`` (a Syncer starts a new Summary each run)."""

    def counts() -> list[str]:
        now = summary()
        return [counted(now.throttled_waits, "throttled wait"), counted(len(now.dead), "dead letter")]

    return counts


def every_from_env() -> float:
    """Seconds between progress lines when piped: ``$TRIFFT_KLAVIYO_PROGRESS_SECONDS`` if it is a positive
    number, else the default (a bad value must not stop the work it would report on)."""
    try:
        every = float(os.environ.get(ENV, ""))
    except ValueError:
        return DEFAULT_EVERY
    return every if every > 0 else DEFAULT_EVERY


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class _Rate(ProgressColumn):
    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:.0f} {self.unit}/s")


class _Counts(ProgressColumn):
    """What the work counts, read live at each refresh."""

    def __init__(self, counts: Counts) -> None:
        super().__init__()
        self.counts = counts

    def render(self, task: Task) -> Text:
        return Text(", ".join(self.counts()))


class Report:
    """Progress of ``what`` in ``unit``s, shown on ``console``; ``update(done, total)`` as the work goes."""

    def __init__(
        self,
        console: Console,
        what: str,
        unit: str = "events",
        counts: Counts = list,
        eta: bool = True,
        every: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console, self.what, self.unit, self.counts, self.eta = console, what, unit, counts, eta
        self.every = every_from_env() if every is None else every
        self.clock = clock
        self.done = self.total = 0
        self.live = console.is_interactive
        self._started = clock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> Report:
        self._started = self.clock()
        if self.live:
            columns: list[ProgressColumn] = [
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(self.unit),
                _Rate(self.unit),
                _Counts(self.counts),
            ]
            if self.eta:
                columns.append(TimeRemainingColumn())
            self._bar = Progress(*columns, console=self.console, transient=True)
            self._bar.start()
            self._task = self._bar.add_task(self.what, total=self.total or None)
        else:
            self._ticker = threading.Thread(target=self._tick_every, name="progress", daemon=True)
            self._ticker.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        if self._bar is not None:
            self._bar.stop()

    def update(self, done: int, total: int) -> None:
        """``done`` of ``total`` finished so far."""
        self.done, self.total = done, total
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=done, total=total or None)

    def advance(self, by: int = 1) -> None:
        self.update(self.done + by, self.total)

    def line(self) -> str:
        """The progress as one line, as it is printed when the console is not a terminal."""
        elapsed = max(self.clock() - self._started, 1e-9)
        rate = self.done / elapsed
        parts = [f"{self.done}/{self.total} {self.unit}"]
        if self.total:
            parts[0] += f" ({100 * self.done // self.total}%)"
        parts.append(f"{rate:.0f} {self.unit}/s")
        parts += self.counts()
        if self.eta:
            left = self.total - self.done
            parts.append(f"ETA {_duration(left / rate)}" if rate > 0 and left >= 0 else "ETA unknown")
        return f"{self.what}: " + ", ".join(parts)

    def _tick_every(self) -> None:
        while not self._stop.wait(self.every):
            self.console.print(self.line(), markup=False, highlight=False, soft_wrap=True)
