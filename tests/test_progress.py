"""The progress report: a live bar on a terminal, a line every few seconds in a pipe, both saying the same things."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from emulator.progress import DEFAULT_EVERY, ENV, Report, every_from_env


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=terminal, force_interactive=terminal, width=160), out


def test_a_piped_line_says_done_of_total_rate_counts_and_time_left() -> None:
    console, out = _console(terminal=False)
    clock = Clock()
    report = Report(console, "syncing", "events", lambda: ["2 throttled waits", "1 dead letter"], clock=clock)
    with report:
        report.update(0, 1000)
        clock.now += 10
        report.update(250, 1000)
        assert report.line() == (
            "syncing: 250/1000 events (25%), 25 events/s, 2 throttled waits, 1 dead letter, ETA 0:00:30"
        )
        report.advance(50)
        assert report.line().startswith("syncing: 300/1000 events (30%), 30 events/s")
    assert not report.live and "\x1b[" not in out.getvalue()


def test_before_anything_is_done_the_time_left_is_unknown_and_eta_can_be_left_out() -> None:
    console, _ = _console(terminal=False)
    assert Report(console, "syncing", clock=Clock()).line() == "syncing: 0/0 events, 0 events/s, ETA unknown"
    shrinking = Report(
        console, "shrinking", "tries", lambda: ["smallest failing input so far: 4 events"], eta=False
    )
    shrinking.update(3, 300)
    assert shrinking.line().startswith("shrinking: 3/300 tries (1%), ") and "ETA" not in shrinking.line()


def test_on_a_terminal_it_is_a_live_bar_with_the_same_counts() -> None:
    console, out = _console(terminal=True)
    with Report(console, "syncing", "events", lambda: ["0 throttled waits", "3 dead letters"]) as report:
        assert report.live
        report.update(7, 20)
    shown = out.getvalue()
    assert "syncing" in shown and "7/20" in shown and "events/s" in shown and "3 dead letters" in shown
    assert "━" in shown and "\x1b[" in shown


@pytest.mark.parametrize(
    ("value", "every"), [("0.5", 0.5), ("", DEFAULT_EVERY), ("x", DEFAULT_EVERY), ("-1", DEFAULT_EVERY)]
)
def test_the_interval_of_piped_lines_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, every: float
) -> None:
    monkeypatch.setenv(ENV, value)
    assert every_from_env() == every
