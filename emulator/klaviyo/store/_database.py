"""The SQLite connection every part of the store shares: one connection, one lock, two ways in.

``transaction()``: in memory by default; with a file path, committed (WAL, ``synchronous=FULL``) before it
returns. ``grouped()``, the API's requests on the event loop: with a file, group commit. Requests that arrive
together share one transaction (and one fsync), each under its own SAVEPOINT, so a request that fails rolls back
only its own writes; the transaction is committed on the loop's next turn (or sooner, by any ``transaction()``,
which always starts from committed state), and ``durable()`` waits for that commit: a response sent after it
survives a restart or a ``kill -9``. In memory the requests of a turn share a transaction too (a COMMIT costs about
14 µs without any disk), committed on the loop itself at its next turn; there is nothing to wait for, so
``durable()`` returns at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from ._schema import ADDED_COLUMNS, SCHEMA

log = logging.getLogger("trifft_klaviyo.emulator")


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


#: An integer of 19 digits or more: orjson reads one past 64 bits as a float, so such a text is read by ``json``.
_LONG_INTEGER = re.compile(r"[0-9]{19}")


def read_doc(text: str) -> Any:
    """Stored JSON (``dumps``) back as the values that were stored: orjson for the common text, the standard
    library where orjson would differ (an integer past 64 bits)."""
    if _LONG_INTEGER.search(text) is None:
        return orjson.loads(text)
    return json.loads(text)


def dumps(value: Any) -> str:
    """Compact JSON text, UTF-8 as is. orjson, several times faster on the hot path; the standard library for
    what orjson refuses (an integer past 64 bits, which a body may hold)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _settle(batch: asyncio.Future[None], error: BaseException | None) -> None:
    """Resolve a batch's future on its own loop, from whichever thread committed it."""

    def settle() -> None:
        if batch.done():
            return
        if error is None:
            batch.set_result(None)
        else:
            batch.set_exception(error)

    loop = batch.get_loop()
    try:
        here = asyncio.get_running_loop()
    except RuntimeError:
        here = None
    if here is loop:
        settle()
        return
    with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
        loop.call_soon_threadsafe(settle)


class Database:
    """A SQLite database and a lock; ``transaction()`` and ``grouped()`` are the only ways to touch it."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or ":memory:"
        self._opened: set[str] = set()  # accounts known to be listed, so opening them again writes nothing
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._durable = bool(path)  # a commit that costs an fsync: made off the loop, and waited for
        self._batch: asyncio.Future[None] | None = None  # the open shared transaction, resolved at its COMMIT
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
            if self._batch is not None:
                self._commit_batch()  # reads see, and writes follow, only committed state
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextmanager
    def grouped(self) -> Iterator[sqlite3.Connection]:
        """One request's writes in the shared transaction, under a SAVEPOINT: undone alone if the block raises.

        Not durable when the block exits: ``await durable()`` before answering. Off the event loop this is
        ``transaction()``.
        """
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            with self.transaction() as conn:
                yield conn
            return
        with self._lock:
            if self._batch is None:
                self._conn.execute("BEGIN IMMEDIATE")
                self._batch = loop.create_future()
                # The loop's next turn: the requests handled in this one (a burst) share the commit, made on a
                # worker thread so that the loop parses and checks the next requests during its fsync.
                if self._durable:
                    loop.call_soon(loop.run_in_executor, None, self._commit_batch)
                else:
                    loop.call_soon(self._commit_batch)
            self._conn.execute("SAVEPOINT request")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK TO request")
                self._conn.execute("RELEASE request")
                raise
            self._conn.execute("RELEASE request")

    async def durable(self) -> None:
        """Wait until every write made so far by ``grouped()`` is committed; raises if that commit failed."""
        batch = self._batch
        if batch is not None and self._durable:
            await asyncio.shield(batch)

    def _commit_batch(self) -> None:
        """Commit the shared transaction, if one is open, and tell the requests waiting on it."""
        with self._lock:
            batch, self._batch = self._batch, None
            if batch is None:
                return
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as error:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                if not self._durable:  # nobody waits in memory: say it, at least
                    log.error("the in-memory store could not commit the last requests' writes: %s", error)
                    batch.cancel()
                    return
                _settle(batch, error)
                return
            _settle(batch, None)

    def close(self) -> None:
        with self._lock:
            if self._batch is not None:
                self._commit_batch()
            self._conn.close()
