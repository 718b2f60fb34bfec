"""The emulator's state, in SQLite: one store behind the API, the control endpoints and the test fixtures.

In memory by default; with a file path, each request's writes are committed (WAL, ``synchronous=FULL``)
before its response is sent, so a 2xx survives a restart or a ``kill -9``. Every API key is its own account:
rows carry the account id, and nothing reads across accounts.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY, masked_key TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS profiles (
    account TEXT NOT NULL, id TEXT NOT NULL, email TEXT, phone_number TEXT, external_id TEXT,
    anonymous_id TEXT, kx TEXT, doc TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL,
    last_event_date REAL, PRIMARY KEY (account, id));
CREATE INDEX IF NOT EXISTS profiles_email ON profiles (account, email);
CREATE INDEX IF NOT EXISTS profiles_phone ON profiles (account, phone_number);
CREATE INDEX IF NOT EXISTS profiles_external ON profiles (account, external_id);
CREATE TABLE IF NOT EXISTS metrics (
    account TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL,
    PRIMARY KEY (account, id), UNIQUE (account, name));
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL, id TEXT NOT NULL, uuid TEXT NOT NULL,
    metric_id TEXT NOT NULL, profile_id TEXT NOT NULL, timestamp INTEGER NOT NULL, properties TEXT NOT NULL,
    value REAL, value_currency TEXT, unique_id TEXT, dedupe_key TEXT NOT NULL, request_id TEXT,
    received REAL NOT NULL, UNIQUE (account, profile_id, metric_id, dedupe_key));
CREATE INDEX IF NOT EXISTS events_id ON events (account, id);
CREATE TABLE IF NOT EXISTS jobs (
    account TEXT NOT NULL, id TEXT NOT NULL, type TEXT NOT NULL, doc TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (account, id));
CREATE TABLE IF NOT EXISTS requests (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, account TEXT, masked_key TEXT,
    method TEXT NOT NULL, path TEXT NOT NULL, query TEXT NOT NULL, operation TEXT, status INTEGER NOT NULL,
    duration_ms REAL NOT NULL, request_body TEXT, response_body TEXT, errors TEXT, fault TEXT,
    received REAL NOT NULL);
CREATE INDEX IF NOT EXISTS requests_account ON requests (account, seq);
CREATE TABLE IF NOT EXISTS ledger (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL, request_id TEXT NOT NULL,
    kind TEXT NOT NULL, reason TEXT NOT NULL, subject TEXT, details TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS ledger_account ON ledger (account, seq);
"""

#: Tables that belong to an account, in the order an export lists them.
ACCOUNT_TABLES = ("profiles", "metrics", "events", "jobs", "requests", "ledger")


def account_id(api_key: str) -> str:
    """The account an API key opens: a stable hash, so the key itself is never stored."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


def mask(api_key: str) -> str:
    """``pk_abc…wxyz``: enough to tell keys apart, never enough to use one.

    At most a third of the key is shown (six characters in front, four at the end for a real 37-character key),
    so a short test key is not given away by its first six and last four.
    """
    shown = len(api_key) // 3
    back = min(4, shown // 2)
    front = min(6, shown - back)
    return f"{api_key[:front]}…{api_key[len(api_key) - back :]}"


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Store:
    """A SQLite database and a lock; ``transaction()`` is the only way to touch it."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or ":memory:"
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        if path:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(SCHEMA)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit of work; committed (durably, with a file) when the block exits cleanly."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def open_account(self, api_key: str, now: float) -> str:
        account = account_id(api_key)
        with self.transaction() as tx:
            tx.execute(
                "INSERT OR IGNORE INTO accounts (id, masked_key, created) VALUES (?, ?, ?)",
                (account, mask(api_key), now),
            )
        return account

    def accounts(self) -> list[dict[str, Any]]:
        with self.transaction() as tx:
            return [
                dict(row)
                for row in tx.execute("SELECT id, masked_key, created FROM accounts ORDER BY created")
            ]

    def reset(self, account: str | None = None) -> None:
        """Forget everything, or everything of one account."""
        with self.transaction() as tx:
            for table in (*ACCOUNT_TABLES, "accounts"):
                column = "id" if table == "accounts" else "account"
                if account is None:
                    tx.execute(f"DELETE FROM {table}")
                else:
                    tx.execute(f"DELETE FROM {table} WHERE {column} = ?", (account,))

    def export(self, account: str) -> dict[str, Any]:
        """Every row of one account, as JSON-ready dicts keyed by table."""
        with self.transaction() as tx:
            opened = tx.execute(
                "SELECT masked_key, created FROM accounts WHERE id = ?", (account,)
            ).fetchone()
            state: dict[str, Any] = {
                "version": 1,
                "account": account,
                "masked_key": opened["masked_key"] if opened else None,
                "created": opened["created"] if opened else None,
            }
            for table in ACCOUNT_TABLES:
                rows = tx.execute(f"SELECT * FROM {table} WHERE account = ? ORDER BY rowid", (account,))
                state[table] = [dict(row) for row in rows]
            return state

    def import_(self, account: str, state: dict[str, Any], masked_key: str | None = None) -> None:
        """Replace one account's rows with an export (``seq`` columns are renumbered); ValueError if malformed.

        The account is listed again (``GET /_emulator/accounts``) under ``masked_key``, or the export's own when
        it is an export of this very account.
        """
        with self.transaction() as tx:
            if masked_key is None and state.get("account") == account:
                masked_key = state.get("masked_key")
            created = state.get("created")
            tx.execute(
                "INSERT OR IGNORE INTO accounts (id, masked_key, created) VALUES (?, ?, ?)",
                (account, str(masked_key or "…"), created if isinstance(created, int | float) else 0),
            )
            for table in ACCOUNT_TABLES:
                # Column names go into the SQL text, so only the table's own are allowed through.
                known = {row["name"] for row in tx.execute(f"PRAGMA table_info({table})")}
                rows = state.get(table, [])
                if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
                    raise ValueError(f"{table} must be a list of rows (JSON objects)")
                tx.execute(f"DELETE FROM {table} WHERE account = ?", (account,))
                for row in rows:
                    unknown = sorted(set(row) - known)
                    if unknown:
                        raise ValueError(f"{table} has no column {unknown[0]!r}")
                    row = {k: v for k, v in row.items() if k != "seq"} | {"account": account}
                    columns = ", ".join(row)
                    marks = ", ".join("?" for _ in row)
                    tx.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(row.values()))
