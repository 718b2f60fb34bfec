"""The sync's durable outbox: every TRIFFT event is written here before anything is sent, and marked when done.

SQLite (a file with ``--state PATH``, else in memory). A crash or ``kill -9`` at any moment loses nothing: on the
next run, events not marked done are sent again, and Klaviyo's ``unique_id`` dedupe and profile-import's upsert
make a resend harmless. A TRIFFT event delivered twice (same ``event_id``) is stored once.

An outbox knows its target: the base URL and the account (a hash of the API key, never the key) it was first
used with. Its "done" marks and remembered Klaviyo ids mean something only there, so ``bind`` refuses another
target unless asked to re-target.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson

from .errors import TargetMismatch

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE, member_id TEXT NOT NULL,
    sequence INTEGER NOT NULL, kind TEXT NOT NULL, event TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0, outcome TEXT);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (status, member_id, sequence, seq);
CREATE TABLE IF NOT EXISTS klaviyo_ids (member_id TEXT PRIMARY KEY, profile_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS dead_letters (
    event_id TEXT PRIMARY KEY, member_id TEXT NOT NULL, kind TEXT NOT NULL, reason TEXT NOT NULL,
    request TEXT, response TEXT, event TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS target (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def encode(value: Any) -> bytes:
    """Compact JSON, UTF-8 as is: orjson, several times faster on the hot path (storing events, request bodies);
    the standard library for what orjson refuses (an integer past 64 bits, which an event may hold). NaN and
    infinity, which JSON cannot say, never get this far from a file: the event reader refuses them
    (``contracts.parse_json``), where orjson would quietly write null. Read back with ``json.loads``: orjson would
    read a long integer as a float."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def account_of(api_key: str) -> str:
    """The account an API key opens, as a stable hash: what an outbox keeps instead of the key.

    The same sha256 prefix the emulator uses for its accounts, so the two name an account alike.
    """
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Pending:
    event_id: str
    member_id: str
    sequence: int
    kind: str
    event: dict[str, Any]


@dataclass(frozen=True)
class DeadLetter:
    """An event the sync gave up on, with what a person needs to act on it."""

    event_id: str
    member_id: str
    kind: str
    reason: str
    request: dict[str, Any] | None  # the request line refused (method, path); None when nothing could be sent
    response: Any  # Klaviyo's answer (parsed JSON), None when nothing was sent
    event: dict[str, Any]  # the TRIFFT event as received


