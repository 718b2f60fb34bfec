"""A member's story, as the verifier reads it: events and refreshes in the order Klaviyo saw them.

Built from the observations of the requests Klaviyo accepted. An event's profile attributes that carry the
refresh properties count as a refresh after the events sent with them; a profile endpoint's attributes are a
refresh; subscriptions are neither.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from ._catalog import PROFILE_PROPERTIES
from .report import MISSING, Violation
from .traffic import Observation, Traffic, value_at


@dataclass
class Seen:
    """One thing Klaviyo received for a member: an event or a refresh, in arrival order."""

    kind: str  # event or refresh
    request: int
    order: int
    member: str | None
    metric: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    unique_id: str | None = None
    profile: dict[str, Any] = field(default_factory=dict)  # attributes sent with it
    pointer: str = ""
    same_request_refresh: dict[str, Any] | None = None

    def violation(
        self, rule: str, message: str, pointer: str | None = None, value: Any = None, expected: Any = None
    ) -> Violation:
        return Violation(
            rule,
            message,
            self.member,
            self.request,
            self.pointer if pointer is None else pointer,
            self.unique_id,
            value,
            expected,
        )


def at(document: Any, pointer: str) -> Any:
    """The value at a JSON pointer, or ``"(missing)"``."""
    return value_at(document, pointer, MISSING)


def _carries_refresh(attributes: dict[str, Any]) -> bool:
    properties = attributes.get("properties")
    return isinstance(properties, dict) and bool(properties.keys() & set(PROFILE_PROPERTIES))


def story(traffic: Traffic) -> list[Seen]:
    """Events and refreshes of the accepted requests, in the order Klaviyo saw them.

    An event's profile attributes that carry the refresh properties count as a refresh after the events sent
    with them; a profile endpoint's attributes are a refresh; subscriptions are neither.
    """
    accepted = {r.id: r.seq for r in traffic.requests if r.accepted}
    by_request: dict[str, list[Observation]] = defaultdict(list)
    for seen in traffic.observations:
        if seen.request_id in accepted:
            by_request[seen.request_id].append(seen)
    found: list[Seen] = []

    def add(kind: str, seen: Observation, **values: Any) -> None:
        found.append(Seen(kind, accepted[seen.request_id], len(found) + 1, seen.member, **values))

    for request_id in sorted(by_request, key=accepted.__getitem__):
        block: Observation | None = None
        for seen in sorted(by_request[request_id], key=lambda o: o.index):
            if seen.kind == "event":
                profile = block.attributes if block is not None else {}
                add(
                    "event",
                    seen,
                    metric=seen.metric,
                    properties=seen.properties,
                    unique_id=seen.unique_id,
                    profile=profile,
                    pointer=seen.pointer,
                    same_request_refresh=profile if _carries_refresh(profile) else None,
                )
                continue
            if block is not None and _carries_refresh(block.attributes):
                add("refresh", block, profile=block.attributes, pointer=f"{block.pointer}/attributes")
            block = None
            if seen.kind == "profile" and seen.refresh:
                add("refresh", seen, profile=seen.attributes, pointer=f"{seen.pointer}/attributes")
            elif seen.kind == "profile":
                block = seen
        if block is not None and _carries_refresh(block.attributes):
            add("refresh", block, profile=block.attributes, pointer=f"{block.pointer}/attributes")
    return found
