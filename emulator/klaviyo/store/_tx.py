"""One request's transaction, as the handlers of the fake Klaviyo use it: named statements, no SQL outside.

``Store.writing()`` opens it; the request is logged in it too (``log_request``), so a request's effects and its
log line are committed together. Rows are ``sqlite3.Row``, read by column name. Every method takes the account:
nothing reads across accounts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from contracts.traffic import Observation, RequestRecord

from ..types import Note
from ._database import dumps

#: A profile identifier (as the API names it) and the column that holds it.
_IDENTIFIER_COLUMNS = {
    "email": "email",
    "phone_number": "phone_number",
    "external_id": "external_id",
    "anonymous_id": "anonymous_id",
    "_kx": "kx",
}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class Tx:
    """An open transaction (``Store.writing()``); committed when its block exits cleanly, rolled back if not."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def _one(self, sql: str, args: Sequence[Any]) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._conn.execute(sql, args).fetchone()
        return row

    def _all(self, sql: str, args: Sequence[Any]) -> list[sqlite3.Row]:
        return self._conn.execute(sql, args).fetchall()

    # -- profiles -----------------------------------------------------------------------------------------

    def profile(self, account: str, profile_id: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM profiles WHERE account = ? AND id = ?", (account, profile_id))

    def profile_holding(self, account: str, identifier: str, value: Any) -> sqlite3.Row | None:
        """The first created profile whose ``identifier`` (``email``, ``phone_number``, ``external_id``,
        ``anonymous_id`` or ``_kx``) is ``value``."""
        column = _IDENTIFIER_COLUMNS[identifier]
        return self._one(
            f"SELECT * FROM profiles WHERE account = ? AND {column} = ? ORDER BY created", (account, value)
        )

    def other_profile_holding(self, account: str, identifier: str, value: Any, profile_id: str) -> str | None:
        """The id of a profile other than ``profile_id`` whose ``identifier`` is ``value``, if any."""
        column = _IDENTIFIER_COLUMNS[identifier]
        row = self._one(
            f"SELECT id FROM profiles WHERE account = ? AND {column} = ? AND id != ?",
            (account, value, profile_id),
        )
        return None if row is None else str(row["id"])

    def insert_profile(self, account: str, profile_id: str, doc: dict[str, Any], now: float) -> None:
        """A new profile; its identifier columns are taken from ``doc``."""
        self._conn.execute(
            "INSERT INTO profiles (account, id, email, phone_number, external_id, anonymous_id, kx, doc, created,"
            " updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (account, profile_id, *self._identifiers(doc), dumps(doc), now, now),
        )

    def update_profile(self, account: str, profile_id: str, doc: dict[str, Any], now: float) -> None:
        """Replace a profile's document (and the identifier columns taken from it); ``updated`` becomes ``now``."""
        self._conn.execute(
            "UPDATE profiles SET email = ?, phone_number = ?, external_id = ?, anonymous_id = ?, kx = ?, doc = ?,"
            " updated = ? WHERE account = ? AND id = ?",
            (*self._identifiers(doc), dumps(doc), now, account, profile_id),
        )

    @staticmethod
    def _identifiers(doc: dict[str, Any]) -> list[Any]:
        return [doc.get(name) for name in _IDENTIFIER_COLUMNS]

    def bump_last_event_date(self, account: str, profile_id: str, moment: int) -> None:
        """Move a profile's ``last_event_date`` forward to ``moment`` (never back)."""
        self._conn.execute(
            "UPDATE profiles SET last_event_date = MAX(COALESCE(last_event_date, 0), ?) "
            "WHERE account = ? AND id = ?",
            (moment, account, profile_id),
        )

    def profiles(self, account: str) -> list[sqlite3.Row]:
        """The account's profiles by id."""
        return self._all("SELECT * FROM profiles WHERE account = ? ORDER BY id", (account,))

    # -- metrics ------------------------------------------------------------------------------------------

    def metric_named(
        self, account: str, name: str, now: float, new_id: Callable[[], str]
    ) -> tuple[sqlite3.Row, bool]:
        """The account's metric of that name, created (with the id ``new_id()`` gives) if there is none yet;
        (row, created)."""
        row = self._one("SELECT * FROM metrics WHERE account = ? AND name = ?", (account, name))
        if row is not None:
            return row, False
        self._conn.execute(
            "INSERT INTO metrics (account, id, name, created, updated) VALUES (?, ?, ?, ?, ?)",
            (account, new_id(), name, now, now),
        )
        row = self._one("SELECT * FROM metrics WHERE account = ? AND name = ?", (account, name))
        assert row is not None
        return row, True

    def metric(self, account: str, metric_id: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM metrics WHERE account = ? AND id = ?", (account, metric_id))

    def metrics(self, account: str) -> list[sqlite3.Row]:
        """The account's metrics, oldest first."""
        return self._all("SELECT * FROM metrics WHERE account = ? ORDER BY created, id", (account,))

    # -- events -------------------------------------------------------------------------------------------

    def duplicate_event(
        self, account: str, profile_id: str, metric_id: str, dedupe_key: str
    ) -> sqlite3.Row | None:
        """The stored event (its ``id`` and ``request_id``) with this profile, metric and dedupe key, if any."""
        return self._one(
            "SELECT id, request_id FROM events WHERE account = ? AND profile_id = ? AND metric_id = ?"
            " AND dedupe_key = ?",
            (account, profile_id, metric_id, dedupe_key),
        )

    def insert_event(
        self,
        account: str,
        event_id: str,
        *,
        uuid: str,
        metric_id: str,
        profile_id: str,
        timestamp: int,
        properties: dict[str, Any],
        value: float | None,
        value_currency: str | None,
        unique_id: str | None,
        dedupe_key: str,
        request_id: str,
        received: float,
    ) -> None:
        self._conn.execute(
            "INSERT INTO events (account, id, uuid, metric_id, profile_id, timestamp, properties, value,"
            " value_currency, unique_id, dedupe_key, request_id, received)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                account,
                event_id,
                uuid,
                metric_id,
                profile_id,
                timestamp,
                dumps(properties),
                value,
                value_currency,
                unique_id,
                dedupe_key,
                request_id,
                received,
            ),
        )

    def event(self, account: str, event_id: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM events WHERE account = ? AND id = ?", (account, event_id))

    def events(self, account: str) -> list[sqlite3.Row]:
        """The account's events in the order they were stored."""
        return self._all("SELECT * FROM events WHERE account = ? ORDER BY seq", (account,))

    # -- jobs ---------------------------------------------------------------------------------------------

    def insert_job(self, account: str, job_id: str, kind: str, doc: dict[str, Any], now: float) -> None:
        self._conn.execute(
            "INSERT INTO jobs (account, id, type, doc, created) VALUES (?, ?, ?, ?, ?)",
            (account, job_id, kind, dumps(doc), now),
        )

    def job(self, account: str, job_id: str, kind: str) -> sqlite3.Row | None:
        """The account's job of that id, if it is of type ``kind``."""
        return self._one(
            "SELECT * FROM jobs WHERE account = ? AND id = ? AND type = ?", (account, job_id, kind)
        )

    def update_job(self, account: str, job_id: str, doc: dict[str, Any]) -> None:
        self._conn.execute(
            "UPDATE jobs SET doc = ? WHERE account = ? AND id = ?", (dumps(doc), account, job_id)
        )

    # -- the request log ----------------------------------------------------------------------------------

    def log_request(
        self, record: RequestRecord, observations: Sequence[Observation] = (), notes: Sequence[Note] = ()
    ) -> None:
        """The request's line in the log, its ledger lines and its observations (``Store.log``)."""
        row = record.to_dict()
        row["errors"] = dumps(row["errors"]) if row["errors"] else None
        row["headers"] = dumps(row["headers"]) if row["headers"] else None
        del row["seq"]
        self._conn.execute(
            "INSERT INTO requests (id, account, masked_key, method, path, query, operation, status, duration_ms,"
            " request_body, response_body, errors, fault, received, headers) VALUES (:id, :account, :masked_key,"
            " :method, :path, :query, :operation, :status, :duration_ms, :request_body, :response_body, :errors,"
            " :fault, :received, :headers)",
            row,
        )
        if notes:
            self._conn.executemany(
                "INSERT INTO ledger (account, request_id, kind, reason, subject, details, at) VALUES "
                "(?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        record.account,
                        record.id,
                        n.kind,
                        n.reason,
                        n.subject,
                        dumps(n.details),
                        record.received,
                    )
                    for n in notes
                ],
            )
        if observations and record.account is not None:
            self._conn.executemany(
                "INSERT INTO observations (account, request_id, idx, kind, member, email, phone_number,"
                " profile_id, event_id, outcome, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        record.account,
                        record.id,
                        o.index,
                        o.kind,
                        o.member,
                        _text(o.identifiers.get("email")),
                        _text(o.identifiers.get("phone_number")),
                        o.profile_id,
                        o.event_id,
                        o.outcome,
                        dumps(o.to_dict() | {"request_id": record.id}),
                    )
                    for o in observations
                ],
            )
