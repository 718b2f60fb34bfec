"""One profile's story, rebuilt from the request log: what it was sent, in order, each change as a diff.

The store keeps only a profile's current document, so its history is replayed: every request whose profile
identifiers name this profile (its Klaviyo id, external_id, email or phone) is applied in arrival order with
Klaviyo's merge rules (``profiles.merge``), and each change is shown as the attributes it changed, before and
after. Events come from the same requests, each marked with what Klaviyo did with it (stored as which event, or
deduplicated); events stored on the profile that no request seems to name are added so nothing is hidden.
Requests Klaviyo refused (4xx, throttled, injected faults) appear too, with the errors the client got.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .profiles import merge

_MISSING = object()


def _number(text: str) -> Any:
    number = float(text)
    return number if math.isfinite(number) else text


def _integer(text: str) -> Any:
    return int(text) if len(text) <= 4000 else text


def loads(text: str | None) -> Any:
    """Stored JSON as values any JSON encoder can write back: numbers a double cannot hold and ``NaN`` stay
    text; ``None`` for text that is not JSON (a refused body may be anything)."""
    if text is None:
        return None
    try:
        return json.loads(text, parse_float=_number, parse_int=_integer, parse_constant=str)
    except (ValueError, RecursionError):
        return None


@dataclass
class Block:
    """A part of a request body about one profile: attributes to merge, and the events sent with them."""

    pointer: str
    attributes: dict[str, Any]
    meta: dict[str, Any] | None = None
    profile_id: str | None = None
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (pointer, event attributes)
    consent: str | None = None  # SUBSCRIBED / UNSUBSCRIBED for the bulk (un)subscribe jobs
    refresh: bool = False  # a profile endpoint, not attributes riding along with an event


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _profile(data: Any, pointer: str, **extra: Any) -> Block:
    data = _dict(data)
    profile_id = data.get("id")
    return Block(
        pointer,
        _dict(data.get("attributes")),
        _dict(data.get("meta")) or _dict(_dict(data.get("attributes")).get("meta")) or None,
        profile_id if isinstance(profile_id, str) else None,
        **extra,
    )


def blocks(method: str, path: str, body: Any) -> Iterator[Block]:
    """The profile blocks of one request body, in the order Klaviyo applies them; nothing for other shapes."""
    data = _dict(_dict(body).get("data"))
    attributes = _dict(data.get("attributes"))
    parts = path.rstrip("/").split("/")
    if (method, path.rstrip("/")) == ("POST", "/api/events"):
        block = _profile(_dict(attributes.get("profile")).get("data"), "/data/attributes/profile/data")
        block.events.append(("/data/attributes", attributes))
        yield block
    elif (method, path.rstrip("/")) == ("POST", "/api/event-bulk-create-jobs"):
        base = "/data/attributes/events-bulk-create/data"
        for g, group in enumerate(_list(_dict(attributes.get("events-bulk-create")).get("data"))):
            group_attributes = _dict(_dict(group).get("attributes"))
            block = _profile(
                _dict(group_attributes.get("profile")).get("data"), f"{base}/{g}/attributes/profile/data"
            )
            for e, event in enumerate(_list(_dict(group_attributes.get("events")).get("data"))):
                block.events.append(
                    (
                        f"{base}/{g}/attributes/events/data/{e}/attributes",
                        _dict(_dict(event).get("attributes")),
                    )
                )
            yield block
    elif method == "POST" and path.rstrip("/") in ("/api/profile-import", "/api/profiles"):
        yield _profile(data, "/data", refresh=True)
    elif method == "PATCH" and len(parts) == 4 and parts[2] == "profiles":
        block = _profile(data, "/data", refresh=True)
        block.profile_id = parts[3]
        yield block
    elif (method, path.rstrip("/")) == ("POST", "/api/profile-bulk-import-jobs"):
        for i, row in enumerate(_list(_dict(attributes.get("profiles")).get("data"))):
            yield _profile(row, f"/data/attributes/profiles/data/{i}", refresh=True)
    elif method == "POST" and path.rstrip("/") in (
        "/api/profile-subscription-bulk-create-jobs",
        "/api/profile-subscription-bulk-delete-jobs",
    ):
        consent = "SUBSCRIBED" if "create" in path else "UNSUBSCRIBED"
        for i, row in enumerate(_list(_dict(attributes.get("profiles")).get("data"))):
            yield _profile(row, f"/data/attributes/profiles/data/{i}", consent=consent)


def names(block: Block, profile: dict[str, Any]) -> bool:
    """Whether a block's identifiers name this profile, as the emulator resolves them (Klaviyo id first,
    then external_id; email or phone only when no external_id is sent)."""
    if block.profile_id is not None:
        return bool(block.profile_id == profile["id"])
    sent = block.attributes
    external = sent.get("external_id")
    if external is not None:
        return bool(external == profile.get("external_id"))
    return any(
        sent.get(name) is not None and sent.get(name) == profile.get(column)
        for name, column in (
            ("email", "email"),
            ("phone_number", "phone_number"),
            ("anonymous_id", "anonymous_id"),
            ("_kx", "kx"),
        )
    )


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


def _apply(doc: dict[str, Any], block: Block) -> dict[str, Any]:
    if block.consent is not None:
        updated = copy.deepcopy(doc)
        identifiers = {k: v for k, v in block.attributes.items() if k in ("email", "phone_number") and v}
        updated.update(identifiers)
        for channel, kinds in _dict(block.attributes.get("subscriptions")).items():
            for kind in _dict(kinds):
                target = channel if kind == "marketing" else f"{channel}_{kind}"
                updated.setdefault("subscriptions", {})[target] = {"consent": block.consent}
        return updated
    try:
        return merge(doc, block.attributes, block.meta)
    except (AttributeError, TypeError, ValueError):  # a shape the emulator would have refused
        return doc


def _metric(event: Any) -> Any:
    return _dict(_dict(_dict(_dict(event).get("metric")).get("data")).get("attributes")).get("name")


def _identifiers(block: Block) -> dict[str, Any]:
    sent = {name: block.attributes.get(name) for name in ("email", "phone_number", "external_id")}
    return {"id": block.profile_id, **{k: v for k, v in sent.items() if isinstance(v, str)}}


def _request(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "seq": record["seq"],
        "request_id": record["id"],
        "received": record["received"],
        "method": record["method"],
        "path": record["path"],
        "status": record["status"],
        "fault": record["fault"],
    }


def build(
    profile: dict[str, Any],
    records: list[dict[str, Any]],
    stored: list[dict[str, Any]],
    ledger: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """The profile's timeline, oldest first.

    ``profile`` is its row; ``records`` the account's request log in ``seq`` order; ``stored`` its events (with
    ``metric`` and ``request_id``); ``ledger`` the account's ledger lines (``details`` parsed).
    """
    items: list[dict[str, Any]] = []
    doc: dict[str, Any] = {}
    by_request: dict[str, list[dict[str, Any]]] = {}
    for event in stored:
        by_request.setdefault(event["request_id"] or "", []).append(event)
    duplicates: dict[str, list[dict[str, Any]]] = {}
    for line in ledger:
        details = _dict(line.get("details"))
        if line["kind"] == "event_deduplicated" and details.get("profile_id") == profile["id"]:
            duplicates.setdefault(line["request_id"], []).append(line)
    shown: set[str] = set()
    seq_of: dict[str, int] = {}
    for record in records:
        seq_of[record["id"]] = record["seq"]
        body = loads(record["request_body"])
        accepted = 200 <= int(record["status"]) < 300 and record["fault"] is None
        mine = [block for block in blocks(record["method"], record["path"], body) if names(block, profile)]
        if not mine:
            continue
        if not accepted:
            items.append(
                {
                    **_request(record),
                    "kind": "rejected",
                    "pointer": None,
                    "errors": record["errors"] or [],
                    "identifiers": [_identifiers(block) for block in mine],
                    "metrics": [_metric(event) for block in mine for _, event in block.events],
                }
            )
            continue
        unused = list(by_request.get(record["id"], []))
        deduped = list(duplicates.get(record["id"], []))
        for block in mine:
            updated = _apply(doc, block)
            changes = diff(doc, updated)
            doc = updated
            if changes or block.refresh or block.consent:
                items.append(
                    {
                        **_request(record),
                        "kind": "subscription" if block.consent else "change",
                        "pointer": block.pointer,
                        "with_event": bool(block.events),
                        "consent": block.consent,
                        "diff": changes,
                    }
                )
            for pointer, event in block.events:
                items.append(_event_item(record, pointer, event, unused, deduped, shown))
    for event in stored:
        if event["id"] not in shown:  # stored here, though no request seemed to name this profile
            origin = next((r for r in records if r["id"] == event["request_id"]), None)
            items.append(
                {
                    **(_request(origin) if origin else {"seq": None, "request_id": event["request_id"]}),
                    "kind": "event",
                    "pointer": None,
                    "metric": event["metric"],
                    "properties": event["properties"],
                    "unique_id": event["unique_id"],
                    "time": event["timestamp"],
                    "value": event["value"],
                    "stored": event["id"],
                    "deduplicated": None,
                }
            )
    for line in ledger:
        if line["subject"] == profile["id"] and line["kind"] != "event_deduplicated":
            items.append(
                {
                    "seq": seq_of.get(line["request_id"]),
                    "request_id": line["request_id"],
                    "received": line["at"],
                    "kind": "note",
                    "pointer": None,
                    "note": line["kind"],
                    "reason": line["reason"],
                    "details": line["details"],
                }
            )
    # a stable sort: each note stays after the items of its request
    items.sort(key=lambda item: item["seq"] if item["seq"] is not None else 0)
    return items


def _event_item(
    record: dict[str, Any],
    pointer: str,
    event: Any,
    unused: list[dict[str, Any]],
    deduped: list[dict[str, Any]],
    shown: set[str],
) -> dict[str, Any]:
    event = _dict(event)
    metric = _metric(event)
    unique_id = event.get("unique_id")
    match = next((e for e in unused if e["metric"] == metric and e["unique_id"] == unique_id), None)
    duplicate = None
    if match is not None:
        unused.remove(match)
        shown.add(match["id"])
    else:
        duplicate = next(
            (
                line
                for line in deduped
                if line["details"].get("metric") == metric and line["details"].get("unique_id") == unique_id
            ),
            None,
        )
        if duplicate is not None:
            deduped.remove(duplicate)
    return {
        **_request(record),
        "kind": "event",
        "pointer": pointer,
        "metric": metric,
        "properties": _dict(event.get("properties")),
        "unique_id": unique_id,
        "time": event.get("time"),
        "value": event.get("value"),
        "stored": match["id"] if match else None,
        "deduplicated": duplicate["reason"] if duplicate else None,
    }
