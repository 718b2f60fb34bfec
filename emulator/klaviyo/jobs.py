"""Bulk event creation (``POST /api/event-bulk-create-jobs``): events grouped per profile, up to 1,000 a job.

Klaviyo runs the job asynchronously; the emulator applies it when it is accepted, so a read right after sees
the result. Profile import jobs are in ``imports``, subscription jobs in ``consent``.
"""

from __future__ import annotations

from typing import Any

from . import events, profiles
from .errors import InvalidInput, Problem
from .types import Context, Reply

MAX_BULK_EVENTS = 1000


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


HANDLERS = {"bulk_create_events": bulk_create_events}
