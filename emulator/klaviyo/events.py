"""Events and metrics: recording with Klaviyo's dedupe rule, and the read endpoints.

Dedupe (Create Event's ``unique_id`` description): one event per (profile, metric, unique_id); without a
unique_id, one per (profile, metric, time to the second). A duplicate is accepted (202, as Klaviyo does) and
written to the ledger instead of the event table, so the emulator can say what real Klaviyo silently drops.
"""

from __future__ import annotations

import math
import sqlite3
import uuid
from datetime import UTC, datetime
from typing import Any, cast

from . import filters, ids, profiles, resources
from .errors import InvalidInput, NotFound, Problem
from .query import links as query_links
from .query import page
from .store import Row
from .types import Context, Reply

MAX_PROPERTIES = 400
MAX_DEPTH = 10
MAX_ARRAY = 4000
MAX_STRING = 100 * 1024
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC).timestamp()
YEAR = 365 * 86_400


def parse_time(value: Any, now: float, pointer: str) -> int:
    """An event time as unix seconds: ISO 8601, naive means UTC, after 1990, at most a year ahead."""
    if value is None:
        return int(now)
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(Problem(f"'{value}' is not a valid ISO 8601 datetime.", pointer=pointer)) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = moment.timestamp()
    if seconds < EARLIEST or seconds > now + YEAR:
        raise InvalidInput(
            Problem("Event time must be after 1990 and at most one year in the future.", pointer=pointer)
        )
    return int(seconds)


def property_problems(properties: dict[str, Any], pointer: str) -> list[Problem]:
    """Klaviyo's ingestion limits: 400 properties, 10 levels, 4000 items per array, 100 KB per string."""
    problems = []
    if len(properties) > MAX_PROPERTIES:
        problems.append(
            Problem(
                f"An event can have at most {MAX_PROPERTIES} properties, not {len(properties)}.",
                pointer=pointer,
            )
        )

    def walk(value: Any, where: str, depth: int) -> None:
        if len(problems) > 10:
            return
        if isinstance(value, dict):
            if depth > MAX_DEPTH:
                problems.append(Problem(f"Properties nest at most {MAX_DEPTH} levels deep.", pointer=where))
                return
            for key, item in value.items():
                walk(item, f"{where}/{str(key).replace('~', '~0').replace('/', '~1')}", depth + 1)
        elif isinstance(value, list):
            if len(value) > MAX_ARRAY:
                problems.append(
                    Problem(f"Arrays hold at most {MAX_ARRAY} items, not {len(value)}.", pointer=where)
                )
            for index, item in enumerate(value[:MAX_ARRAY]):
                walk(item, f"{where}/{index}", depth + 1)
        elif isinstance(value, str) and len(value.encode()) > MAX_STRING:
            problems.append(Problem("A string property can be at most 100 KB.", pointer=where))

    walk(properties, pointer, 1)
    return problems


def metric_for(ctx: Context, name: str) -> sqlite3.Row:
    """The account's metric of that name, created on first use as Klaviyo does."""
    row, created = ctx.tx.metric_named(ctx.account, name, ctx.now, ids.metric_id)
    if created:
        ctx.note("metric_created", f"first event named {name!r}", row["id"], name=name)
    return row


def _storable(value: float) -> bool:
    """Whether a JSON number fits a double, as SQLite stores ``value`` (an integer like 10**400 does not)."""
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def check_event(attributes: dict[str, Any], now: float, pointer: str) -> tuple[int, list[Problem]]:
    """Validate what the schema cannot: time range, property limits, metric name length."""
    problems = property_problems(attributes.get("properties") or {}, f"{pointer}/properties")
    name = attributes["metric"]["data"]["attributes"]["name"]
    if len(name) >= 128:
        problems.append(
            Problem(
                "Metric name must be less than 128 characters.",
                pointer=f"{pointer}/metric/data/attributes/name",
            )
        )
    value = attributes.get("value")
    if value is not None and not _storable(value):
        problems.append(Problem(f"value {value} is out of range for a number.", pointer=f"{pointer}/value"))
    try:
        moment = parse_time(attributes.get("time"), now, f"{pointer}/time")
    except InvalidInput as exc:
        problems += exc.problems
        moment = int(now)
    return moment, problems


