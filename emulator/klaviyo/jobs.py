"""Bulk endpoints: event bulk-create jobs, profile bulk-import jobs, and bulk (un)subscribe jobs.

Klaviyo runs these asynchronously. The emulator applies them when they are accepted (so a read right after sees
the result) and lets an import job's status advance by polling: created ``queued``, the first read shows
``processing``, later reads ``complete`` with its counts. Every row that failed is in the job and in the ledger.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from . import events, ids, profiles, resources
from .errors import DuplicateProfile, InvalidInput, NotFound, Problem
from .store import dumps
from .types import Context, Reply

MAX_BULK_EVENTS = 1000
MAX_IMPORT_PROFILES = 10_000
MAX_SUBSCRIBE = 1000
MAX_UNSUBSCRIBE = 100


def bulk_create_events(ctx: Context) -> Reply:
    groups = ctx.body["data"]["attributes"]["events-bulk-create"]["data"]
    base = "/data/attributes/events-bulk-create/data"
    total = sum(len(group["attributes"]["events"]["data"]) for group in groups)
    if total > MAX_BULK_EVENTS:
        raise InvalidInput(
            Problem(
                f"A bulk job accepts at most {MAX_BULK_EVENTS:,} events; this one has {total:,}.",
                pointer=base,
            )
        )
    problems: list[Problem] = []
    checked: list[tuple[dict[str, Any], list[tuple[dict[str, Any], int]]]] = []
    for g, group in enumerate(groups):
        profile = group["attributes"]["profile"]["data"]
        attributes = profile.get("attributes") or {}
        problems += profiles.identifier_problems(attributes, f"{base}/{g}/attributes/profile/data/attributes")
        seen: dict[tuple[str, str], int] = {}
        entries = []
        for e, event in enumerate(group["attributes"]["events"]["data"]):
            pointer = f"{base}/{g}/attributes/events/data/{e}/attributes"
            moment, found = events.check_event(event["attributes"], ctx.now, pointer)
            problems += found
            unique_id = event["attributes"].get("unique_id")
            if unique_id is not None:
                key = (event["attributes"]["metric"]["data"]["attributes"]["name"], unique_id)
                if key in seen:
                    problems.append(
                        Problem(
                            f"unique_id {unique_id!r} is repeated for the same profile and metric "
                            f"(first at event {seen[key]}); the whole job is refused, as Klaviyo "
                            "does.",
                            pointer=f"{pointer}/unique_id",
                        )
                    )
                seen[key] = e
            entries.append((event["attributes"], moment))
        checked.append((profile, entries))
    if problems:
        raise InvalidInput(*problems[:25])
    # Two groups can name one profile, so a repeat is looked for again once the profiles are resolved; raising
    # here rolls the whole transaction back, so nothing of the job is stored (§2).
    first: dict[tuple[str, str, str], str] = {}
    for g, (profile, entries) in enumerate(checked):
        row = events.event_profile(ctx, profile, f"{base}/{g}/attributes/profile/data")
        for e, (attributes, moment) in enumerate(entries):
            unique_id = attributes.get("unique_id")
            pointer = f"{base}/{g}/attributes/events/data/{e}/attributes/unique_id"
            if unique_id is not None:
                same = (row["id"], attributes["metric"]["data"]["attributes"]["name"], unique_id)
                if same in first:
                    raise InvalidInput(
                        Problem(
                            f"unique_id {unique_id!r} is repeated for the same profile and metric (first at "
                            f"{first[same]}); the whole job is refused, as Klaviyo does.",
                            pointer=pointer,
                        )
                    )
                first[same] = pointer
            events.record(ctx, attributes, row, moment, f"{base}/{g}/attributes/events/data/{e}/attributes")
    return Reply(202)


def _job_resource(ctx: Context, job_id: str, doc: dict[str, Any]) -> dict[str, Any]:
    attributes = {
        k: doc[k]
        for k in (
            "status",
            "created_at",
            "total_count",
            "completed_count",
            "failed_count",
            "completed_at",
            "expires_at",
            "started_at",
        )
    }
    wanted = ctx.query.fields.get("profile-bulk-import-job")
    return {
        "type": "profile-bulk-import-job",
        "id": job_id,
        "attributes": resources.sparse(attributes, wanted),
        "relationships": {
            name: {
                "links": {
                    "self": f"{ctx.base}/api/profile-bulk-import-jobs/{job_id}/relationships/{name}/",
                    "related": f"{ctx.base}/api/profile-bulk-import-jobs/{job_id}/{name}/",
                }
            }
            for name in ("lists", "profiles", "import-errors")
        },
        "links": {"self": f"{ctx.base}/api/profile-bulk-import-jobs/{job_id}/"},
    }


def bulk_import_profiles(ctx: Context) -> Reply:
    rows = ctx.body["data"]["attributes"]["profiles"]["data"]
    base = "/data/attributes/profiles/data"
    if len(rows) > MAX_IMPORT_PROFILES:
        raise InvalidInput(
            Problem(
                f"An import job accepts at most {MAX_IMPORT_PROFILES:,} profiles; this one has "
                f"{len(rows):,}.",
                pointer=base,
            )
        )
    for i, row in enumerate(rows):
        if len(dumps(row).encode()) > 100 * 1024:
            raise InvalidInput(
                Problem("Each profile of an import job can be at most 100 KB.", pointer=f"{base}/{i}")
            )
    job_id = ids.ulid(ctx.now)
    errors: list[dict[str, Any]] = []
    completed = 0
    for i, row in enumerate(rows):
        attributes = row.get("attributes") or {}
        problems = profiles.identifier_problems(attributes, f"{base}/{i}/attributes")
        problems += profiles.patch_problems(row.get("meta"), f"{base}/{i}/meta")
        if row.get("id") is None and all(attributes.get(n) is None for n in profiles.IDENTIFIERS):
            problems.append(
                Problem("A profile needs at least one identifier.", pointer=f"{base}/{i}/attributes")
            )
        if not problems:
            try:
                profiles.upsert(ctx, row.get("id"), attributes, row.get("meta"), f"{base}/{i}", strict=True)
                completed += 1
                continue
            except DuplicateProfile as conflict:
                problems = conflict.problems
        ctx.done(f"{base}/{i}", "failed", reason="; ".join(p.detail for p in problems))
        for problem in problems:
            errors.append(
                {
                    "code": "invalid",
                    "title": "Invalid input.",
                    "detail": problem.detail,
                    "source": {"pointer": problem.pointer},
                    "original_payload": row,
                }
            )
            ctx.note("import_row_failed", problem.detail, job_id, row=i, pointer=problem.pointer)
    created = resources.stamp(ctx.now)
    doc = {
        "status": "queued",
        "created_at": created,
        "total_count": len(rows),
        "completed_count": 0,
        "failed_count": 0,
        "completed_at": None,
        "started_at": None,
        "expires_at": resources.stamp(ctx.now + 7 * 86_400),
        "reads": 0,
        "result": {"completed_count": completed, "failed_count": len(rows) - completed},
        "errors": errors,
    }
    ctx.tx.insert_job(ctx.account, job_id, "profile-bulk-import-job", doc, ctx.now)
    return Reply(202, {"data": _job_resource(ctx, job_id, doc), "links": {"self": ctx.url}})


def get_bulk_import_profiles_job(ctx: Context) -> Reply:
    job_id = ctx.path["job_id"]
    row = ctx.tx.job(ctx.account, job_id, "profile-bulk-import-job")
    if row is None:
        raise NotFound(f"A profile bulk import job with id {job_id} does not exist.")
    doc = json.loads(row["doc"])
    doc["reads"] += 1
    if doc["status"] == "queued":
        doc.update(status="processing", started_at=resources.stamp(ctx.now))
    elif doc["status"] == "processing":
        doc.update(status="complete", completed_at=resources.stamp(ctx.now), **doc["result"])
    ctx.tx.update_job(ctx.account, job_id, doc)
    return Reply(200, {"data": _job_resource(ctx, job_id, doc), "links": {"self": ctx.url}})


def _utc(value: Any) -> float:
    """A checked ``consented_at`` as unix seconds; naive means UTC (the SDK sends naive datetimes bare)."""
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _consented_at(value: Any, historical: bool, now: float, pointer: str) -> list[Problem]:
    if value is None:
        return (
            [Problem("consented_at is required for a historical import.", pointer=pointer)]
            if historical
            else []
        )
    if not historical:
        return [Problem("consented_at may only be sent with historical_import: true.", pointer=pointer)]
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return [Problem(f"'{value}' is not a valid datetime.", pointer=pointer)]
    if (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp() > now:
        return [
            Problem(
                "Historical email subscription does not have a valid consented at timestamp (it is in the "
                "future).",
                pointer=pointer,
            )
        ]
    return []


def _subscription_job(ctx: Context, consent: str, limit: int) -> Reply:
    data = ctx.body["data"]
    rows = data["attributes"]["profiles"]["data"]
    base = "/data/attributes/profiles/data"
    if len(rows) > limit:
        raise InvalidInput(
            Problem(f"This job accepts at most {limit:,} profiles; this one has {len(rows):,}.", pointer=base)
        )
    historical = bool(data["attributes"].get("historical_import"))
    problems: list[Problem] = []
    for i, row in enumerate(rows):
        attributes = row.get("attributes") or {}
        pointer = f"{base}/{i}/attributes"
        problems += profiles.identifier_problems(attributes, pointer)
        channels = attributes.get("subscriptions") or {}
        if "sms" in channels and not attributes.get("phone_number"):
            problems.append(
                Problem(
                    "An SMS subscription needs an E.164 phone_number.", pointer=f"{pointer}/subscriptions/sms"
                )
            )
        if "email" in channels and not attributes.get("email"):
            problems.append(
                Problem("An email subscription needs an email.", pointer=f"{pointer}/subscriptions/email")
            )
        if consent == "SUBSCRIBED":
            for channel, kinds in channels.items():
                for kind, record in (kinds or {}).items():
                    if isinstance(record, dict):
                        problems += _consented_at(
                            record.get("consented_at"),
                            historical,
                            ctx.now,
                            f"{pointer}/subscriptions/{channel}/{kind}/consented_at",
                        )
    if problems:
        raise InvalidInput(*problems[:25])
    for i, row in enumerate(rows):
        attributes = dict(row.get("attributes") or {})
        channels = attributes.pop("subscriptions", {}) or {}
        identifiers = {k: attributes[k] for k in ("email", "phone_number") if attributes.get(k)}
        match = profiles.resolve(ctx.tx, ctx.account, row.get("id"), identifiers)
        if match.row is None and consent == "UNSUBSCRIBED":
            ctx.note("unsubscribe_ignored", "no profile has these identifiers", None, **identifiers)
            ctx.done(f"{base}/{i}", "ignored", reason="no profile has these identifiers")
            continue
        profile_row, _ = profiles.upsert(ctx, row.get("id"), identifiers, None, f"{base}/{i}", strict=False)
        doc = json.loads(profile_row["doc"])
        stored = doc.setdefault("subscriptions", {})
        for channel, kinds in channels.items():
            for kind, record in (kinds or {}).items():
                target = channel if kind == "marketing" else f"{channel}_{kind}"
                consented = record.get("consented_at") if isinstance(record, dict) else None
                stored[target] = {
                    "consent": consent,
                    "consent_timestamp": resources.stamp(_utc(consented) if consented else ctx.now),
                    "method": "API",
                    "method_detail": data["attributes"].get("custom_source"),
                    "last_updated": resources.stamp(ctx.now),
                }
        profiles.save(ctx, profile_row["id"], doc)
        ctx.done(
            f"{base}/{i}", "subscribed" if consent == "SUBSCRIBED" else "unsubscribed", profile_row["id"]
        )
    return Reply(202)


def bulk_subscribe_profiles(ctx: Context) -> Reply:
    return _subscription_job(ctx, "SUBSCRIBED", MAX_SUBSCRIBE)


def bulk_unsubscribe_profiles(ctx: Context) -> Reply:
    return _subscription_job(ctx, "UNSUBSCRIBED", MAX_UNSUBSCRIBE)


HANDLERS = {
    "bulk_create_events": bulk_create_events,
    "bulk_import_profiles": bulk_import_profiles,
    "get_bulk_import_profiles_job": get_bulk_import_profiles_job,
    "bulk_subscribe_profiles": bulk_subscribe_profiles,
    "bulk_unsubscribe_profiles": bulk_unsubscribe_profiles,
}
