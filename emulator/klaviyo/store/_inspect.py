"""Reading what was received: the request log, the ledger and the observations, for the control API, the
dashboard, the verifier's client and tests. Every method reads in one transaction and returns plain values.

``account=None`` means every account. Pages are by ``seq``: ``after`` (oldest first, the control API) or
``before`` (newest first, the dashboard, with the ``total`` that match).
"""

from __future__ import annotations

import json
import math
import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from contracts.traffic import Observation, RequestRecord, Traffic

from ..types import LedgerEntry

#: What the dashboard may filter the request log by.
REQUEST_FILTERS = {
    "": "1",
    "rejected": "status >= 400",
    "problems": "(status = 429 OR fault IS NOT NULL)",
}
TABLES = (
    "profiles",
    "events",
    "metrics",
    "jobs",
    "lists",
    "list_members",
    "opt_ins",
    "settings",
    "ledger",
    "requests",
    "observations",
)


def _number(text: str) -> Any:
    number = float(text)
    return number if math.isfinite(number) else text


def _integer(text: str) -> Any:
    return int(text) if len(text) <= 4000 else text


def loads(text: str | None) -> Any:
    """Stored JSON as values any JSON encoder can write back: numbers a double cannot hold and ``NaN`` stay
    text; ``None`` for text that is not JSON (a refused body may be anything)."""
    if text is None:
        return None
    try:
        return json.loads(text, parse_float=_number, parse_int=_integer, parse_constant=str)
    except (ValueError, RecursionError):
        return None


def _errors(text: str | None) -> list[Any]:
    found = loads(text)
    return found if isinstance(found, list) else []


def _where(account: str | None, column: str = "account") -> tuple[str, list[Any]]:
    return (f"{column} = ?", [account]) if account else ("1", [])


def _record(row: sqlite3.Row) -> RequestRecord:
    values = dict(row)
    values["errors"] = _errors(values.get("errors"))
    headers = loads(values.get("headers"))
    values["headers"] = headers if isinstance(headers, dict) else {}
    return RequestRecord.from_dict(values)


def _ledger(row: sqlite3.Row) -> LedgerEntry:
    values = dict(row)
    details = loads(values.pop("details"))
    return LedgerEntry(**{**values, "details": details if isinstance(details, dict) else {}})


def _observation(row: sqlite3.Row) -> Observation:
    doc = loads(row["doc"])
    return Observation.from_dict({**(doc if isinstance(doc, dict) else {}), "request": row["request_seq"]})


def profile_name(doc: Any) -> dict[str, Any]:
    """A stored profile's ``first_name`` and ``last_name``: Klaviyo's attributes when set, else the custom
    properties of the same names (where TRIFFT's refresh puts them); None where neither is."""
    doc = doc if isinstance(doc, dict) else {}
    properties = doc.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    return {
        part: doc[part] if doc.get(part) not in (None, "") else properties.get(part)
        for part in ("first_name", "last_name")
    }


@dataclass(frozen=True)
class Page:
    """Rows newest first, how many match in all, and the cursor for the next (older) page, if any."""

    rows: list[dict[str, Any]]
    total: int
    older: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"data": self.rows, "total": self.total, "older": self.older}


def _page(rows: list[dict[str, Any]], limit: int, total: int) -> Page:
    shown = rows[:limit]
    return Page(shown, total, shown[-1]["cursor"] if len(rows) > limit else None)


_OBSERVATIONS = (
    "SELECT o.doc, r.seq AS request_seq FROM observations o JOIN requests r ON r.id = o.request_id"
)


