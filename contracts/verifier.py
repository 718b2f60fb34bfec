"""Judge a producer's traffic against the TRIFFT -> Klaviyo contract, from what the emulator received.

The input is the emulator's request log for one account (``GET /_emulator/requests``): only requests Klaviyo
accepted (2xx) count as received. From them the verifier rebuilds, per member (the profile's ``external_id``), the
order in which Klaviyo saw events and profile refreshes, and checks five rules:

1. ``metric-payload``: every event under one of the 15 standard metric names validates against that metric's
   schema; a name that is a standard one spelled differently is a misspelling.
2. ``refresh-follows-event``: each standard event is followed, in the same request or after it and before the
   member's next event, by a refresh with the full attribute set, whose values agree with the event.
3. ``webhook-no-refresh``: an event under a non-standard metric carries no ``trifft_*`` properties and no refresh
   follows it (a refresh immediately followed by a standard event belongs to that event).
4. ``no-system-segment``, ``no-duplicate``, ``identifiers``: no segment event for a system segment; no two Klaviyo
   events for one TRIFFT event; ``external_id`` is the member UUID and ``trifft_id`` equals it.
5. ``coverage``: which metrics, refresh attributes and endpoints the traffic exercised (failures only with
   ``require_all_metrics``).
"""

from __future__ import annotations

import difflib
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from ._catalog import METRIC_NAMES, PROFILE_PROPERTIES
from ._schemas import metric_schema, profile_refresh_schema

RULES = (
    "readable",
    "metric-payload",
    "refresh-follows-event",
    "webhook-no-refresh",
    "no-system-segment",
    "no-duplicate",
    "identifiers",
    "coverage",
)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_ENDPOINTS = {
    ("POST", "/api/events"): "Create Event",
    ("POST", "/api/event-bulk-create-jobs"): "Bulk Create Events",
    ("POST", "/api/profile-import"): "Create or Update Profile",
    ("POST", "/api/profiles"): "Create Profile",
    ("PATCH", "/api/profiles/{id}"): "Update Profile",
    ("POST", "/api/profile-bulk-import-jobs"): "Bulk Import Profiles",
    ("POST", "/api/profile-subscription-bulk-create-jobs"): "Bulk Subscribe",
    ("POST", "/api/profile-subscription-bulk-delete-jobs"): "Bulk Unsubscribe",
    ("GET", "/api/profiles"): "Get Profiles",
    ("GET", "/api/events"): "Get Events",
    ("GET", "/api/metrics"): "Get Metrics",
}


@dataclass(frozen=True)
class Violation:
    rule: str
    message: str
    member: str | None = None
    request: int | None = None  # the request's seq in the emulator's log
    pointer: str | None = None

    def __str__(self) -> str:
        where = [
            f"member {self.member}" if self.member else "",
            f"request #{self.request}" if self.request else "",
            f"at {self.pointer}" if self.pointer else "",
        ]
        return f"[{self.rule}] {self.message}" + (
            f" ({', '.join(w for w in where if w)})" if any(where) else ""
        )


@dataclass
class _Seen:
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