def record(ctx: Context, attributes: dict[str, Any], profile_row: Row, moment: int, pointer: str) -> bool:
    """Store one event (its attributes at ``pointer`` in the body) unless it is a duplicate; True when stored."""
    metric = metric_for(ctx, attributes["metric"]["data"]["attributes"]["name"])
    unique_id = attributes.get("unique_id")
    key = f"u:{unique_id}" if unique_id is not None else f"t:{moment}"
    event_id = ids.ulid(ctx.now)
    stored = ctx.tx.insert_event(
        ctx.account,
        event_id,
        uuid=str(uuid.uuid4()),
        metric_id=metric["id"],
        profile_id=profile_row["id"],
        timestamp=moment,
        properties=attributes.get("properties") or {},
        value=None if attributes.get("value") is None else float(attributes["value"]),
        value_currency=attributes.get("value_currency"),
        unique_id=unique_id,
        dedupe_key=key,
        request_id=ctx.request_id,
        received=ctx.now,
    )
    if not stored:  # the account has this event already: Klaviyo accepts it and keeps the first
        duplicate = ctx.tx.duplicate_event(ctx.account, profile_row["id"], metric["id"], key)
        assert duplicate is not None
        why = (
            f"unique_id {unique_id!r}"
            if unique_id is not None
            else f"the same second ({resources.stamp(moment)})"
        )
        ctx.note(
            "event_deduplicated",
            f"same profile, metric and {why} as event {duplicate['id']}",
            duplicate["id"],
            metric=metric["name"],
            profile_id=profile_row["id"],
            unique_id=unique_id,
            first_request=duplicate["request_id"],
        )
        ctx.done(
            pointer,
            "deduplicated",
            profile_row["id"],
            duplicate["id"],
            f"same profile, metric and {why} as event {duplicate['id']}",
        )
        return False
    ctx.tx.bump_last_event_date(ctx.account, profile_row["id"], moment)
    ctx.done(pointer, "stored", profile_row["id"], event_id)
    return True


def event_profile(ctx: Context, profile: dict[str, Any], pointer: str) -> Row:
    """Create or update the profile an event names (events carry profile attributes, as Klaviyo allows)."""
    attributes = dict(profile.get("attributes") or {})
    # Create Event carries the profile's meta inside its attributes, a bulk job's profile beside them (§1, §2).
    meta_pointer = f"{pointer}/attributes/meta" if "meta" in attributes else f"{pointer}/meta"
    meta = attributes.pop("meta", None) or profile.get("meta")
    problems = profiles.identifier_problems(attributes, f"{pointer}/attributes")
    problems += profiles.patch_problems(meta, meta_pointer)
    if profile.get("id") is None and all(attributes.get(n) is None for n in profiles.IDENTIFIERS):
        problems.append(
            Problem(
                "The event's profile needs an identifier: id, email, phone_number, external_id or "
                "anonymous_id.",
                pointer=f"{pointer}/attributes",
            )
        )
    if problems:
        raise InvalidInput(*problems)
    if profile.get("id") is not None and ctx.tx.profile(ctx.account, profile["id"]) is None:
        raise InvalidInput(
            Problem(f"A profile with id {profile['id']} does not exist.", pointer=f"{pointer}/id")
        )
    row, _created = profiles.upsert(ctx, profile.get("id"), attributes, meta, pointer, strict=False)
    return row


def create_event(ctx: Context) -> Reply:
    attributes = ctx.body["data"]["attributes"]
    moment, problems = check_event(attributes, ctx.now, "/data/attributes")
    if problems:
        raise InvalidInput(*problems)
    profile_row = event_profile(ctx, attributes["profile"]["data"], "/data/attributes/profile/data")
    record(ctx, attributes, profile_row, moment, "/data/attributes")
    return Reply(202)


def _event_fields(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "metric_id": row["metric_id"],
        "profile_id": row["profile_id"],
        "profile": row["profile_id"],
        "metric": row["metric_id"],
        "datetime": resources.stamp(row["timestamp"]),
        "timestamp": row["timestamp"],
    }


#: The event fields that name a stored column by id (``_event_fields``), and that column.
_ID_FIELDS = {
    "profile_id": "profile_id",
    "profile": "profile_id",
    "metric_id": "metric_id",
    "metric": "metric_id",
}


