"""The dashboard's charts, as JSON (``GET /_emulator/dashboard/charts``): requests over time by status class,
stored events over time by metric, and each endpoint's use of its rate limits in the current windows.

Time is the emulator's clock (what ``received`` is stamped with), cut into equal buckets whose edges are
multiples of their width, so the bars stand still between polls while the newest one fills. ``range`` is one of
``RANGES`` (the last minute to the last day, 60 buckets each), ``all`` (from the first request, at most about 60
buckets of a round width), or ``auto`` (the default): the shortest range that holds the first request, else all.
"""

from __future__ import annotations

import math
from typing import Any

from emulator.klaviyo import Emulator, spec

#: Ranges by name: (seconds, label). Each is 60 buckets.
RANGES: dict[str, tuple[int, str]] = {
    "1m": (60, "the last minute"),
    "5m": (300, "the last 5 minutes"),
    "15m": (900, "the last 15 minutes"),
    "1h": (3600, "the last hour"),
    "6h": (21600, "the last 6 hours"),
    "1d": (86400, "the last day"),
}
BUCKETS = 60
#: Bucket widths for ``all``, in seconds: round numbers a clock shows well.
_WIDTHS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


def _round_width(seconds: float) -> int:
    for width in _WIDTHS:
        if width >= seconds:
            return width
    return 86400 * math.ceil(seconds / 86400)


def window(asked: str, now: float, first: float | None) -> dict[str, Any]:
    """The buckets to count in: ``{"asked", "name", "label", "start", "width", "count", "now"}``.
    ValueError naming ``range`` when ``asked`` is not a range."""
    if asked not in (*RANGES, "all", "auto"):
        choices = ", ".join((*RANGES, "all", "auto"))
        raise ValueError(f"range must be one of {choices}, not {asked[:40]!r}")
    name = asked
    if asked == "auto":
        name = "all"
        for candidate, (seconds, _) in RANGES.items():
            if first is None or first >= now - seconds + seconds / BUCKETS:
                name = candidate
                break
    if name == "all" and first is not None and first <= now:
        first = min(first, now - BUCKETS)  # at least a minute, so a short run is not one bar
        width = _round_width((now - first) / BUCKETS)
        start = math.floor(first / width) * width
        count = math.floor(now / width) - math.floor(first / width) + 1
        label = "all the traffic"
    else:
        seconds, label = RANGES.get(name, RANGES["1m"])
        width = seconds // BUCKETS
        count = BUCKETS
        start = (math.floor(now / width) + 1 - count) * width
    return {
        "asked": asked,
        "name": name,
        "label": label,
        "start": start,
        "width": width,
        "count": count,
        "now": now,
    }


def _limits(emulator: Emulator, account: str | None) -> dict[str, Any]:
    """Each operation's limits and their use this second (burst), in its busiest second of this minute and in
    this minute (steady). For every account at once, the account nearest a limit stands for the operation."""
    limiter = emulator.limiter
    by_operation: dict[str, list[Any]] = {}
    for used in limiter.usage(account):
        by_operation.setdefault(used.operation, []).append(used)
    rows = []
    for operation in spec.operations():
        burst, steady = limiter.limits(operation)
        users = by_operation.get(operation.operation_id, [])
        busiest = max(users, key=lambda u: max(u.peak_second / burst, u.in_minute / steady), default=None)
        rows.append(
            {
                "operation": operation.operation_id,
                "method": operation.method,
                "path": operation.path,
                "account": busiest.account if busiest else None,
                "burst": {
                    "limit": burst,
                    "now": busiest.in_second if busiest else 0,
                    "peak": busiest.peak_second if busiest else 0,
                },
                "steady": {"limit": steady, "used": busiest.in_minute if busiest else 0},
            }
        )
    return {"mode": limiter.mode, "throttled": limiter.throttled, "rows": rows}


def build(emulator: Emulator, account: str | None, asked: str) -> dict[str, Any]:
    """The charts' data for one account (or all, with None) over the ``asked`` range (see ``window``)."""
    store = emulator.store
    span = window(asked, emulator.clock(), store.first_received(account))
    start, width, count = span["start"], span["width"], span["count"]
    return {
        "account": account,
        "range": span,
        "requests": store.request_series(account, start, width, count),
        "events": store.event_series(account, start, width, count),
        "limits": _limits(emulator, account),
    }
