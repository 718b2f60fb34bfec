"""What a handler gets and gives: every endpoint reads parse -> validate -> mutate store -> respond.

A handler says what it did with each part of the body it acted on (``Context.done``: the profile a block
resolved to, the event stored or deduplicated), keyed by the part's JSON pointer as ``contracts.traffic.observe``
names it; the app joins the two into the request's observations. ``Context.note`` adds a line to the ledger.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from contracts.traffic import Outcome

from .query import Query
from .spec import Operation

if TYPE_CHECKING:  # the store imports this module
    from starlette.requests import HTTPConnection

    from .store import Tx


@dataclass
class Note:
    """A line of the ledger: something Klaviyo did quietly (deduplicated, ignored, merged) and why."""

    kind: str
    reason: str
    subject: str | None
    details: dict[str, Any]


@dataclass(frozen=True)
class LedgerEntry:
    """A ledger line as stored: the note, the account and request it belongs to, and when."""

    seq: int
    account: str
    request_id: str
    kind: str
    reason: str
    subject: str | None
    details: dict[str, Any]
    at: float
    request_seq: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Done:
    """What the emulator did with one observed part of a request."""

    outcome: Outcome
    profile_id: str | None = None
    event_id: str | None = None
    reason: str | None = None
    dropped: tuple[str, ...] = ()


@dataclass
class Context:
    tx: Tx
    account: str
    operation: Operation
    path: dict[str, str]
    query: Query
    body: Any
    now: float
    request_id: str
    origin: HTTPConnection  # the request, for its links: read only by a handler that makes some
    opt_in: str = "double_opt_in"  # the emulator's default opt-in process, for an account without its own
    notes: list[Note] = field(default_factory=list)
    outcomes: dict[str, Done] = field(default_factory=dict)  # by the observed part's JSON pointer

    @functools.cached_property
    def base(self) -> str:
        """scheme://host:port, for links."""
        return str(self.origin.base_url).rstrip("/")

    @functools.cached_property
    def url(self) -> str:
        """The request URL, for links.self."""
        return str(self.origin.url)

    def note(self, kind: str, reason: str, subject: str | None = None, **details: Any) -> None:
        self.notes.append(Note(kind, reason, subject, details))

    def done(
        self,
        pointer: str,
        outcome: Outcome,
        profile_id: str | None = None,
        event_id: str | None = None,
        reason: str | None = None,
        dropped: tuple[str, ...] = (),
    ) -> None:
        self.outcomes[pointer] = Done(outcome, profile_id, event_id, reason, dropped)


@dataclass
class Reply:
    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