def _named_ids(nodes: list[filters.Node]) -> dict[str, str]:
    """The profile and metric a filter asks for with a top-level ``equals`` (every top-level expression must hold):
    the store reads only their events, and the whole filter is still applied to those."""
    named: dict[str, str] = {}
    for node in nodes:
        if isinstance(node, filters.Condition) and node.operator == "equals" and isinstance(node.value, str):
            column = _ID_FIELDS.get(node.field)
            if column is not None and named.setdefault(column, node.value) != node.value:
                return {}  # two different ids for one column: nothing matches, and the filter says so itself
    return named


def _included(ctx: Context, rows: list[sqlite3.Row]) -> list[dict[str, Any]]:
    included: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        if "metric" in ctx.query.include:
            # An event's metric is always stored; were it missing (a hand-edited import), this fails as before.
            metric = cast(sqlite3.Row, ctx.tx.metric(ctx.account, row["metric_id"]))
            included[("metric", metric["id"])] = resources.metric(
                metric, ctx.base, ctx.query.fields.get("metric")
            )
        if "profile" in ctx.query.include:
            profile = ctx.tx.profile(ctx.account, row["profile_id"])
            if profile is not None:
                included[("profile", profile["id"])] = resources.profile(
                    profile, ctx.base, ctx.query.fields.get("profile")
                )
    return list(included.values())


def get_events(ctx: Context) -> Reply:
    if not ctx.query.filter and not ctx.query.sort:
        # The common read, paged by the store: a page costs its own rows, not the whole account's.
        size, start = ctx.query.page_size or 200, ctx.query.offset
        shown = ctx.tx.events_window(ctx.account, start, size + 1)
        if not shown and start > 0:
            start = min(start, ctx.tx.count_events(ctx.account))  # past the end, as page() clamps it
        links = query_links(ctx.url, start, size, len(shown) > size)
        shown = shown[:size]
    else:
        rows = ctx.tx.events(ctx.account, **_named_ids(ctx.query.filter))
        rows = [row for row in rows if filters.matches(ctx.query.filter, _event_fields(row))]
        if ctx.query.sort:
            rows.sort(key=lambda r: (r["timestamp"], r["seq"]), reverse=ctx.query.sort.startswith("-"))
        shown, links = page(rows, ctx.query, ctx.url, default_size=200)
    body: dict[str, Any] = {
        "data": [resources.event(row, ctx.base, ctx.query.fields.get("event")) for row in shown],
        "links": links,
    }
    if ctx.query.include:
        body["included"] = _included(ctx, shown)
    return Reply(200, body)


def get_event(ctx: Context) -> Reply:
    row = ctx.tx.event(ctx.account, ctx.path["id"])
    if row is None:
        raise NotFound(f"An event with id {ctx.path['id']} does not exist.")
    body: dict[str, Any] = {
        "data": resources.event(row, ctx.base, ctx.query.fields.get("event")),
        "links": {"self": ctx.url},
    }
    if ctx.query.include:
        body["included"] = _included(ctx, [row])
    return Reply(200, body)


def get_metrics(ctx: Context) -> Reply:
    rows = ctx.tx.metrics(ctx.account)
    integration = resources.INTEGRATION
    fields = {"integration.name": integration["name"], "integration.category": integration["category"]}
    rows = [row for row in rows if filters.matches(ctx.query.filter, fields)]
    shown, links = page(rows, ctx.query, ctx.url, default_size=200)
    return Reply(
        200,
        {
            "data": [resources.metric(row, ctx.base, ctx.query.fields.get("metric")) for row in shown],
            "links": links,
        },
    )


def get_metric(ctx: Context) -> Reply:
    row = ctx.tx.metric(ctx.account, ctx.path["id"])
    if row is None:
        raise NotFound(f"A metric with id {ctx.path['id']} does not exist.")
    return Reply(
        200,
        {"data": resources.metric(row, ctx.base, ctx.query.fields.get("metric")), "links": {"self": ctx.url}},
    )


HANDLERS = {
    "create_event": create_event,
    "get_events": get_events,
    "get_event": get_event,
    "get_metrics": get_metrics,
    "get_metric": get_metric,
}
