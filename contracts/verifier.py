"""Judge a producer's traffic against the TRIFFT -> Klaviyo contract.

The input is ``Traffic`` (``contracts.traffic``): an account's request log and the observations of its
requests, as the fake Klaviyo recorded them or as ``decode_log`` reads a log captured elsewhere. Only requests
Klaviyo accepted (2xx, no injected fault) count as received. From their observations the verifier rebuilds, per
member (the profile's ``external_id``), the order in which Klaviyo saw events and profile refreshes, and checks:

1. ``metric-payload``: every event under one of the 15 standard metric names validates against that metric's
   schema; a name that is a standard one spelled differently is a misspelling.
2. ``refresh-follows-event``: each standard event is followed, in the same request or after it and before the
   member's next event, by a refresh with the full attribute set, whose values agree with the event.
3. ``webhook-no-refresh``: an event under a non-standard metric carries no ``trifft_*`` properties and no refresh
   follows it (a refresh immediately followed by a standard event belongs to that event).
4. ``no-system-segment``, ``no-duplicate``, ``identifiers``: no segment event for a system segment; no two Klaviyo
   events for one TRIFFT event; ``external_id`` is the member UUID and ``trifft_id`` equals it.
5. ``coverage``: which metrics, refresh attributes and endpoints the traffic exercised (failures only with
   ``require_all_metrics``); ``readable``: a captured body the verifier cannot read.
6. ``received``: a verdict on nothing is no verdict: traffic with no accepted request fails (a wrong API key or
   base URL looks exactly like a perfect producer otherwise), unless ``allow_empty``.

Each rule is one function from the member's story (or all of them) to violations; ``report`` renders them.
"""

from __future__ import annotations

import difflib
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

from ._catalog import METRIC_NAMES, PROFILE_PROPERTIES
from ._klaviyo import match_operation
from ._schemas import metric_schema, profile_refresh_schema
from ._story import Seen, at, story
from .report import MISSING, RULES, Report, Violation, junit
from .traffic import Traffic

__all__ = ["RULES", "Report", "Violation", "junit", "story", "verify"]

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


# -- the rules -------------------------------------------------------------------------------------------------


def metric_payloads(seen: list[Seen]) -> Iterator[Violation]:
    """``metric-payload``: standard metrics against their schemas; near-misses of a standard name."""
    lowered = {name.lower(): name for name in METRIC_NAMES}
    for s in seen:
        if s.kind != "event" or s.metric is None:
            continue
        if s.metric in METRIC_NAMES:
            for v in metric_schema(s.metric).validate(s.properties):
                yield s.violation(
                    "metric-payload",
                    f"{s.metric}: {v.message}",
                    f"{s.pointer}/properties{v.pointer}",
                    at(s.properties, v.pointer),
                    v.expected,
                )
            continue
        close = lowered.get(s.metric.strip().lower()) or next(
            iter(difflib.get_close_matches(s.metric, METRIC_NAMES, n=1, cutoff=0.85)), None
        )
        if close:
            yield s.violation(
                "metric-payload",
                f"metric name {s.metric!r} is {close!r} misspelled",
                f"{s.pointer}/metric/data/attributes/name",
                s.metric,
                close,
            )


def system_segments(seen: list[Seen]) -> Iterator[Violation]:
    """``no-system-segment``: TRIFFT's system segments are never sent."""
    for s in seen:
        if s.metric in ("Added to segment", "Removed from segment") and (
            s.properties.get("type") == "INTERNAL"
            or str(s.properties.get("slug", "")).startswith("internal-")
        ):
            yield s.violation(
                "no-system-segment",
                f"{s.metric} sent for system segment {s.properties.get('slug')!r}",
                f"{s.pointer}/properties/slug",
                s.properties.get("slug"),
            )


def identifiers(member: str | None, timeline: list[Seen]) -> Iterator[Violation]:
    """``identifiers``: every event and refresh names the member by its TRIFFT UUID, and trifft_id agrees."""
    if member is None:
        for s in timeline:
            what = f"event {s.metric}" if s.kind == "event" else "a refresh"
            yield s.violation("identifiers", f"{what} has no external_id", value=MISSING, expected="present")
        return
    if not _UUID.match(member):
        first = timeline[0]
        yield Violation(
            "identifiers",
            f"external_id {member!r} is not a TRIFFT member UUID",
            member,
            first.request,
            event_id=first.unique_id,
            value=member,
            expected="a TRIFFT member UUID",
        )
    for s in timeline:
        trifft_id = (s.profile.get("properties") or {}).get("trifft_id") if s.kind == "refresh" else None
        if trifft_id is not None and trifft_id != member:
            yield s.violation(
                "identifiers",
                f"trifft_id {trifft_id!r} differs from external_id",
                f"{s.pointer}/properties/trifft_id",
                trifft_id,
                member,
            )


def _window(timeline: list[Seen], index: int) -> tuple[list[Seen], bool]:
    """What follows an event up to the member's next event, and whether another event follows at all."""
    later = timeline[index + 1 :]
    next_event = next((i for i, o in enumerate(later) if o.kind == "event"), len(later))
    return later[:next_event], next_event < len(later)


