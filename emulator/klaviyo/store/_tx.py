"""One request's transaction, as the handlers of the fake Klaviyo use it: named statements, no SQL outside.

``Store.writing()`` opens it; the request is logged in it too (``log_request``), so a request's effects and its
log line are committed together. Rows are ``sqlite3.Row``, read by column name. Every method takes the account:
nothing reads across accounts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from ._database import dumps
from ._log import RequestLog

#: A profile identifier (as the API names it) and the column that holds it.
_IDENTIFIER_COLUMNS = {
    "email": "email",
    "phone_number": "phone_number",
    "external_id": "external_id",
    "anonymous_id": "anonymous_id",
    "_kx": "kx",
}
#: A stored row as the handlers read it, by column name: as SQLite returned it, or as the store just wrote it.
Row = sqlite3.Row | dict[str, Any]
#: The profile columns ``insert_profile`` writes, in order; and every profile column.
_IDENTIFIER_COLUMN_NAMES = tuple(_IDENTIFIER_COLUMNS.values())
_PROFILE_WRITTEN = ("account", "id", *_IDENTIFIER_COLUMN_NAMES, "doc", "created", "updated")
_PROFILE_COLUMNS = (*_PROFILE_WRITTEN, "last_event_date")
#: The identifiers with an index of their own (schema): looked up together in one statement.
_INDEXED = frozenset({"email", "phone_number", "external_id"})


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class Tx(RequestLog):
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

    def profiles_holding(self, account: str, identifiers: dict[str, Any]) -> dict[str, sqlite3.Row]:
        """For each identifier given (name -> value, as ``profile_holding`` takes them), the first created profile
        that holds it, if any: the indexed ones (email, phone, external id) in one statement."""
        indexed = {
            name: value
            for name, value in identifiers.items()
            if name in _INDEXED and isinstance(value, str)  # SQL compares a number to text as text
        }
        found: dict[str, sqlite3.Row] = {}
        if indexed:
            terms = " OR ".join(f"(account = ? AND {_IDENTIFIER_COLUMNS[name]} = ?)" for name in indexed)
            args = [item for value in indexed.values() for item in (account, value)]
            rows = self._all(f"SELECT * FROM profiles WHERE {terms} ORDER BY created, rowid", args)
            for name, value in indexed.items():
                column = _IDENTIFIER_COLUMNS[name]
                row = next((row for row in rows if row[column] == value), None)
                if row is not None:
                    found[name] = row
        for name, value in identifiers.items():
            if name not in indexed:
                row = self.profile_holding(account, name, value)
                if row is not None:
                    found[name] = row
        return found

    def other_profile_holding(self, account: str, identifier: str, value: Any, profile_id: str) -> str | None:
        """The id of a profile other than ``profile_id`` whose ``identifier`` is ``value``, if any."""
        column = _IDENTIFIER_COLUMNS[identifier]
        row = self._one(
            f"SELECT id FROM profiles WHERE account = ? AND {column} = ? AND id != ?",
            (account, value, profile_id),
        )
        return None if row is None else str(row["id"])

    def insert_profile(self, account: str, profile_id: str, doc: dict[str, Any], now: float) -> Row:
        """A new profile; its identifier columns are taken from ``doc``. Returns the row as stored."""
        values = (account, profile_id, *self._identifiers(doc), dumps(doc), now, now)
        row = dict(zip(_PROFILE_WRITTEN, values, strict=True))
        self._conn.execute(
            "INSERT INTO profiles (account, id, email, phone_number, external_id, anonymous_id, kx, doc, created,"
            " updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            values,
        )
        row["last_event_date"] = None
        return row

    def update_profile(
        self, account: str, profile_id: str, doc: dict[str, Any], now: float, previous: Row | None = None
    ) -> Row:
        """Replace a profile's document (and the identifier columns taken from it); ``updated`` becomes ``now``.
        Returns the row as stored: ``previous`` (the row before, when the caller has it) saves reading it back."""
        text = dumps(doc)
        identifiers = self._identifiers(doc)
        if previous is not None and previous["id"] != profile_id:
            previous = None
        if previous is not None and [previous[c] for c in _IDENTIFIER_COLUMN_NAMES] == identifiers:
            # The identifiers are as they were: their indexes need not be touched.
            self._conn.execute(
                "UPDATE profiles SET doc = ?, updated = ? WHERE account = ? AND id = ?",
                (text, now, account, profile_id),
            )
        else:
            self._conn.execute(
                "UPDATE profiles SET email = ?, phone_number = ?, external_id = ?, anonymous_id = ?, kx = ?,"
                " doc = ?, updated = ? WHERE account = ? AND id = ?",
                (*identifiers, text, now, account, profile_id),
            )
        if previous is None:
            stored = self.profile(account, profile_id)
            assert stored is not None
            return stored
        row = {name: previous[name] for name in _PROFILE_COLUMNS}
        row.update(zip(_IDENTIFIER_COLUMN_NAMES, identifiers, strict=True), doc=text, updated=now)
        return row

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

    def profiles(self, account: str, holding: tuple[str, Sequence[str]] | None = None) -> list[sqlite3.Row]:
        """The account's profiles by id; with ``holding`` (an identifier as ``profile_holding`` names it, or
        ``id``, and some values), only those whose identifier is one of the values."""
        if holding is None:
            return self._all("SELECT * FROM profiles WHERE account = ? ORDER BY id", (account,))
        name, values = holding
        column = "id" if name == "id" else _IDENTIFIER_COLUMNS[name]
        marks = ", ".join("?" for _ in values)
        return self._all(
            f"SELECT * FROM profiles WHERE account = ? AND {column} IN ({marks}) ORDER BY id",
            (account, *values),
        )

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
    ) -> bool:
        """Store an event unless the account holds one with the same profile, metric and dedupe key (then
        nothing is written: ``duplicate_event`` names it); True when stored."""
        cursor = self._conn.execute(
            "INSERT INTO events (account, id, uuid, metric_id, profile_id, timestamp, properties, value,"
            " value_currency, unique_id, dedupe_key, request_id, received)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (account, profile_id, metric_id, dedupe_key) DO NOTHING",
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
        return cursor.rowcount == 1

    def event(self, account: str, event_id: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM events WHERE account = ? AND id = ?", (account, event_id))

    def events(
        self, account: str, profile_id: str | None = None, metric_id: str | None = None
    ) -> list[sqlite3.Row]:
        """The account's events in the order they were stored; only one profile's, or one metric's, if given."""
        where, args = "account = ?", [account]
        if profile_id is not None:
            where, args = f"{where} AND profile_id = ?", [*args, profile_id]
        if metric_id is not None:
            where, args = f"{where} AND metric_id = ?", [*args, metric_id]
        return self._all(f"SELECT * FROM events WHERE {where} ORDER BY seq", args)

    def events_window(self, account: str, start: int, count: int) -> list[sqlite3.Row]:
        """``count`` of the account's events from the ``start``-th on, in the order they were stored."""
        return self._all(
            "SELECT * FROM events WHERE account = ? ORDER BY seq LIMIT ? OFFSET ?", (account, count, start)
        )

    def count_events(self, account: str) -> int:
        found: int = self._conn.execute(
            "SELECT count(*) FROM events WHERE account = ?", (account,)
        ).fetchone()[0]
        return found

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

    def jobs(self, account: str, kind: str) -> list[sqlite3.Row]:
        """The account's jobs of type ``kind``, oldest first."""
        return self._all(
            "SELECT * FROM jobs WHERE account = ? AND type = ? ORDER BY created, id", (account, kind)
        )

    # -- lists and their members --------------------------------------------------------------------------

    def insert_list(self, account: str, list_id: str, name: str, opt_in_process: str, now: float) -> None:
        self._conn.execute(
            "INSERT INTO lists (account, id, name, opt_in_process, created, updated) VALUES (?, ?, ?, ?, ?, ?)",
            (account, list_id, name, opt_in_process, now, now),
        )

    def list_(self, account: str, list_id: str) -> sqlite3.Row | None:
        return self._one("SELECT * FROM lists WHERE account = ? AND id = ?", (account, list_id))

    def set_list_opt_in(self, account: str, list_id: str, opt_in_process: str, now: float) -> bool:
        """Change a list's opt-in process; False if the account has no such list."""
        cursor = self._conn.execute(
            "UPDATE lists SET opt_in_process = ?, updated = ? WHERE account = ? AND id = ?",
            (opt_in_process, now, account, list_id),
        )
        return cursor.rowcount > 0

    def add_member(self, account: str, list_id: str, profile_id: str, now: float) -> bool:
        """Put a profile on a list (a member keeps the time it joined); True if it was not on it yet."""
        cursor = self._conn.execute(
            "INSERT OR IGNORE INTO list_members (account, list_id, profile_id, joined) VALUES (?, ?, ?, ?)",
            (account, list_id, profile_id, now),
        )
        return cursor.rowcount > 0

    def remove_member(self, account: str, list_id: str, profile_id: str) -> None:
        self._conn.execute(
            "DELETE FROM list_members WHERE account = ? AND list_id = ? AND profile_id = ?",
            (account, list_id, profile_id),
        )

    def members(self, account: str, list_id: str) -> list[sqlite3.Row]:
        """A list's member profiles (every profile column, and ``joined``), in the order they joined."""
        return self._all(
            "SELECT p.*, m.joined AS joined FROM list_members m JOIN profiles p"
            " ON p.account = m.account AND p.id = m.profile_id"
            " WHERE m.account = ? AND m.list_id = ? ORDER BY m.joined, m.rowid",
            (account, list_id),
        )

    def member_count(self, account: str, list_id: str) -> int:
        row = self._one(
            "SELECT count(*) AS n FROM list_members WHERE account = ? AND list_id = ?", (account, list_id)
        )
        return int(row["n"]) if row is not None else 0

    def lists_of(self, account: str, profile_id: str) -> list[sqlite3.Row]:
        """The lists a profile is on, in the order it joined them."""
        return self._all(
            "SELECT l.* FROM list_members m JOIN lists l ON l.account = m.account AND l.id = m.list_id"
            " WHERE m.account = ? AND m.profile_id = ? ORDER BY m.joined, m.rowid",
            (account, profile_id),
        )

    # -- consent: pending double opt-ins and the account's opt-in setting ---------------------------------

    def insert_opt_in(
        self,
        account: str,
        profile_id: str,
        channel: str,
        kind: str,
        list_id: str | None,
        custom_source: str | None,
        now: float,
        request_id: str,
    ) -> None:
        """A double opt-in waiting for the person to confirm (one per profile, channel, kind and list)."""
        self._conn.execute(
            "DELETE FROM opt_ins WHERE account = ? AND profile_id = ? AND channel = ? AND kind = ?"
            " AND list_id IS ?",
            (account, profile_id, channel, kind, list_id),
        )
        self._conn.execute(
            "INSERT INTO opt_ins (account, profile_id, channel, kind, list_id, custom_source, requested,"
            " request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (account, profile_id, channel, kind, list_id, custom_source, now, request_id),
        )

    def opt_ins(self, account: str, profile_id: str | None = None) -> list[sqlite3.Row]:
        """Pending double opt-ins, oldest first: the account's, or one profile's."""
        if profile_id is None:
            return self._all("SELECT * FROM opt_ins WHERE account = ? ORDER BY seq", (account,))
        return self._all(
            "SELECT * FROM opt_ins WHERE account = ? AND profile_id = ? ORDER BY seq", (account, profile_id)
        )

    def delete_opt_ins(self, account: str, profile_id: str, channels: Sequence[str]) -> None:
        """Forget a profile's pending opt-ins on these channels (confirmed, or revoked by an unsubscribe)."""
        marks = ", ".join("?" for _ in channels)
        self._conn.execute(
            f"DELETE FROM opt_ins WHERE account = ? AND profile_id = ? AND channel IN ({marks})",
            (account, profile_id, *channels),
        )

    def account_opt_in(self, account: str) -> str | None:
        """The account's own default opt-in process, if one was set (else the emulator's default applies)."""
        row = self._one("SELECT opt_in_process FROM settings WHERE account = ?", (account,))
        return None if row is None else _text(row["opt_in_process"])

    def set_account_opt_in(self, account: str, opt_in_process: str | None) -> None:
        self._conn.execute(
            "INSERT INTO settings (account, opt_in_process) VALUES (?, ?)"
            " ON CONFLICT (account) DO UPDATE SET opt_in_process = excluded.opt_in_process",
            (account, opt_in_process),
        )