class Outbox:
    def __init__(self, path: str | None = None) -> None:
        self.path = path or ":memory:"
        self._lock = threading.RLock()
        self._ids: dict[str, str] = {}  # Klaviyo ids known to be stored (this outbox is their only writer)
        self._unknown: set[str] = set()  # members known to have no Klaviyo id stored
        #: Events added since the last ``pending``, with the text stored: ``pending`` hands them out undecoded.
        self._added: dict[str, tuple[str, dict[str, Any]]] = {}
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        if path:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(SCHEMA)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
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

    def add(self, events: list[dict[str, Any]]) -> int:
        """Store events durably; returns how many were new (a repeated event_id is ignored)."""
        rows = [
            (e["event_id"], e["member"]["id"], e["sequence"], e["kind"], encode(e).decode()) for e in events
        ]
        with self._transaction() as tx:
            before = tx.total_changes
            tx.executemany(
                "INSERT OR IGNORE INTO outbox (event_id, member_id, sequence, kind, event) VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            added = tx.total_changes - before
        for row, event in zip(rows, events, strict=True):
            self._added.setdefault(row[0], (row[4], event))
        return added

    def pending(self) -> dict[str, list[Pending]]:
        """Events not done yet, per member, in TRIFFT order (sequence, then arrival).

        An event added since the last call is handed out as it was given (when the stored text is the text its
        ``add`` wrote, so the first of repeated event ids wins as in the table), the others decoded from the table.
        """
        by_member: dict[str, list[Pending]] = {}
        with self._transaction() as tx:
            rows = tx.execute(
                "SELECT event_id, member_id, sequence, kind, event FROM outbox WHERE status = 'pending'"
                " ORDER BY member_id, sequence, seq"
            ).fetchall()
        added, self._added = self._added, {}
        for event_id, member_id, sequence, kind, text in rows:
            given = added.get(event_id)
            event = given[1] if given is not None and given[0] == text else json.loads(text)
            by_member.setdefault(member_id, []).append(Pending(event_id, member_id, sequence, kind, event))
        return by_member

    def finish(
        self, event_ids: Sequence[str], status: str, attempts: int, outcome: str | None = None
    ) -> None:
        """Mark events done (or skipped) in one durable write: a bulk job's thousand events cost one fsync."""
        with self._transaction() as tx:
            tx.executemany(
                "UPDATE outbox SET status = ?, attempts = attempts + ?, outcome = ? WHERE event_id = ?",
                [(status, attempts, outcome, event_id) for event_id in event_ids],
            )

    def finish_all(self, marks: Sequence[tuple[str, str]], attempts: int) -> None:
        """Mark events, each with its status, in one durable write."""
        with self._transaction() as tx:
            tx.executemany(
                "UPDATE outbox SET status = ?, attempts = attempts + ?, outcome = NULL WHERE event_id = ?",
                [(status, attempts, event_id) for event_id, status in marks],
            )

    def dead(
        self, pending: Pending, reason: str, request: Any, response: Any, at: float, attempts: int
    ) -> None:
        with self._transaction() as tx:
            tx.execute(
                "INSERT OR REPLACE INTO dead_letters (event_id, member_id, kind, reason, request, response,"
                " event, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    pending.event_id,
                    pending.member_id,
                    pending.kind,
                    reason,
                    json.dumps(request),
                    json.dumps(response),
                    json.dumps(pending.event),
                    at,
                ),
            )
            tx.execute(
                "UPDATE outbox SET status = 'dead', attempts = attempts + ?, outcome = ? WHERE event_id = ?",
                (attempts, reason, pending.event_id),
            )

    def dead_letters(self) -> list[DeadLetter]:
        """Each dead letter, oldest first: the event, why, and what was sent and answered."""
        with self._transaction() as tx:
            rows = tx.execute(
                "SELECT event_id, member_id, kind, reason, request, response, event FROM dead_letters"
                " ORDER BY at"
            ).fetchall()
        return [
            DeadLetter(
                event_id=r[0],
                member_id=r[1],
                kind=r[2],
                reason=r[3],
                request=json.loads(r[4]),
                response=json.loads(r[5]),
                event=json.loads(r[6]),
            )
            for r in rows
        ]

    def klaviyo_id(self, member_id: str) -> str | None:
        if (known := self._ids.get(member_id)) is not None or member_id in self._unknown:
            return known
        with self._lock:
            row = self._conn.execute(
                "SELECT profile_id FROM klaviyo_ids WHERE member_id = ?", (member_id,)
            ).fetchone()
        if row is None:
            self._unknown.add(member_id)
            return None
        self._ids[member_id] = str(row[0])
        return str(row[0])

    def remember(self, member_id: str, profile_id: str) -> None:
        self.remember_all({member_id: profile_id})

    def remember_all(self, profile_ids: dict[str, str]) -> None:
        """Store Klaviyo ids of members in one durable write (a batched look-up's hundred cost one fsync)."""
        with self._transaction() as tx:
            tx.executemany(
                "INSERT OR REPLACE INTO klaviyo_ids (member_id, profile_id) VALUES (?, ?)",
                list(profile_ids.items()),
            )
        self._ids.update(profile_ids)
        self._unknown.difference_update(profile_ids)

    def target(self) -> tuple[str, str] | None:
        """The base URL and account this outbox was used with; None for a new one (or one from before targets)."""
        with self._lock:
            rows = dict(self._conn.execute("SELECT name, value FROM target").fetchall())
        return (rows["base_url"], rows["account"]) if "base_url" in rows and "account" in rows else None

    def bind(self, base_url: str, account: str, retarget: bool = False) -> tuple[str, str] | None:
        """Tie the outbox to a target; the target it had when ``retarget`` moved it, else None.

        TargetMismatch when it was used with another base URL or account and ``retarget`` is False. Moving to
        another account forgets the Klaviyo ids learnt in the old one: they name nothing in the new one.
        """
        kept, asked = self.target(), (base_url, account)
        if kept == asked:
            return None
        if kept is not None and not retarget:
            raise TargetMismatch(self.path, kept, asked)
        with self._transaction() as tx:
            tx.executemany(
                "INSERT OR REPLACE INTO target (name, value) VALUES (?, ?)",
                [("base_url", base_url), ("account", account)],
            )
            if kept is not None and kept[1] != account:
                tx.execute("DELETE FROM klaviyo_ids")
                self._ids.clear()
                self._unknown.clear()
        return kept

    def status(self, event_id: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT status FROM outbox WHERE event_id = ?", (event_id,)).fetchone()
        return None if row is None else str(row[0])

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall()
        return {status: count for status, count in rows}


class GroupCommit:
    """The done marks of many members' workers, written together, one durable write at a time.

    Each caller waits until the write holding its marks has committed, so nothing a member sends next goes out
    before its mark is durable, exactly as with a write of its own. A file's write (its fsync) is made in a thread,
    the other members' requests going on meanwhile; the marks handed in while it is on its way share the next
    write. An outbox in memory is written in the loop, the marks of one turn together. A caller cancelled while
    waiting leaves its marks to be written; ``drain`` returns once every mark handed in is written.
    """

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.writes = 0
        self._marks: list[tuple[str, str]] = []
        self._next: asyncio.Future[None] | None = None
        self._writer: asyncio.Task[None] | None = None

    async def finish(self, event_ids: Sequence[str], status: str) -> None:
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
        written = self._next
        self._marks += [(event_id, status) for event_id in event_ids]
        if self._writer is None:
            self._writer = asyncio.create_task(self._write())
        await asyncio.shield(written)

    async def drain(self) -> None:
        if self._writer is not None:
            await asyncio.shield(self._writer)

    async def _write(self) -> None:
        try:
            while self._next is not None:
                marks, written = self._marks, self._next
                self._marks, self._next = [], None
                try:
                    if self.outbox.path == ":memory:":  # no fsync to wait for: a thread would only add a hop
                        self.outbox.finish_all(marks, 1)
                    else:
                        await asyncio.to_thread(self.outbox.finish_all, marks, 1)
                except Exception as error:
                    written.set_exception(error)
                else:
                    self.writes += 1
                    written.set_result(None)
        finally:
            self._writer = None