@dataclass
class Report:
    violations: list[Violation]
    metrics: Counter[str]
    attributes: set[str]
    endpoints: Counter[str]
    requests: int
    rejected: int
    require_all_metrics: bool = False

    @property
    def ok(self) -> bool:
        return not self.violations

    def missing_metrics(self) -> list[str]:
        return [name for name in METRIC_NAMES if not self.metrics[name]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "requests": self.requests,
            "rejected_requests": self.rejected,
            "violations": [v.__dict__ for v in self.violations],
            "coverage": {
                "metrics": {name: self.metrics[name] for name in METRIC_NAMES},
                "other_metrics": {k: v for k, v in self.metrics.items() if k not in METRIC_NAMES},
                "refresh_attributes": sorted(self.attributes),
                "missing_refresh_attributes": [
                    a for a in ("locale", "external_id", *PROFILE_PROPERTIES) if a not in self.attributes
                ],
                "endpoints": dict(self.endpoints),
            },
        }

    def text(self) -> str:
        lines = [
            f"{'PASS' if self.ok else 'FAIL'}: {self.requests} accepted requests judged "
            f"({self.rejected} rejected by Klaviyo not counted), {len(self.violations)} violations"
        ]
        by_rule = Counter(v.rule for v in self.violations)
        for rule in RULES:
            if by_rule[rule]:
                lines.append(f"  {rule}: {by_rule[rule]}")
        for violation in self.violations[:50]:
            lines.append(f"  - {violation}")
        if len(self.violations) > 50:
            lines.append(f"  ... and {len(self.violations) - 50} more (see --json)")
        seen = [name for name in METRIC_NAMES if self.metrics[name]]
        lines.append(
            f"coverage: {len(seen)}/15 standard metrics"
            + (f"; never sent: {', '.join(self.missing_metrics())}" if self.missing_metrics() else "")
        )
        missing = self.to_dict()["coverage"]["missing_refresh_attributes"]
        lines.append(
            f"refresh attributes seen: {len(self.attributes & {'locale', 'external_id', *PROFILE_PROPERTIES})}"
            f"/{2 + len(PROFILE_PROPERTIES)}" + (f"; never sent: {', '.join(missing)}" if missing else "")
        )
        lines.append("endpoints: " + ", ".join(f"{name} x{count}" for name, count in self.endpoints.items()))
        return "\n".join(lines)


def _template(method: str, path: str) -> tuple[str, str]:
    parts = path.rstrip("/").split("/")
    if len(parts) == 4 and parts[2] == "profiles":
        return method, "/api/profiles/{id}"
    return method, "/".join(parts) or "/"


class _Unreadable(ValueError):
    pass


def _observe(record: dict[str, Any], order: list[int]) -> list[_Seen]:
    """What one accepted request tells: events and refreshes, in the order the request implies."""
    method, path = _template(record["method"], record["path"])
    try:
        body = json.loads(record["request_body"] or "null")
    except ValueError as error:
        raise _Unreadable(f"its body is not JSON ({error})") from None
    seq = record["seq"]

    def next_order() -> int:
        order[0] += 1
        return order[0]

    def member_of(attributes: dict[str, Any]) -> str | None:
        value = attributes.get("external_id")
        return value if isinstance(value, str) else None

    found: list[_Seen] = []
    try:
        data = body["data"]
        if (method, path) == ("POST", "/api/events"):
            attributes = data["attributes"]
            profile = attributes["profile"]["data"].get("attributes") or {}
            seen = _Seen(
                "event",
                seq,
                next_order(),
                member_of(profile),
                attributes["metric"]["data"]["attributes"]["name"],
                attributes.get("properties") or {},
                attributes.get("unique_id"),
                profile,
                "/data/attributes",
            )
            found.append(seen)
            if profile.get("properties", {}).keys() & set(PROFILE_PROPERTIES):
                seen.same_request_refresh = profile
                found.append(
                    _Seen(
                        "refresh",
                        seq,
                        next_order(),
                        member_of(profile),
                        profile=profile,
                        pointer="/data/attributes/profile/data/attributes",
                    )
                )
        elif (method, path) == ("POST", "/api/event-bulk-create-jobs"):
            for g, group in enumerate(data["attributes"]["events-bulk-create"]["data"]):
                profile = group["attributes"]["profile"]["data"].get("attributes") or {}
                member = member_of(profile)
                carries = bool(profile.get("properties", {}).keys() & set(PROFILE_PROPERTIES))
                for e, event in enumerate(group["attributes"]["events"]["data"]):
                    attributes = event["attributes"]
                    seen = _Seen(
                        "event",
                        seq,
                        next_order(),
                        member,
                        attributes["metric"]["data"]["attributes"]["name"],
                        attributes.get("properties") or {},
                        attributes.get("unique_id"),
                        profile,
                        f"/data/attributes/events-bulk-create/data/{g}/attributes/events/data/{e}/attributes",
                    )
                    seen.same_request_refresh = profile if carries else None
                    found.append(seen)
                if carries:
                    found.append(
                        _Seen(
                            "refresh",
                            seq,
                            next_order(),
                            member,
                            profile=profile,
                            pointer=f"/data/attributes/events-bulk-create/data/{g}/attributes/profile",
                        )
                    )
        elif (method, path) in (
            ("POST", "/api/profile-import"),
            ("POST", "/api/profiles"),
            ("PATCH", "/api/profiles/{id}"),
        ):
            profile = data.get("attributes") or {}
            found.append(
                _Seen(
                    "refresh",
                    seq,
                    next_order(),
                    member_of(profile),
                    profile=profile,
                    pointer="/data/attributes",
                )
            )
        elif (method, path) == ("POST", "/api/profile-bulk-import-jobs"):
            for i, row in enumerate(data["attributes"]["profiles"]["data"]):
                profile = row.get("attributes") or {}
                found.append(
                    _Seen(
                        "refresh",
                        seq,
                        next_order(),
                        member_of(profile),
                        profile=profile,
                        pointer=f"/data/attributes/profiles/data/{i}/attributes",
                    )
                )
    except (KeyError, TypeError, AttributeError) as error:
        raise _Unreadable(
            f"its body is not the shape Klaviyo accepts ({type(error).__name__}: {error})"
        ) from None
    return found