class Inspection:
    """The store's read side; mixed into ``Store``, which provides ``transaction()``."""

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _read(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> list[sqlite3.Row]:
        with self.transaction() as tx:
            return list(tx.execute(sql, args))

    # -- the request log, the ledger and the observations, oldest first ------------------------------------

    def requests(
        self, account: str | None, after: int = 0, limit: int | None = None, status: int = 0
    ) -> list[RequestRecord]:
        """The request log from ``after`` on (rejected requests included), ``status`` only if given."""
        where, args = _where(account)
        if status:
            where += " AND status = ?"
            args.append(status)
        sql = f"SELECT * FROM requests WHERE seq > ? AND {where} ORDER BY seq LIMIT ?"
        return [_record(row) for row in self._read(sql, (after, *args, -1 if limit is None else limit))]

    def ledger(self, account: str | None, after: int = 0, limit: int | None = None) -> list[LedgerEntry]:
        where, args = _where(account, "l.account")
        sql = (
            "SELECT l.*, r.seq AS request_seq FROM ledger l LEFT JOIN requests r ON r.id = l.request_id"
            f" WHERE l.seq > ? AND {where} ORDER BY l.seq LIMIT ?"
        )
        return [_ledger(row) for row in self._read(sql, (after, *args, -1 if limit is None else limit))]

    def observations(
        self, account: str | None, after: int = 0, limit: int | None = None
    ) -> list[tuple[int, Observation]]:
        """(cursor, observation) pairs from ``after`` on, in the order they were recorded."""
        where, args = _where(account, "o.account")
        sql = _OBSERVATIONS.replace("SELECT o.doc", "SELECT o.seq, o.doc") + (
            f" WHERE o.seq > ? AND {where} ORDER BY o.seq LIMIT ?"
        )
        rows = self._read(sql, (after, *args, -1 if limit is None else limit))
        return [(row["seq"], _observation(row)) for row in rows]

    def traffic(self, account: str) -> Traffic:
        """Everything one account sent, as the verifier judges it."""
        return Traffic(self.requests(account), [o for _, o in self.observations(account)])

    def rows(self, table: str, account: str) -> list[dict[str, Any]]:
        """An account's raw rows of one table, in the order they were written (for tests and debugging)."""
        if table not in TABLES:
            raise ValueError(f"no table {table!r} (tables: {', '.join(TABLES)})")
        return [dict(row) for row in self._read(f"SELECT * FROM {table} WHERE account = ?", (account,))]

    # -- the dashboard: newest first, with totals ---------------------------------------------------------

    def _newest(
        self,
        source: str,
        columns: str,
        cursor: str,
        where: tuple[str, list[Any]],
        before: int,
        limit: int,
        counted: str | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """The rows of ``source`` that match, newest first by ``cursor`` below ``before`` (``limit`` and one more,
        to know whether an older page exists), and how many match in all (counted in ``counted``, else
        ``source``)."""
        condition, args = where
        with self.transaction() as tx:
            total = tx.execute(
                f"SELECT count(*) FROM {counted or source} WHERE {condition}", args
            ).fetchone()[0]
            rows = tx.execute(
                f"SELECT {cursor} AS cursor, {columns} FROM {source} WHERE {condition} AND {cursor} < ?"
                f" ORDER BY {cursor} DESC LIMIT ?",
                (*args, before, limit + 1),
            )
            return [dict(row) for row in rows], int(total)

    def counts(self, account: str | None) -> dict[str, Any]:
        """Request counts by outcome, the newest request and ledger line, and the numbers of profiles and events."""
        where, args = _where(account)
        with self.transaction() as tx:
            counts = dict(
                tx.execute(
                    "SELECT count(*) AS requests, coalesce(max(seq), 0) AS last_request,"
                    " coalesce(sum(status BETWEEN 400 AND 499), 0) AS rejected,"
                    " coalesce(sum(status = 429), 0) AS throttled,"
                    " coalesce(sum(fault IS NOT NULL), 0) AS faults,"
                    " coalesce(sum(status = 429 OR fault IS NOT NULL), 0) AS problems,"
                    f" coalesce(sum(status >= 500), 0) AS server_errors FROM requests WHERE {where}",
                    args,
                ).fetchone()
            )
            counts["last_ledger"], counts["ledger"] = tx.execute(
                f"SELECT coalesce(max(seq), 0), count(*) FROM ledger WHERE {where}", args
            ).fetchone()
            counts["profiles"] = tx.execute(f"SELECT count(*) FROM profiles WHERE {where}", args).fetchone()[
                0
            ]
            counts["events"] = tx.execute(f"SELECT count(*) FROM events WHERE {where}", args).fetchone()[0]
        return counts

    def account_summaries(self) -> list[dict[str, Any]]:
        """Every account with its display key, label and numbers of profiles, events and requests."""
        sql = (
            "SELECT a.id, a.masked_key, coalesce(a.shown_key, a.masked_key) AS shown_key, a.created,"
            " (SELECT label FROM labels l WHERE l.account = a.id) AS label,"
            " (SELECT count(*) FROM profiles p WHERE p.account = a.id) AS profiles,"
            " (SELECT count(*) FROM events e WHERE e.account = a.id) AS events,"
            " (SELECT count(*) FROM requests r WHERE r.account = a.id) AS requests"
            " FROM accounts a ORDER BY a.created"
        )
        return [dict(row) for row in self._read(sql)]

    def metric_counts(self, account: str | None) -> list[dict[str, Any]]:
        """Each metric with its account and number of events, most used first."""
        where, args = _where(account, "m.account")
        sql = (
            "SELECT m.account, m.id, m.name, count(e.seq) AS events FROM metrics m LEFT JOIN events e"
            f" ON e.account = m.account AND e.metric_id = m.id WHERE {where}"
            " GROUP BY m.account, m.id ORDER BY events DESC, m.name"
        )
        return [dict(row) for row in self._read(sql, args)]

    def search_profiles(self, account: str | None, query: str, before: int, limit: int) -> Page:
        """Profiles whose email, phone, external id or Klaviyo id contains ``query`` (lower case)."""
        where, args = _where(account)
        if query:
            digits = "".join(c for c in query if c not in " -().")
            where += (
                " AND (instr(lower(coalesce(email, '')), ?) OR instr(coalesce(phone_number, ''), ?)"
                " OR instr(lower(coalesce(external_id, '')), ?) OR instr(lower(id), ?))"
            )
            args += [query, digits or query, query, query]
        rows, total = self._newest(
            "profiles p",
            "account, id, email, phone_number, external_id, doc, created, updated,"
            " (SELECT count(*) FROM events e WHERE e.account = p.account AND e.profile_id = p.id) AS events",
            "rowid",
            (where, args),
            before,
            limit,
        )
        for row in rows:
            row.update(profile_name(loads(row.pop("doc"))))
        return _page(rows, limit, total)

    def request_page(self, account: str | None, only: str, before: int, limit: int) -> Page:
        """The request log without bodies, ``only`` one of ``REQUEST_FILTERS``."""
        where, args = _where(account)
        where += f" AND {REQUEST_FILTERS[only]}"
        rows, total = self._newest(
            "requests",
            "seq, id, account, masked_key, method, path, query, operation, status, duration_ms, fault, received,"
            " errors, length(request_body) AS request_bytes",
            "seq",
            (where, args),
            before,
            limit,
        )
        for row in rows:
            row["errors"] = _errors(row["errors"])
        return _page(rows, limit, total)

    def request(self, seq: int) -> tuple[RequestRecord, list[LedgerEntry], list[Observation]] | None:
        """One request with its ledger lines and observations, or None."""
        with self.transaction() as tx:
            row = tx.execute("SELECT * FROM requests WHERE seq = ?", (seq,)).fetchone()
            if row is None:
                return None
            lines = tx.execute(
                "SELECT l.*, ? AS request_seq FROM ledger l WHERE request_id = ? ORDER BY seq",
                (seq, row["id"]),
            ).fetchall()
            seen = tx.execute(
                f"{_OBSERVATIONS} WHERE o.request_id = ? ORDER BY o.seq", (row["id"],)
            ).fetchall()
        return _record(row), [_ledger(line) for line in lines], [_observation(o) for o in seen]

    def ledger_page(self, account: str | None, before: int, limit: int) -> Page:
        where, args = _where(account, "l.account")
        rows, total = self._newest(
            "ledger l LEFT JOIN requests r ON r.id = l.request_id",
            "l.*, r.seq AS request_seq",
            "l.seq",
            (where, args),
            before,
            limit,
            counted="ledger l",
        )
        for row in rows:
            row["details"] = loads(row["details"])
        return _page(rows, limit, total)

    def member(self, account: str | None, profile_id: str) -> Member | None:
        """One profile with everything its timeline is drawn from, or None."""
        where, args = _where(account)
        with self.transaction() as tx:
            row = tx.execute(
                f"SELECT * FROM profiles WHERE {where} AND id = ?", (*args, profile_id)
            ).fetchone()
            if row is None:
                return None
            profile = dict(row)
            mine = (profile["account"], profile["id"])
            events = {
                event["id"]: {**dict(event), "properties": loads(event["properties"])}
                for event in tx.execute(
                    "SELECT e.*, m.name AS metric FROM events e JOIN metrics m"
                    " ON m.account = e.account AND m.id = e.metric_id"
                    " WHERE e.account = ? AND e.profile_id = ? ORDER BY e.seq",
                    mine,
                )
            }
            # What landed on the profile, and what was refused while naming one of its identifiers.
            named = [
                (column, profile[column])
                for column in ("external_id", "email", "phone_number")
                if profile[column] is not None
            ]
            refused = " OR ".join(f"o.{'member' if c == 'external_id' else c} = ?" for c, _ in named)
            seen = tx.execute(
                f"{_OBSERVATIONS}"
                " WHERE o.account = ? AND (o.profile_id = ?"
                + (f" OR (o.outcome = 'rejected' AND ({refused}))" if refused else "")
                + ") ORDER BY r.seq, o.idx",
                (*mine, *(value for _, value in named)),
            ).fetchall()
            requests = {
                r["id"]: _record(r)
                for r in tx.execute(
                    "SELECT seq, id, method, path, status, received, fault, errors, operation FROM requests"
                    " WHERE id IN (SELECT request_id FROM observations WHERE account = ? AND profile_id = ?)"
                    " OR id IN (SELECT request_id FROM ledger WHERE account = ? AND subject = ?)"
                    + (
                        " OR id IN (SELECT o.request_id FROM observations o WHERE o.account = ?"
                        f" AND o.outcome = 'rejected' AND ({refused}))"
                        if refused
                        else ""
                    ),
                    (*mine, *mine, *((profile["account"], *(v for _, v in named)) if refused else ())),
                )
            }
            lines = tx.execute(
                "SELECT l.*, r.seq AS request_seq FROM ledger l LEFT JOIN requests r ON r.id = l.request_id"
                " WHERE l.account = ? AND l.subject = ? ORDER BY l.seq",
                mine,
            ).fetchall()
        return Member(profile, events, [_observation(o) for o in seen], requests, [_ledger(x) for x in lines])


@dataclass(frozen=True)
class Member:
    """One profile's row, its stored events by id, the observations about it (refused ones included) in arrival
    order, the requests they came from by id, and the ledger lines about it."""

    profile: dict[str, Any]
    events: dict[str, dict[str, Any]]
    observations: list[Observation]
    requests: dict[str, RequestRecord]
    ledger: list[LedgerEntry]
