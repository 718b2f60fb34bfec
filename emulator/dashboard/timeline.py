"""One profile's story, from what the fake Klaviyo recorded about it: what it was sent, in order, each change as a
diff, each event with the request it came from and what Klaviyo did with it.

The store keeps only a profile's current document, so its history is replayed: every observation that landed
on this profile (the emulator recorded which profile each block resolved to) is applied in arrival order with
Klaviyo's merge rules (``profiles.merge``), and each change is shown as the attributes it changed, before and
after. Requests Klaviyo refused while naming one of the profile's identifiers appear too, with the errors the
client got. Nothing is guessed: an event is on the timeline because the emulator recorded storing (or
deduplicating) it for this profile.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from typing import Any

from contracts.traffic import Observation, RequestRecord
from emulator.klaviyo.profiles import merge
from emulator.klaviyo.store import Member

_MISSING = object()


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{"properties": {"a": 1}}`` -> ``{"properties.a": 1}``; lists and scalars are leaves."""
    if isinstance(value, dict) and (value or not prefix):
        found: dict[str, Any] = {}
        for key, item in value.items():
            found.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return found
    return {prefix: value}


def diff(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """The attributes that differ, each ``{attribute, before, after, change}``; an absent side is omitted."""
    old, new = flatten(before), flatten(after)
    changes = []
    for name in sorted(old.keys() | new.keys()):
        was, now = old.get(name, _MISSING), new.get(name, _MISSING)
        if was == now or (was is _MISSING and now in ([], {})):
            continue
        change: dict[str, Any] = {"attribute": name}
        if was is not _MISSING:
            change["before"] = was
        if now is not _MISSING:
            change["after"] = now
        change["change"] = "added" if was is _MISSING else "removed" if now is _MISSING else "changed"
        changes.append(change)
    return changes


def _apply(doc: dict[str, Any], seen: Observation) -> dict[str, Any]:
    if seen.kind == "subscription":
        updated = copy.deepcopy(doc)
        updated.update({k: v for k, v in seen.identifiers.items() if k in ("email", "phone_number") and v})
        if seen.outcome == "pending":  # a double opt-in changes no consent until the person confirms
            return updated
        for channel, kinds in seen.channels.items():
            for kind, parameters in (kinds if isinstance(kinds, dict) else {}).items():
                if parameters is None:  # a null channel or message type asks for nothing
                    continue
                target = channel if kind == "marketing" else f"{channel}_{kind}"
                updated.setdefault("subscriptions", {})[target] = {"consent": seen.consent}
        return updated
    attributes = {k: v for k, v in seen.attributes.items() if k not in seen.dropped}
    try:
        return merge(doc, attributes, seen.meta)
    except (AttributeError, TypeError, ValueError):  # a shape the emulator would have refused
        return doc


def _request(record: RequestRecord | None, seen: Observation) -> dict[str, Any]:
    if record is None:
        return {"seq": seen.request or None, "request_id": seen.request_id}
    return {
        "seq": record.seq,
        "request_id": record.id,
        "received": record.received,
        "method": record.method,
        "path": record.path,
        "status": record.status,
        "fault": record.fault,
    }


def _identifiers(seen: Observation) -> dict[str, Any]:
    sent = {k: v for k, v in seen.identifiers.items() if k in ("email", "phone_number", "external_id")}
    return {"id": seen.profile_ref, **{k: v for k, v in sent.items() if isinstance(v, str)}}


def _event(record: RequestRecord | None, seen: Observation) -> dict[str, Any]:
    return {
        **_request(record, seen),
        "kind": "event",
        "pointer": seen.pointer,
        "metric": seen.metric,
        "properties": seen.properties,
        "unique_id": seen.unique_id,
        "time": seen.time,
        "value": seen.value,
        "stored": seen.event_id if seen.outcome == "stored" else None,
        "deduplicated": seen.reason if seen.outcome == "deduplicated" else None,
    }


def build(member: Member) -> list[dict[str, Any]]:
    """The profile's timeline, oldest first: changes, subscriptions, events, refused requests and ledger notes."""
    items: list[dict[str, Any]] = []
    doc: dict[str, Any] = {}
    by_request: dict[str, list[Observation]] = defaultdict(list)
    for seen in member.observations:
        by_request[seen.request_id].append(seen)
    shown: set[str] = set()
    for request_id, observed in by_request.items():
        record = member.requests.get(request_id)
        refused = [seen for seen in observed if seen.outcome == "rejected"]
        if refused:
            items.append(
                {
                    **_request(record, refused[0]),
                    "kind": "rejected",
                    "pointer": None,
                    "errors": record.errors if record else [],
                    "identifiers": [_identifiers(s) for s in refused if s.kind != "event"],
                    "metrics": [s.metric for s in refused if s.kind == "event"],
                }
            )
            continue
        for seen in observed:
            if seen.kind == "event":
                items.append(_event(record, seen))
                if seen.event_id:
                    shown.add(seen.event_id)
                continue
            updated = _apply(doc, seen)
            changes = diff(doc, updated)
            doc = updated
            if changes or seen.refresh or seen.consent:
                items.append(
                    {
                        **_request(record, seen),
                        "kind": "subscription" if seen.consent else "change",
                        "pointer": seen.pointer,
                        "with_event": any(o.block == seen.pointer for o in observed if o.kind == "event"),
                        "consent": f"{seen.consent}, pending confirmation"
                        if seen.outcome == "pending"
                        else seen.consent,
                        "diff": changes,
                    }
                )
    for event_id, event in member.events.items():
        if event_id not in shown:  # only state imported from an export made before observations were kept
            items.append(
                {
                    "seq": None,
                    "request_id": event["request_id"],
                    "kind": "event",
                    "pointer": None,
                    "metric": event["metric"],
                    "properties": event["properties"],
                    "unique_id": event["unique_id"],
                    "time": event["timestamp"],
                    "value": event["value"],
                    "stored": event_id,
                    "deduplicated": None,
                }
            )
    for line in member.ledger:
        if line.kind != "event_deduplicated":
            items.append(
                {
                    "seq": line.request_seq,
                    "request_id": line.request_id,
                    "received": line.at,
                    "kind": "note",
                    "pointer": None,
                    "note": line.kind,
                    "reason": line.reason,
                    "details": line.details,
                }
            )
    # a stable sort: each note stays after the items of its request
    items.sort(key=lambda item: item["seq"] if item["seq"] is not None else 0)
    return items