def _agrees(event: _Seen, refresh: dict[str, Any]) -> str | None:
    """Why the refresh contradicts the event, or None."""
    props, values = event.properties, refresh.get("properties") or {}
    name = event.metric
    if name in ("Wallet credited", "Wallet debited"):
        wallet = props.get("wallet") or {}
        balance = wallet.get("points")
        points = values.get("trifft_points")
        primary = wallet.get("is_primary") and isinstance(balance, int | float)
        if primary and (not isinstance(points, int | float) or round(points * 100) != balance):
            return f"trifft_points {points} is not the primary wallet balance {balance}/100"
    elif name == "Added to segment" and props.get("slug") not in (values.get("trifft_segments") or []):
        return f"trifft_segments does not list {props.get('slug')!r} after Added to segment"
    elif name == "Removed from segment" and props.get("slug") in (values.get("trifft_segments") or []):
        return f"trifft_segments still lists {props.get('slug')!r} after Removed from segment"
    elif name == "Favorite venue changed" and values.get("trifft_fav_location_id") != props.get("id"):
        venue = values.get("trifft_fav_location_id")
        return f"trifft_fav_location_id {venue!r} is not the new venue {props.get('id')!r}"
    elif name == "Language changed" and refresh.get("locale") != props.get("language"):
        return f"locale {refresh.get('locale')!r} is not the new language {props.get('language')!r}"
    elif name in ("Coupon assigned", "Coupon activated", "Coupon redeemed"):
        if props.get("id") not in {
            c.get("id") for c in values.get("trifft_coupons") or [] if isinstance(c, dict)
        }:
            return f"trifft_coupons does not list coupon {props.get('id')!r} after {name}"
    elif name == "Member verified" and values.get("trifft_id") != props.get("id"):
        return f"trifft_id {values.get('trifft_id')!r} is not the verified member {props.get('id')!r}"
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


def _duplicates(member: str, events: list[_Seen]) -> list[Violation]:
    found = []
    for s in events:
        if s.unique_id is None:
            found.append(
                Violation(
                    "no-duplicate",
                    f"{s.metric} sent without a unique_id: a retry would make a second Klaviyo event",
                    member,
                    s.request,
                    s.pointer,
                )
            )
    groups: dict[tuple[str, str], list[_Seen]] = defaultdict(list)
    for s in events:
        keys = _IDENTITY.get(s.metric or "")
        identity = [s.properties.get(k) for k in keys] if keys else None
        if identity and all(v is not None for v in identity):
            groups[(s.metric or "", json.dumps(identity))].append(s)
        elif s.unique_id is None:
            groups[(s.metric or "", json.dumps(s.properties, sort_keys=True))].append(s)
    for (metric, _), same in groups.items():
        if len({s.unique_id for s in same}) > 1 or (len(same) > 1 and same[0].unique_id is None):
            found.append(
                Violation(
                    "no-duplicate",
                    f"{len(same)} {metric} events for one TRIFFT occurrence "
                    f"(unique_ids: {', '.join(str(s.unique_id) for s in same)})",
                    member,
                    same[1].request,
                    same[1].pointer,
                )
            )
    return found


