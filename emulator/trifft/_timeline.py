"""Does a stream of TRIFFT events tell a consistent story? The checks behind the timeline property tests.

Per member, in stream order, every change between two consecutive member states must be explained by the event
between them. Streams filtered with ``kinds=`` set state up silently and are not expected to pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def _hundredths(points: float) -> int:
    return round(points * 100)


def _explain(before: dict[str, Any], event: dict[str, Any], credited: set[str]) -> list[str]:
    kind, data, after = event["kind"], event["data"], event["member"]
    problems: list[str] = []

    delta = _hundredths(after["points"]) - _hundredths(before["points"])
    moved = 0
    if kind in ("wallet_credited", "wallet_debited") and data["wallet"]["is_primary"]:
        moved = _hundredths(data["points"]) * (1 if kind == "wallet_credited" else -1)
        if data["wallet"]["points"] != _hundredths(after["points"]):
            problems.append("primary wallet balance disagrees with member.points")
    if delta != moved:
        problems.append(f"points moved by {delta / 100} but the event explains {moved / 100}")
    if (
        kind == "wallet_credited"
        and data["transaction_id"] is not None
        and data["transaction_id"] not in credited
    ):
        problems.append("credit refers to a transaction this member never made")

    old = {c["id"]: c["status"] for c in before["coupons"]}
    new = {c["id"]: c["status"] for c in after["coupons"]}
    expected = dict(old)
    step = {
        "coupon_assigned": (None, "assigned"),
        "coupon_activated": ("assigned", "activated"),
        "coupon_redeemed": ("activated", "redeemed"),
    }.get(kind)
    if step is not None:
        if old.get(data["id"]) != step[0]:
            problems.append(f"coupon {data['id']} was {old.get(data['id'])!r}, cannot become {step[1]!r}")
        expected[data["id"]] = step[1]
    if new != expected:
        problems.append("coupons changed in a way the event does not explain")

    old_segments = {s["id"] for s in before["segments"]}
    new_segments = {s["id"] for s in after["segments"]}
    expected_segments = set(old_segments)
    if kind == "added_to_segment":
        if data["id"] in old_segments:
            problems.append("added to a segment the member was already in")
        expected_segments.add(data["id"])
    elif kind == "removed_from_segment":
        if data["id"] not in old_segments:
            problems.append("removed from a segment the member was not in")
        expected_segments.discard(data["id"])
    if new_segments != expected_segments:
        problems.append("segments changed in a way the event does not explain")

    if kind == "favorite_venue_changed":
        if after["favorite_venue"] != {"id": data["id"], "name": data["name"]}:
            problems.append("favourite venue after the event is not the new venue")
    elif after["favorite_venue"] != before["favorite_venue"]:
        problems.append("favourite venue changed without a Favorite venue changed")

    if kind == "language_changed":
        if after["locale"] != data["language"] or before["locale"] == data["language"]:
            problems.append("language changed, but the member's locale does not show it")
    elif after["locale"] != before["locale"]:
        problems.append("locale changed without a Language changed")

    reason = data.get("reason") if kind == "profile_updated" else None
    for field, why in (("email", "email_changed"), ("phone", "phone_changed")):
        if after[field] != before[field] and reason != why:
            problems.append(f"{field} changed without a Profile updated ({why})")
    changed_params = {s for s in after["params"] if after["params"][s] != before["params"].get(s)}
    if changed_params and not (reason == "params_changed" and changed_params <= set(data["changed"])):
        problems.append(f"params {sorted(changed_params)} changed without a Profile updated saying so")
    if after["consents"] != before["consents"]:
        if reason not in ("consent_signed", "consent_revoked"):
            problems.append("consents changed without a Profile updated (consent)")
        elif data["consent"] not in after["consents"] or data["consent"]["signed"] != (
            reason == "consent_signed"
        ):
            problems.append("the consent in the event is not the member's consent after it")
    return problems


def inconsistencies(events: Iterable[dict[str, Any]]) -> list[str]:
    """Every way the stream's story does not hold together, as 'event <id> (kind, member): problem' lines."""
    last: dict[str, dict[str, Any]] = {}
    transactions: dict[str, set[str]] = {}
    project: Any = None
    found: list[str] = []
    for event in events:
        member_id, kind = event["member"]["id"], event["kind"]
        where = f"event {event['event_id']} ({kind}, member {member_id}, #{event['sequence']})"
        project = event["project"] if project is None else project
        problems = [] if event["project"] == project else ["project differs from the stream's first event"]
        previous = last.get(member_id)
        credited = transactions.setdefault(member_id, set())
        if previous is None:
            if event["sequence"] != 1:
                problems.append(f"first event of the member has sequence {event['sequence']}, not 1")
        else:
            if event["sequence"] != previous["sequence"] + 1:
                problems.append(f"sequence {event['sequence']} follows {previous['sequence']}")
            if event["occurred_at"] < previous["occurred_at"]:
                problems.append("occurred before the member's previous event")
            problems += _explain(previous["member"], event, credited)
        # Checked on every event: a Member verified is nearly always the member's first.
        if kind == "member_verified" and event["data"]["id"] != member_id:
            problems.append("Member verified carries another member's id")
        if kind == "transaction_created":
            credited.add(event["data"]["id"])
        last[member_id] = event
        found += [f"{where}: {problem}" for problem in problems]
    return found
