"""What a handler gets and gives: every endpoint reads parse -> validate -> mutate store -> respond."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

from .query import Query
from .spec import Operation


@dataclass
class Note:
    """A line of the ledger: something Klaviyo did quietly (deduplicated, ignored, merged) and why."""

    kind: str
    reason: str
    subject: str | None
    details: dict[str, Any]


@dataclass
class Context:
    tx: sqlite3.Connection
    account: str
    operation: Operation
    path: dict[str, str]
    query: Query
    body: Any
    now: float
    request_id: str
    base: str  # scheme://host:port, for links
    url: str  # the request URL, for links.self
    notes: list[Note] = field(default_factory=list)

    def note(self, kind: str, reason: str, subject: str | None = None, **details: Any) -> None:
        self.notes.append(Note(kind, reason, subject, details))


@dataclass
class Reply:
    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