def junit(report: Report, path: str) -> None:
    """Write the verdict as JUnit XML: one test case per rule, failures listing its violations."""
    from xml.etree import ElementTree as ET

    by_rule: dict[str, list[Violation]] = defaultdict(list)
    for violation in report.violations:
        by_rule[violation.rule].append(violation)
    suite = ET.Element(
        "testsuite",
        name="trifft-klaviyo contract",
        tests=str(len(RULES)),
        failures=str(sum(1 for rule in RULES if by_rule[rule])),
    )
    for rule in RULES:
        case = ET.SubElement(suite, "testcase", classname="contract", name=rule)
        if by_rule[rule]:
            failure = ET.SubElement(case, "failure", message=f"{len(by_rule[rule])} violations")
            failure.text = "\n".join(str(v) for v in by_rule[rule])
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


def fetch(base_url: str, api_key: str, transport: Any = None) -> list[dict[str, Any]]:
    """The emulator's whole request log for one account, page by page."""
    import httpx

    records: list[dict[str, Any]] = []
    after = 0
    with httpx.Client(base_url=base_url.rstrip("/"), transport=transport, timeout=30) as http:
        while True:
            response = http.get("/_emulator/requests", params={"key": api_key, "after": after, "limit": 1000})
            response.raise_for_status()
            page = response.json()
            records += page["data"]
            if not page["data"]:
                return records
            after = page["next_after"]


