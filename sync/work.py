"""A member's events as its worker goes through them, each mapped when first looked at.

Mapping waits until the worker reaches an event rather than running over the whole outbox before the first request:
the first requests go out at once, and mapping runs while the sync waits on Klaviyo's answers and limits. A kind
that carries a Klaviyo id is mapped again once the id has been looked up (``remap``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .mapping import Mapped, map_event
from .outbox import Pending

#: Kinds whose properties carry a Klaviyo id: they join a bulk job once the id has been looked up.
NEEDS_IDS = ("profile_updated", "referral_code_provided", "referral_invited")


class Work:
    """One outbox event of a member, and what it maps to with the Klaviyo ids ``ids`` knows."""

    __slots__ = ("_ids", "_mapped", "pending")

    def __init__(self, pending: Pending, ids: Callable[[str], str | None]) -> None:
        self.pending, self._ids = pending, ids
        self._mapped: Mapped | None = None

    @property
    def mapped(self) -> Mapped:
        if self._mapped is None:
            self._mapped = map_event(self.pending.event, self._ids)
        return self._mapped

    def remap(self) -> Mapped:
        """Map the event again, with the Klaviyo ids learnt since."""
        self._mapped = map_event(self.pending.event, self._ids)
        return self._mapped


def bulkable(mapped: Mapped) -> bool:
    return mapped.metric is not None and not mapped.problems


def other_member(event: dict[str, Any]) -> str | None:
    """The other member a referral names (the referrer, or the invitee once they have joined)."""
    data = event["data"]
    found: str | None = data.get("referrer_id") or data.get("referral_id")
    return found
