"""Klaviyo's rate limits: fixed windows per account and operation, burst per second and steady per minute.

Figures come from each operation's ``x-klaviyo-ratelimit`` in the spec. ``mode`` is ``klaviyo`` (as published),
``off``, or a factor (``0.1`` for a tenth of Klaviyo's limits, ``10`` for ten times them).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from .errors import Problem, Throttled
from .spec import Operation


def parse_mode(text: str | float) -> float | None:
    """The factor for a mode; None means limits are off. Raises ValueError naming the bad value."""
    if isinstance(text, int | float):
        factor = float(text)
    elif text == "klaviyo":
        return 1.0
    elif text == "off":
        return None
    else:
        try:
            factor = float(text.removesuffix("x"))
        except ValueError:
            raise ValueError(
                f"rate-limit mode must be klaviyo, off or a positive factor like 0.5, not {text!r}"
            ) from None
    if factor <= 0 or not math.isfinite(factor):
        raise ValueError(f"rate-limit factor must be positive, not {text!r}")
    return factor


@dataclass
class _Window:
    second: int = -1
    in_second: int = 0
    minute: int = -1
    in_minute: int = 0
    peak_second: int = 0  # the most requests let through in one second of this minute


@dataclass(frozen=True)
class Usage:
    """What one account has used of one operation's limits in the current windows: this second (burst), its
    busiest second of this minute, and this minute (steady). Throttled requests are not counted."""

    account: str
    operation: str
    in_second: int
    peak_second: int
    in_minute: int


class RateLimiter:
    def __init__(self, mode: str | float, clock: Callable[[], float]) -> None:
        self.factor = parse_mode(mode)
        self.mode = "off" if self.factor is None else ("klaviyo" if self.factor == 1.0 else str(self.factor))
        self.clock = clock
        self._windows: dict[tuple[str, str], _Window] = {}
        self.throttled = 0

    def set_mode(self, mode: str | float) -> None:
        self.factor = parse_mode(mode)
        self.mode = "off" if self.factor is None else ("klaviyo" if self.factor == 1.0 else str(self.factor))

    def limits(self, operation: Operation) -> tuple[int, int]:
        factor = self.factor or 1.0
        return max(1, int(operation.burst * factor)), max(1, int(operation.steady * factor))

    def reset(self, account: str | None = None) -> None:
        """Forget the counts of every account, or of one."""
        if account is None:
            self._windows.clear()
        else:
            for window in [w for w in self._windows if w[0] == account]:
                del self._windows[window]

    def usage(self, account: str | None = None) -> list[Usage]:
        """The use of every account's (or one account's) windows that are current now; a window whose minute has
        passed is not listed, and a past second counts as none used."""
        now = self.clock()
        second, minute = int(now), int(now // 60)
        # A copy first: the event loop may open a window while a reader (a worker thread) goes through them.
        windows = list(self._windows.items())
        return [
            Usage(
                owner,
                operation,
                window.in_second if window.second == second else 0,
                window.peak_second,
                window.in_minute,
            )
            for (owner, operation), window in windows
            if window.minute == minute and (account is None or owner == account)
        ]

    def peek(self, account: str | None, operation_id: str, steady: int) -> dict[str, str]:
        """The RateLimit-* headers for an answer that is not counted (401, a bad revision, an unknown path): what
        the account's window for this operation holds now, without taking from it; the whole allowance when the
        account is unknown or has not called it this minute. Nothing when limits are off."""
        if self.factor is None:
            return {}
        steady = max(1, int(steady * self.factor))
        now = self.clock()
        minute = int(now // 60)
        window = self._windows.get((account, operation_id)) if account is not None else None
        used = window.in_minute if window is not None and window.minute == minute else 0
        return {
            "RateLimit-Limit": str(steady),
            "RateLimit-Remaining": str(max(0, steady - used)),
            "RateLimit-Reset": str(max(1, math.ceil((minute + 1) * 60 - now))),
        }

    def check(self, account: str, operation: Operation) -> dict[str, str]:
        """Count one request; the RateLimit-* headers to send, or Throttled with an integer Retry-After."""
        if self.factor is None:
            return {}
        now = self.clock()
        burst, steady = self.limits(operation)
        window = self._windows.setdefault((account, operation.operation_id), _Window())
        second, minute = int(now), int(now // 60)
        if window.second != second:
            window.second, window.in_second = second, 0
        if window.minute != minute:
            window.minute, window.in_minute, window.peak_second = minute, 0, 0
        minute_reset = max(1, math.ceil((minute + 1) * 60 - now))
        if window.in_minute >= steady or window.in_second >= burst:
            wait = minute_reset if window.in_minute >= steady else max(1, math.ceil(second + 1 - now))
            self.throttled += 1
            raise Throttled(
                Problem(
                    f"Request was throttled. Expected available in {wait} second{'' if wait == 1 else 's'}.",
                    pointer="/data/",
                ),
                headers={"Retry-After": str(wait)},
            )
        window.in_second += 1
        window.in_minute += 1
        window.peak_second = max(window.peak_second, window.in_second)
        return {
            "RateLimit-Limit": str(steady),
            "RateLimit-Remaining": str(steady - window.in_minute),
            "RateLimit-Reset": str(minute_reset),
        }