def verify(records: list[dict[str, Any]], require_all_metrics: bool = False) -> Report:
    """Judge the emulator's request log of one account (as ``/_emulator/requests`` returns it)."""
    accepted = [r for r in records if 200 <= int(r["status"]) < 300 and r.get("fault") is None]
    order = [0]
    seen: list[_Seen] = []
    violations: list[Violation] = []
    for record in sorted(accepted, key=lambda r: r["seq"]):
        method, path = _template(record["method"], record["path"])
        if method == "GET" or (method, path) not in _ENDPOINTS:
            continue
        try:
            seen += _observe(record, order)
        except _Unreadable as error:
            violations.append(
                Violation(
                    "readable",
                    f"{record['method']} {record['path']} cannot be judged: {error}",
                    None,
                    record["seq"],
                )
            )
    endpoints: Counter[str] = Counter()
    for record in accepted:
        endpoints[_ENDPOINTS.get(_template(record["method"], record["path"]), record["path"])] += 1
    metrics: Counter[str] = Counter(s.metric for s in seen if s.kind == "event" and s.metric)
    attributes: set[str] = set()
    refresh_schema = profile_refresh_schema()
    lowered = {name.lower(): name for name in METRIC_NAMES}

    for s in seen:
        if s.kind == "refresh":
            attributes |= {k for k in ("locale", "external_id") if k in s.profile}
            attributes |= set(s.profile.get("properties") or {}) & set(PROFILE_PROPERTIES)
            continue
        assert s.metric is not None
        if s.metric in METRIC_NAMES:
            for v in metric_schema(s.metric).validate(s.properties):
                violations.append(
                    Violation(
                        "metric-payload",
                        f"{s.metric}: {v.message}",
                        s.member,
                        s.request,
                        f"{s.pointer}/properties{v.pointer}",
                    )
                )
        else:
            close = lowered.get(s.metric.strip().lower()) or next(
                iter(difflib.get_close_matches(s.metric, METRIC_NAMES, n=1, cutoff=0.85)), None
            )
            if close:
                violations.append(
                    Violation(
                        "metric-payload",
                        f"metric name {s.metric!r} is {close!r} misspelled",
                        s.member,
                        s.request,
                        f"{s.pointer}/metric/data/attributes/name",
                    )
                )
        if s.metric in ("Added to segment", "Removed from segment") and (
            s.properties.get("type") == "INTERNAL"
            or str(s.properties.get("slug", "")).startswith("internal-")
        ):
            violations.append(
                Violation(
                    "no-system-segment",
                    f"{s.metric} sent for system segment {s.properties.get('slug')!r}",
                    s.member,
                    s.request,
                    s.pointer,
                )
            )

    by_member: dict[str | None, list[_Seen]] = defaultdict(list)
    for s in seen:
        by_member[s.member].append(s)
    for member, timeline in by_member.items():
        if member is None:
            for s in timeline:
                violations.append(
                    Violation(
                        "identifiers",
                        f"{'event ' + str(s.metric) if s.kind == 'event' else 'a refresh'} has no external_id",
                        None,
                        s.request,
                        s.pointer,
                    )
                )
            continue
        if not _UUID.match(member):
            violations.append(
                Violation(
                    "identifiers",
                    f"external_id {member!r} is not a TRIFFT member UUID",
                    member,
                    timeline[0].request,
                )
            )
        events = [s for s in timeline if s.kind == "event"]
        for s in timeline:
            if s.kind == "refresh":
                trifft_id = (s.profile.get("properties") or {}).get("trifft_id")
                if trifft_id is not None and trifft_id != member:
                    violations.append(
                        Violation(
                            "identifiers",
                            f"trifft_id {trifft_id!r} differs from external_id",
                            member,
                            s.request,
                            s.pointer,
                        )
                    )
        for index, s in enumerate(timeline):
            if s.kind != "event":
                continue
            later = timeline[index + 1 :]
            next_event = next((i for i, o in enumerate(later) if o.kind == "event"), len(later))
            window = later[:next_event]
            if s.metric in METRIC_NAMES:
                refresh = next((o for o in window if o.kind == "refresh"), None)
                if refresh is None and s.same_request_refresh is not None:
                    refresh = next(
                        (o for o in timeline if o.kind == "refresh" and o.request == s.request), None
                    )
                if refresh is None:
                    violations.append(
                        Violation(
                            "refresh-follows-event",
                            f"no profile refresh after {s.metric} before the member's next event",
                            member,
                            s.request,
                            s.pointer,
                        )
                    )
                    continue
                for v in refresh_schema.validate(refresh.profile):
                    violations.append(
                        Violation(
                            "refresh-follows-event",
                            f"refresh after {s.metric} is incomplete: {v.message}",
                            member,
                            refresh.request,
                            f"{refresh.pointer}{v.pointer}",
                        )
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
                    violations.append(
                        Violation(
                            "refresh-follows-event", disagreement, member, refresh.request, refresh.pointer
                        )
                    )
            else:
                leaked = sorted(set(s.profile.get("properties") or {}) & set(PROFILE_PROPERTIES))
                if leaked:
                    violations.append(
                        Violation(
                            "webhook-no-refresh",
                            f"custom event {s.metric!r} carries {', '.join(leaked)}",
                            member,
                            s.request,
                            s.pointer,
                        )
                    )
                for position, o in enumerate(window):
                    pre_refresh = position == len(window) - 1 and next_event < len(later)
                    if o.kind == "refresh" and o.request != s.request and not pre_refresh:
                        violations.append(
                            Violation(
                                "webhook-no-refresh",
                                f"a profile refresh follows custom event {s.metric!r}",
                                member,
                                o.request,
                                o.pointer,
                            )
                        )
        violations += _duplicates(member, [s for s in events if s.metric in METRIC_NAMES])
    if require_all_metrics:
        for name in METRIC_NAMES:
            if not metrics[name]:
                violations.append(Violation("coverage", f"no {name} event was sent"))
    rejected = sum(1 for r in records if int(r["status"]) >= 400)
    return Report(violations, metrics, attributes, endpoints, len(accepted), rejected, require_all_metrics)
