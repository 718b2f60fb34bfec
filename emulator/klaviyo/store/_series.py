"""Counting what was received over time, for the dashboard's charts: requests by status class and stored events
by metric, in equal buckets of arrival time (``received``, the emulator's clock).

``account=None`` means every account. A bucket ``i`` holds what arrived from ``start + i * width`` up to (not
including) the next; what arrived outside ``count`` buckets is not counted.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from typing import Any

#: A request's status class, as the charts colour it: an injected fault first (whatever status it answered),
#: then 429 (the rate limiter's), other 4xx, a 5xx the emulator answered without a fault, and the rest (2xx).
STATUS_CLASSES = ("2xx", "4xx", "429", "5xx", "fault")
_CLASS = (
    "CASE WHEN fault IS NOT NULL THEN 'fault' WHEN status = 429 THEN '429' WHEN status >= 500 THEN '5xx'"
    " WHEN status >= 400 THEN '4xx' ELSE '2xx' END"
)


def _where(account: str | None, column: str) -> tuple[str, list[Any]]:
    return (f"{column} = ?", [account]) if account else ("1", [])


class Series:
    """The store's counts over time; mixed into ``Store``, which provides ``transaction()``."""

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def first_received(self, account: str | None) -> float | None:
        """When the account's (or any account's) first request arrived, or None before any."""
        where, args = _where(account, "account")
        with self.transaction() as tx:
            found = tx.execute(f"SELECT min(received) FROM requests WHERE {where}", args).fetchone()[0]
        return float(found) if found is not None else None

    def request_series(
        self, account: str | None, start: float, width: float, count: int
    ) -> dict[str, list[int]]:
        """Requests per bucket for each of ``STATUS_CLASSES``."""
        where, args = _where(account, "account")
        series = {name: [0] * count for name in STATUS_CLASSES}
        sql = (
            f"SELECT CAST((received - ?) / ? AS INTEGER) AS bucket, {_CLASS} AS class, count(*) AS n"
            f" FROM requests WHERE {where} AND received >= ? AND received < ? GROUP BY bucket, class"
        )
        with self.transaction() as tx:
            for row in tx.execute(sql, (start, width, *args, start, start + width * count)):
                if 0 <= row["bucket"] < count:
                    series[row["class"]][row["bucket"]] += row["n"]
        return series

    def event_series(
        self, account: str | None, start: float, width: float, count: int
    ) -> list[dict[str, Any]]:
        """Stored events per bucket for each account's metric that had any, most events first:
        ``{"account", "metric", "total", "counts"}``."""
        where, args = _where(account, "e.account")
        sql = (
            "SELECT e.account, m.name AS metric, CAST((e.received - ?) / ? AS INTEGER) AS bucket, count(*) AS n"
            " FROM events e JOIN metrics m ON m.account = e.account AND m.id = e.metric_id"
            f" WHERE {where} AND e.received >= ? AND e.received < ? GROUP BY e.account, m.name, bucket"
        )
        found: dict[tuple[str, str], list[int]] = {}
        with self.transaction() as tx:
            for row in tx.execute(sql, (start, width, *args, start, start + width * count)):
                counts = found.setdefault((row["account"], row["metric"]), [0] * count)
                if 0 <= row["bucket"] < count:
                    counts[row["bucket"]] += row["n"]
        ranked = sorted(found.items(), key=lambda item: (-sum(item[1]), item[0][1], item[0][0]))
        return [
            {"account": account_, "metric": metric, "total": sum(counts), "counts": counts}
            for (account_, metric), counts in ranked
        ]
