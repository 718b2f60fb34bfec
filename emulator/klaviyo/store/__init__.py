"""The emulator's state, in SQLite: one store behind the API, the control endpoints, the dashboard and the test
fixtures. All SQL lives in this package.

In memory by default; with a file path, each request's writes are committed (WAL, ``synchronous=FULL``)
before its response is sent, so a 2xx survives a restart or a ``kill -9``: requests that arrive together share
one commit (``serving()``, ``durable()``). Every API key is its own account:
rows carry the account id, and nothing reads across accounts.

- ``_schema``: the tables. ``_database``: the connection, the lock and ``transaction()``.
- ``_tx``: ``Tx``, one request's transaction as the API's handlers use it (``Store.writing()``): the profile,
  metric, event and job statements they need, each a named method; ``_log``: the request log's inserts, which
  ``Tx`` makes in the same transaction.
- ``Store`` (here): accounts and their labels, the request log with its ledger and observations, reset, export
  and import.
- ``_inspect``: reading what was received (request log, ledger, observations, the dashboard's pages).
- ``_series``: counting what was received over time (the dashboard's charts).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from contracts.traffic import Observation, RequestRecord

from ..types import LedgerEntry, Note
from ._database import Database, account_id, display_key, dumps, mask, read_doc
from ._inspect import REQUEST_FILTERS, Inspection, Member, Page, loads, profile_name
from ._schema import ACCOUNT_TABLES
from ._series import STATUS_CLASSES, Series
from ._tx import Row, Tx

__all__ = [
    "ACCOUNT_TABLES",
    "REQUEST_FILTERS",
    "STATUS_CLASSES",
    "LedgerEntry",
    "Member",
    "Page",
    "Row",
    "Store",
    "Tx",
    "account_id",
    "display_key",
    "dumps",
    "loads",
    "mask",
    "profile_name",
    "read_doc",
]


class Store(Database, Inspection, Series):
    """The emulator's database: ``writing()`` for the API's handlers, methods for everything else."""

    @contextmanager
    def writing(self) -> Iterator[Tx]:
        """A request handler's transaction: ``transaction()`` behind the named statements of ``Tx``."""
        with self.transaction() as conn:
            yield Tx(conn)

    @contextmanager
    def serving(self) -> Iterator[Tx]:
        """An API request's writes: ``grouped()`` (group commit with a file; ``await durable()`` before
        answering) behind the named statements of ``Tx``."""
        with self.grouped() as conn:
            yield Tx(conn)

    def log(
        self,
        record: RequestRecord,
        observations: Sequence[Observation] = (),
        notes: Sequence[Note] = (),
        tx: Tx | None = None,
        grouped: bool = False,
    ) -> None:
        """Log one request with what it carried and the ledger lines it caused, in ``tx`` or, with ``grouped``,
        a ``serving()`` of its own (else a transaction). ``record.seq`` is ignored: the log numbers requests as
        they are written."""
        if tx is None:
            with self.serving() if grouped else self.writing() as own:
                own.log_request(record, observations, notes)
            return
        tx.log_request(record, observations, notes)

    def open_account(self, api_key: str, now: float) -> str:
        """The key's account, listed from now on under its masked key and its display form (``display_key``);
        an account listed before the display form was kept gets it now."""
        account = account_id(api_key)
        if account in self._opened:  # every request opens its account: a write per request saved
            return account
        with self.transaction() as tx:
            tx.execute(
                "INSERT INTO accounts (id, masked_key, created, shown_key) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET shown_key = excluded.shown_key WHERE shown_key IS NULL",
                (account, mask(api_key), now, display_key(api_key)),
            )
        self._opened.add(account)
        return account

    def accounts(self) -> list[dict[str, Any]]:
        """Every account seen: its id, masked key, display form (``shown_key``, the masked key for an account
        imported without its key), label (or None) and when it was opened."""
        with self.transaction() as tx:
            return [
                dict(row)
                for row in tx.execute(
                    "SELECT a.id, a.masked_key, coalesce(a.shown_key, a.masked_key) AS shown_key, l.label,"
                    " a.created FROM accounts a LEFT JOIN labels l ON l.account = a.id ORDER BY a.created"
                )
            ]

    def set_label(self, account: str, label: str | None) -> None:
        """Name an account for people (the dashboard shows it beside the key), or forget its name with None.

        The account need not have been seen yet: a label set at start names it once its first request arrives.
        A reset keeps labels.
        """
        with self.transaction() as tx:
            if label is None:
                tx.execute("DELETE FROM labels WHERE account = ?", (account,))
            else:
                tx.execute(
                    "INSERT INTO labels (account, label) VALUES (?, ?)"
                    " ON CONFLICT (account) DO UPDATE SET label = excluded.label",
                    (account, label),
                )

    def reset(self, account: str | None = None) -> None:
        """Forget everything, or everything of one account."""
        self._opened.clear()
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
                "SELECT masked_key, shown_key, created FROM accounts WHERE id = ?", (account,)
            ).fetchone()
            state: dict[str, Any] = {
                "version": 1,
                "account": account,
                "masked_key": opened["masked_key"] if opened else None,
                "shown_key": opened["shown_key"] if opened else None,
                "created": opened["created"] if opened else None,
            }
            for table in ACCOUNT_TABLES:
                rows = tx.execute(f"SELECT * FROM {table} WHERE account = ? ORDER BY rowid", (account,))
                state[table] = [dict(row) for row in rows]
            return state

    def import_(
        self,
        account: str,
        state: dict[str, Any],
        masked_key: str | None = None,
        shown_key: str | None = None,
    ) -> None:
        """Replace one account's rows with an export (``seq`` columns are renumbered); ValueError if malformed.

        The account is listed again (``GET /_emulator/accounts``) under ``masked_key`` and ``shown_key``, or the
        export's own when it is an export of this very account.
        """
        with self.transaction() as tx:
            if masked_key is None and state.get("account") == account:
                masked_key = state.get("masked_key")
                shown_key = shown_key or state.get("shown_key")
            created = state.get("created")
            tx.execute(
                "INSERT OR IGNORE INTO accounts (id, masked_key, created, shown_key) VALUES (?, ?, ?, ?)",
                (
                    account,
                    str(masked_key or "…"),
                    created if isinstance(created, int | float) else 0,
                    shown_key if isinstance(shown_key, str) else None,
                ),
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