def refreshes(member: str, timeline: list[Seen]) -> Iterator[Violation]:
    """``refresh-follows-event``: a complete refresh follows each standard event and agrees with it."""
    refresh_schema = profile_refresh_schema()
    for index, s in enumerate(timeline):
        if s.kind != "event" or s.metric not in METRIC_NAMES:
            continue
        window, _ = _window(timeline, index)
        refresh = next((o for o in window if o.kind == "refresh"), None)
        if refresh is None and s.same_request_refresh is not None:
            refresh = next((o for o in timeline if o.kind == "refresh" and o.request == s.request), None)
        if refresh is None:
            yield s.violation(
                "refresh-follows-event", f"no profile refresh after {s.metric} before the member's next event"
            )
            continue
        for v in refresh_schema.validate(refresh.profile):
            yield Violation(
                "refresh-follows-event",
                f"refresh after {s.metric} is incomplete: {v.message}",
                member,
                refresh.request,
                f"{refresh.pointer}{v.pointer}",
                s.unique_id,
                at(refresh.profile, v.pointer),
                v.expected,
            )
        touched_later = any(
            o.kind == "event"
            and o.request == s.request
            and o.order > s.order
            and _TOUCHES.get(o.metric or "") == _TOUCHES.get(s.metric or "-")
            for o in timeline
        )
        disagreement = None if touched_later else _agrees(s, refresh.profile)
        if disagreement:
            message, where, value, expected = disagreement
            yield Violation(
                "refresh-follows-event",
                message,
                member,
                refresh.request,
                f"{refresh.pointer}{where}",
                s.unique_id,
                value,
                expected,
            )


def webhooks(member: str, timeline: list[Seen]) -> Iterator[Violation]:
    """``webhook-no-refresh``: a custom webhook carries no trifft_* properties and no refresh follows it."""
    for index, s in enumerate(timeline):
        if s.kind != "event" or s.metric in METRIC_NAMES:
            continue
        leaked = sorted(set(s.profile.get("properties") or {}) & set(PROFILE_PROPERTIES))
        if leaked:
            yield s.violation(
                "webhook-no-refresh",
                f"custom event {s.metric!r} carries {', '.join(leaked)}",
                value=leaked,
                expected="no trifft_* properties",
            )
        window, more = _window(timeline, index)
        for position, o in enumerate(window):
            pre_refresh = position == len(window) - 1 and more
            if o.kind == "refresh" and o.request != s.request and not pre_refresh:
                yield Violation(
                    "webhook-no-refresh",
                    f"a profile refresh follows custom event {s.metric!r}",
                    member,
                    o.request,
                    o.pointer,
                    s.unique_id,
                )


def _agrees(event: Seen, refresh: dict[str, Any]) -> tuple[str, str, Any, Any] | None:
    """Why the refresh contradicts the event: (message, pointer within the refresh, value, expected), or None."""
    props, values = event.properties, refresh.get("properties") or {}
    name, slug = event.metric, props.get("slug")
    if name in ("Wallet credited", "Wallet debited"):
        wallet = props.get("wallet") or {}
        balance = wallet.get("points")
        points = values.get("trifft_points")
        primary = wallet.get("is_primary") and isinstance(balance, int | float)
        if primary and (not isinstance(points, int | float) or round(points * 100) != balance):
            message = f"trifft_points {points} is not the primary wallet balance {balance}/100"
            return (
                message,
                "/properties/trifft_points",
                points,
                balance / 100 if balance is not None else None,
            )
    elif name == "Added to segment" and slug not in (values.get("trifft_segments") or []):
        message = f"trifft_segments does not list {slug!r} after Added to segment"
        return message, "/properties/trifft_segments", values.get("trifft_segments"), f"a list with {slug!r}"
    elif name == "Removed from segment" and slug in (values.get("trifft_segments") or []):
        message = f"trifft_segments still lists {slug!r} after Removed from segment"
        return message, "/properties/trifft_segments", values.get("trifft_segments"), f"no {slug!r}"
    elif name == "Favorite venue changed" and values.get("trifft_fav_location_id") != props.get("id"):
        venue = values.get("trifft_fav_location_id")
        message = f"trifft_fav_location_id {venue!r} is not the new venue {props.get('id')!r}"
        return message, "/properties/trifft_fav_location_id", venue, props.get("id")
    elif name == "Language changed" and refresh.get("locale") != props.get("language"):
        message = f"locale {refresh.get('locale')!r} is not the new language {props.get('language')!r}"
        return message, "/locale", refresh.get("locale"), props.get("language")
    elif name in ("Coupon assigned", "Coupon activated", "Coupon redeemed"):
        coupons = values.get("trifft_coupons") or []
        if props.get("id") not in {c.get("id") for c in coupons if isinstance(c, dict)}:
            message = f"trifft_coupons does not list coupon {props.get('id')!r} after {name}"
            return message, "/properties/trifft_coupons", coupons, f"a coupon with id {props.get('id')!r}"
    elif name == "Member verified" and values.get("trifft_id") != props.get("id"):
        message = f"trifft_id {values.get('trifft_id')!r} is not the verified member {props.get('id')!r}"
        return message, "/properties/trifft_id", values.get("trifft_id"), props.get("id")
    return None


