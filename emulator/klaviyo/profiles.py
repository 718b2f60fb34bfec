"""Profiles: identification, Klaviyo's merge semantics, and the profile endpoints.

Merge rules (Klaviyo's operation descriptions): a field set to null is cleared, a field left out is kept;
``properties`` merge key by key; ``meta.patch_properties`` appends to, unappends from and unsets properties.
A request whose identifiers belong to two different profiles is a conflict: 409 ``duplicate_profile`` for the
profile endpoints; for events, which Klaviyo accepts and processes later, the event goes to the profile its
strongest identifier names and the ledger says which identifier was not applied and why.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from contracts.traffic import Outcome

from . import filters, ids, lists, resources
from .errors import DuplicateProfile, InvalidInput, NotFound, Problem
from .query import page
from .store import Row, Tx, dumps, read_doc
from .types import Context, Reply

IDENTIFIERS = ("email", "phone_number", "external_id", "anonymous_id", "_kx")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")
PHONE_DETAIL = "Invalid phone number format (Example of a valid format: +12345678901)"
MAX_EMAIL = 100


def identifier_problems(attributes: dict[str, Any], pointer: str) -> list[Problem]:
    """Email and phone checked as Klaviyo checks them: an address of at most 100 characters ("The profile's valid
    email address (must be <= 100 characters)", https://developers.klaviyo.com/en/reference/profiles_api_overview)
    with no spaces; a phone in E.164 only ("If you're using an API call, note that Klaviyo only accepts the E.164
    format", https://help.klaviyo.com/hc/en-us/articles/360046055671). Letter case is kept as sent and compared
    exactly, and surrounding whitespace is refused, not trimmed (choices: docs/emulator.md)."""
    problems = []
    email = attributes.get("email")
    if email is not None and (not isinstance(email, str) or len(email) > MAX_EMAIL or not EMAIL.match(email)):
        problems.append(Problem("Invalid email address", pointer=f"{pointer}/email"))
    phone = attributes.get("phone_number")
    if phone is not None and (not isinstance(phone, str) or not PHONE.match(phone)):
        problems.append(Problem(PHONE_DETAIL, pointer=f"{pointer}/phone_number"))
    return problems


def _emails(value: Any) -> list[str] | None:
    """A patch_identifiers email value as a list: one address or a list of them; None for anything else."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    return None


def patch_problems(meta: Any, pointer: str) -> list[Problem]:
    """``patch_identifiers`` takes only ``email`` ("Currently only email is supported", ProfileMeta in the spec,
    notes §3), as one address or a list, each a valid one."""
    patch = meta.get("patch_identifiers") if isinstance(meta, dict) else None
    problems = []
    for operation in ("append", "unappend"):
        names = patch.get(operation) if isinstance(patch, dict) else None
        for name, value in (names if isinstance(names, dict) else {}).items():
            where = f"{pointer}/patch_identifiers/{operation}/{name}"
            emails = _emails(value)
            if name != "email":
                problems.append(Problem("Only email can be patched as an identifier.", pointer=where))
            elif emails is None:
                problems.append(Problem("Invalid email address", pointer=where))
            else:
                problems += [
                    Problem(
                        "Invalid email address", pointer=where if isinstance(value, str) else f"{where}/{i}"
                    )
                    for i, email in enumerate(emails)
                    if not EMAIL.match(email)
                ]
    return problems


@dataclass
class Match:
    row: sqlite3.Row | None
    by: str | None
    #: (identifier, value, id of the other profile that holds it)
    conflicts: list[tuple[str, Any, str]] = field(default_factory=list)


def resolve(tx: Tx, account: str, profile_id: str | None, attributes: dict[str, Any]) -> Match:
    """Which existing profile these identifiers name, and which identifiers belong to a different one.

    A Klaviyo id names its profile. Otherwise an ``external_id`` is the member's identity: if no profile has it,
    an email or phone held by a profile with a *different* external_id is a conflict (it must not re-key that
    profile), while one held by a profile with no external_id yet is that person's profile. Without either,
    the first identifier that matches (email, phone, anonymous id) decides. *(Klaviyo documents that a match on
    one identifier updates the others; which identifier wins when two profiles are named is not documented.)*
    """
    sent = {
        name: attributes[name]
        for name in ("external_id", "email", "phone_number", "anonymous_id", "_kx")
        if attributes.get(name) is not None
    }
    held = tx.profiles_holding(account, sent)
    holders: dict[str, tuple[Any, sqlite3.Row]] = {
        name: (sent[name], held[name]) for name in sent if name in held
    }
    chosen: sqlite3.Row | None = None
    by: str | None = None
    if profile_id is not None:
        chosen, by = tx.profile(account, profile_id), "id"
    elif "external_id" in holders:
        chosen, by = holders["external_id"][1], "external_id"
    else:
        sent_external = attributes.get("external_id")
        for name, (_value, row) in holders.items():
            if sent_external is None or row["external_id"] is None:
                chosen, by = row, name
                break
    match = Match(chosen, by)
    for name, (value, row) in holders.items():
        if chosen is None or row["id"] != chosen["id"]:
            match.conflicts.append((name, value, row["id"]))
    return match


def merge(doc: dict[str, Any], attributes: dict[str, Any], meta: dict[str, Any] | None) -> dict[str, Any]:
    """Apply attributes and patch operations to a stored profile document."""
    doc = read_doc(dumps(doc))  # a copy: the caller compares before and after, and the body is not touched
    for name, value in attributes.items():
        if name == "properties":
            props = doc.setdefault("properties", {})
            for key, item in (value or {}).items():
                if item is None:
                    props.pop(key, None)
                else:
                    props[key] = item
        elif name == "location":
            if value is None:
                doc.pop("location", None)
            else:
                location = doc.setdefault("location", {})
                location.update({k: v for k, v in value.items()})
        else:
            doc[name] = value
    patch = (meta or {}).get("patch_properties") or {}
    props = doc.setdefault("properties", {})
    for key, value in (patch.get("append") or {}).items():
        current = props.get(key)
        items = current if isinstance(current, list) else ([] if current is None else [current])
        items.extend(value if isinstance(value, list) else [value])
        props[key] = items
    for key, value in (patch.get("unappend") or {}).items():
        current = props.get(key)
        if isinstance(current, list):
            remove = value if isinstance(value, list) else [value]
            props[key] = [item for item in current if item not in remove]
    unset = patch.get("unset")
    for key in [unset] if isinstance(unset, str) else (unset or []):
        props.pop(key, None)
    identifiers = (meta or {}).get("patch_identifiers") or {}
    secondary = doc.setdefault("secondary_emails", [])
    for email in _emails((identifiers.get("append") or {}).get("email")) or []:
        if email not in secondary:
            secondary.append(email)
    for email in _emails((identifiers.get("unappend") or {}).get("email")) or []:
        if email in secondary:
            secondary.remove(email)
    return doc


def save(ctx: Context, profile_id: str | None, doc: dict[str, Any], previous: Row | None = None) -> Row:
    """Insert or update one profile row (``previous``: the row before, if the caller read it); returns the row
    as stored."""
    if profile_id is None:
        return ctx.tx.insert_profile(ctx.account, ids.ulid(ctx.now), doc, ctx.now)
    return ctx.tx.update_profile(ctx.account, profile_id, doc, ctx.now, previous)


def _conflict(conflicts: list[tuple[str, Any, str]], pointer: str) -> DuplicateProfile:
    _name, _value, other = conflicts[0]
    return DuplicateProfile(
        Problem(
            "A profile already exists with one of these identifiers.",
            pointer=pointer,
            meta={"duplicate_profile_id": other},
        )
    )


def upsert(
    ctx: Context,
    profile_id: str | None,
    attributes: dict[str, Any],
    meta: dict[str, Any] | None,
    block: str,
    strict: bool,
) -> tuple[Row, bool]:
    """Find or create the profile the identifiers name and merge the attributes in; (row, created).

    ``block`` is the pointer of the profile's ``data`` in the body, where the outcome is recorded. ``strict``
    (the profile endpoints) turns an identifier conflict into 409; otherwise (events) the conflicting
    identifiers are left off and the ledger says so.
    """
    match = resolve(ctx.tx, ctx.account, profile_id, attributes)
    if match.conflicts and strict:
        raise _conflict(match.conflicts, f"{block}/attributes")
    kept = {name: value for name, value in attributes.items() if name not in {c[0] for c in match.conflicts}}
    changed = True
    if match.row is None:
        row, created = save(ctx, None, merge({}, kept, meta)), True
    else:
        before = read_doc(match.row["doc"])
        after = merge(before, kept, meta)
        row, created, changed = save(ctx, match.row["id"], after, match.row), False, after != before
    for name, value, other in match.conflicts:  # noted once the profile that got the request is known
        ctx.note(
            "identifier_conflict",
            f"{name} {value!r} belongs to profile {other}; not applied",
            row["id"],
            identifier=name,
            other_profile=other,
            matched_by=match.by,
        )
    dropped = "; ".join(
        f"{name} {value!r} belongs to profile {other}" for name, value, other in match.conflicts
    )
    outcome: Outcome = "created" if created else "updated" if changed else "unchanged"
    ctx.done(
        block,
        outcome,
        row["id"],
        reason=f"not applied: {dropped}" if dropped else None,
        dropped=tuple(name for name, _, _ in match.conflicts),
    )
    return row, created


def _profile_body(ctx: Context, row: Row) -> dict[str, Any]:
    return {
        "data": resources.profile(
            row, ctx.base, ctx.query.fields.get("profile"), ctx.query.additional.get("profile")
        ),
        "links": {"self": ctx.url},
    }


def _needs_identifier(attributes: dict[str, Any], profile_id: str | None) -> None:
    if profile_id is None and all(attributes.get(name) is None for name in IDENTIFIERS):
        raise InvalidInput(
            Problem(
                "A profile needs at least one identifier: id, email, phone_number, "
                "external_id or anonymous_id.",
                pointer="/data/attributes",
            )
        )


def create_or_update_profile(ctx: Context) -> Reply:
    data = ctx.body["data"]
    attributes, profile_id = data.get("attributes", {}), data.get("id")
    problems = identifier_problems(attributes, "/data/attributes") + patch_problems(
        data.get("meta"), "/data/meta"
    )
    if problems:
        raise InvalidInput(*problems)
    _needs_identifier(attributes, profile_id)
    if profile_id is not None and ctx.tx.profile(ctx.account, profile_id) is None:
        # Klaviyo's captured answer for an id that does not exist: 404 not_found at /data/ (notes, "Consent, bulk
        # import and identity details": community.klaviyo.com developer group, thread 11971).
        raise NotFound(Problem(f"A profile with id {profile_id} does not exist.", pointer="/data/"))
    row, created = upsert(ctx, profile_id, attributes, data.get("meta"), "/data", strict=True)
    return Reply(201 if created else 200, _profile_body(ctx, row))


def create_profile(ctx: Context) -> Reply:
    attributes = ctx.body["data"].get("attributes", {})
    problems = identifier_problems(attributes, "/data/attributes")
    if problems:
        raise InvalidInput(*problems)
    _needs_identifier(attributes, None)
    match = resolve(ctx.tx, ctx.account, None, attributes)
    if match.row is not None:
        raise _conflict([(match.by or "id", None, match.row["id"])], "/data/attributes")
    row = save(ctx, None, merge({}, attributes, None))
    ctx.done("/data", "created", row["id"])
    return Reply(201, _profile_body(ctx, row))


def get_profile(ctx: Context) -> Reply:
    row = ctx.tx.profile(ctx.account, ctx.path["id"])
    if row is None:
        raise NotFound(f"A profile with id {ctx.path['id']} does not exist.")
    body = _profile_body(ctx, row)
    if "lists" in ctx.query.include:
        on = ctx.tx.lists_of(ctx.account, row["id"])
        body["data"]["relationships"]["lists"]["data"] = [{"type": "list", "id": r["id"]} for r in on]
        body["included"] = [lists.resource(ctx, r, ctx.query.fields.get("list")) for r in on]
    return Reply(200, body)


def update_profile(ctx: Context) -> Reply:
    profile_id = ctx.path["id"]
    data = ctx.body["data"]
    if data.get("id") != profile_id:
        raise InvalidInput(
            Problem(
                f"data.id ({data.get('id')!r}) must be the id in the path ({profile_id}).", pointer="/data/id"
            )
        )
    row = ctx.tx.profile(ctx.account, profile_id)
    if row is None:
        raise NotFound(f"A profile with id {profile_id} does not exist.")
    attributes = data.get("attributes", {})
    problems = identifier_problems(attributes, "/data/attributes") + patch_problems(
        data.get("meta"), "/data/meta"
    )
    if problems:
        raise InvalidInput(*problems)
    for name in IDENTIFIERS:
        value = attributes.get(name)
        if value is None:
            continue
        other = ctx.tx.other_profile_holding(ctx.account, name, value, profile_id)
        if other is not None:
            raise _conflict([(name, value, other)], f"/data/attributes/{name}")
    before = json.loads(row["doc"])
    doc = merge(before, attributes, data.get("meta"))
    ctx.done("/data", "updated" if doc != before else "unchanged", profile_id)
    return Reply(200, _profile_body(ctx, save(ctx, profile_id, doc)))


_SUPPRESSION = "subscriptions.email.marketing.suppression"


def _suppression(row: sqlite3.Row) -> dict[str, Any]:
    """The profile's global email suppression (the emulator records at most one: an unsubscribe), or {}."""
    found = json.loads(row["doc"]).get("subscriptions", {}).get("email", {}).get("suppression") or [{}]
    first: dict[str, Any] = found[0]
    return first


def _filterable(row: sqlite3.Row) -> dict[str, Any]:
    suppression = _suppression(row)
    return {
        "id": row["id"],
        "email": row["email"],
        "phone_number": row["phone_number"],
        "external_id": row["external_id"],
        "_kx": row["kx"],
        "created": resources.stamp(row["created"]),
        "updated": resources.stamp(row["updated"]),
        f"{_SUPPRESSION}.reason": suppression.get("reason"),
        f"{_SUPPRESSION}.timestamp": suppression.get("timestamp"),
    }


_SORT_KEYS: dict[str, Callable[[sqlite3.Row], Any]] = {
    "id": lambda r: r["id"],
    "created": lambda r: (r["created"], r["id"]),
    "updated": lambda r: (r["updated"], r["id"]),
    "email": lambda r: (r["email"] or "", r["id"]),
    # Unsuppressed profiles sort after suppressed ones, by id: where Klaviyo puts them is not documented.
    f"{_SUPPRESSION}.timestamp": lambda r: (_suppression(r).get("timestamp") or "~", r["id"]),
}


#: Filter fields that are a stored identifier column: a top-level equals() or any() on one narrows the read.
_NARROWING = ("id", "external_id", "email", "phone_number", "_kx")


def _holding(nodes: list[filters.Node]) -> tuple[str, list[str]] | None:
    """The first top-level ``equals`` or ``any`` on an identifier, as (identifier, values), when every value is
    text: every top-level expression must hold, so only profiles holding one of those values can pass."""
    for node in nodes:
        if not isinstance(node, filters.Condition) or node.field not in _NARROWING:
            continue
        values = [node.value] if node.operator == "equals" else node.value if node.operator == "any" else None
        if isinstance(values, list) and all(isinstance(value, str) for value in values):
            return node.field, values
    return None


def get_profiles(ctx: Context) -> Reply:
    rows = ctx.tx.profiles(ctx.account, _holding(ctx.query.filter))
    rows = [row for row in rows if filters.matches(ctx.query.filter, _filterable(row))]
    if ctx.query.sort:
        rows.sort(key=_SORT_KEYS[ctx.query.sort.lstrip("-")], reverse=ctx.query.sort.startswith("-"))
    shown, links = page(rows, ctx.query, ctx.url, default_size=20)
    fields, additional = ctx.query.fields.get("profile"), ctx.query.additional.get("profile")
    return Reply(
        200, {"data": [resources.profile(row, ctx.base, fields, additional) for row in shown], "links": links}
    )


HANDLERS = {
    "create_or_update_profile": create_or_update_profile,
    "create_profile": create_profile,
    "get_profile": get_profile,
    "update_profile": update_profile,
    "get_profiles": get_profiles,
}
