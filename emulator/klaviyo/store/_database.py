"""The SQLite connection every part of the store shares: one connection, one lock, one way in (``transaction``).

In memory by default; with a file path, each transaction is committed (WAL, ``synchronous=FULL``) before it
returns, so a response sent after it survives a restart or a ``kill -9``.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from ._schema import ADDED_COLUMNS, SCHEMA


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


def display_key(api_key: str) -> str:
    """``pk_…ef01``: how the dashboard names an account; computed when the account is opened, the key never kept.

    The first three and the last four characters, when that is at most a third of the key (keys of 21 characters
    or more, so every real Klaviyo key). A shorter test key shows less, and the end goes first: test keys differ
    at their end (``pk_test_1``, ``pk_test_2``), so a 9-character key shows ``…t_1``, a 19-character one
    ``pk…0001``, and a key under three characters only ``…``.
    """
    shown = len(api_key) // 3
    back = min(4, shown)
    front = min(3, shown - back)
    return f"{api_key[:front]}…{api_key[len(api_key) - back :] if back else ''}"


def dumps(value: Any) -> str:
    """Compact JSON text, UTF-8 as is. orjson, several times faster on the hot path; the standard library for
    what orjson refuses (an integer past 64 bits, which a body may hold)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Database:
    """A SQLite database and a lock; ``transaction()`` is the only way to touch it."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or ":memory:"
        self._opened: set[str] = set()  # accounts known to be listed, so opening them again writes nothing
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        if path:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(SCHEMA)
        for table, column, kind in ADDED_COLUMNS:
            if column not in {row["name"] for row in self._conn.execute(f"PRAGMA table_info({table})")}:
                self._conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

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