_TOUCHES = {
    "Wallet credited": "points",
    "Wallet debited": "points",
    "Added to segment": "segments",
    "Removed from segment": "segments",
    "Favorite venue changed": "venue",
    "Language changed": "locale",
    "Coupon assigned": "coupons",
    "Coupon activated": "coupons",
    "Coupon redeemed": "coupons",
}


#: Standard metrics whose properties name the TRIFFT occurrence itself: two events with the same such identity are
#: one TRIFFT event sent twice, whatever their unique_ids say.
_IDENTITY = {
    "Transaction created": ("id",),
    "Member verified": ("id",),
    "Wallet credited": ("transaction_id",),
}


def duplicates(member: str, timeline: list[Seen]) -> Iterator[Violation]:
    """``no-duplicate``: each standard event has a unique_id, and one TRIFFT occurrence is one Klaviyo event."""
    events = [s for s in timeline if s.kind == "event" and s.metric in METRIC_NAMES]
    for s in events:
        if s.unique_id is None:
            yield s.violation(
                "no-duplicate",
                f"{s.metric} sent without a unique_id: a retry would make a second Klaviyo event",
                f"{s.pointer}/unique_id",
                MISSING,
                "the TRIFFT event id",
            )
    groups: dict[tuple[str, str], list[Seen]] = defaultdict(list)
    for s in events:
        keys = _IDENTITY.get(s.metric or "")
        identity = [s.properties.get(k) for k in keys] if keys else None
        if identity and all(v is not None for v in identity):
            groups[(s.metric or "", json.dumps(identity))].append(s)
        elif s.unique_id is None:
            groups[(s.metric or "", json.dumps(s.properties, sort_keys=True))].append(s)
    for (metric, _), same in groups.items():
        if len({s.unique_id for s in same}) > 1 or (len(same) > 1 and same[0].unique_id is None):
            yield same[1].violation(
                "no-duplicate",
                f"{len(same)} {metric} events for one TRIFFT occurrence "
                f"(unique_ids: {', '.join(str(s.unique_id) for s in same)})",
                f"{same[1].pointer}/unique_id",
                [s.unique_id for s in same],
                "one event",
            )


def coverage(seen: list[Seen]) -> tuple[Counter[str], set[str]]:
    """The metrics sent (with counts) and the refresh attributes seen."""
    metrics: Counter[str] = Counter(s.metric for s in seen if s.kind == "event" and s.metric)
    attributes: set[str] = set()
    for s in seen:
        if s.kind == "refresh":
            attributes |= {k for k in ("locale", "external_id") if k in s.profile}
            attributes |= set(s.profile.get("properties") or {}) & set(PROFILE_PROPERTIES)
    return metrics, attributes


def received(traffic: Traffic) -> Iterator[Violation]:
    """``received``: at least one request was accepted, so there is something to judge."""
    if not traffic.requests:
        yield Violation(
            "received",
            "nothing was received for this API key: check the key and the base URL the producer was given",
        )
    elif not any(r.accepted for r in traffic.requests):
        refused = Counter(
            "throttled" if r.throttled else "failed by faults" if r.fault else "rejected"
            for r in traffic.requests
        )
        how = ", ".join(f"{n} {what}" for what, n in refused.items())
        yield Violation(
            "received",
            f"{len(traffic.requests)} request{'s' if len(traffic.requests) != 1 else ''} arrived and none was "
            f"accepted ({how}): nothing to judge",
            request=traffic.requests[0].seq,
        )


def verify(traffic: Traffic, require_all_metrics: bool = False, allow_empty: bool = False) -> Report:
    """Judge what one account sent. Traffic without an accepted request fails (rule ``received``) unless
    ``allow_empty``."""
    seen = story(traffic)
    violations = [] if allow_empty else list(received(traffic))
    violations += [
        Violation("readable", f"{request.method} {request.path} cannot be judged: {why}", None, request.seq)
        for request, why in traffic.unreadable
    ]
    violations += metric_payloads(seen)
    violations += system_segments(seen)
    by_member: dict[str | None, list[Seen]] = defaultdict(list)
    for s in seen:
        by_member[s.member].append(s)
    for member, timeline in by_member.items():
        violations += identifiers(member, timeline)
        if member is not None:
            violations += refreshes(member, timeline)
            violations += webhooks(member, timeline)
            violations += duplicates(member, timeline)
    metrics, attributes = coverage(seen)
    if require_all_metrics:
        violations += [
            Violation("coverage", f"no {name} event was sent") for name in METRIC_NAMES if not metrics[name]
        ]
    endpoints: Counter[str] = Counter()
    for request in traffic.requests:
        if request.accepted:
            operation = match_operation(request.method, request.path)
            endpoints[operation.summary if operation else request.path] += 1
    return Report(violations, metrics, attributes, endpoints, traffic.requests, require_all_metrics)
