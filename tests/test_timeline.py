"""The timeline checker can fail: each way of breaking a consistent stream's story is reported by name."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from emulator.trifft import generate, inconsistencies

Event = dict[str, Any]
STREAM: list[Event] = list(generate(800, seed=3, members=5))


def _index(kind: str, where: Callable[[Event], bool] = lambda e: True, first: bool = False) -> int:
    """The position of the first event of ``kind`` matching ``where``: a member's first event, or a later one."""
    seen: set[str] = set()
    for index, event in enumerate(STREAM):
        member_id = event["member"]["id"]
        if event["kind"] == kind and (member_id not in seen) == first and where(event):
            return index
        seen.add(member_id)
    raise LookupError(kind)


def _previous(index: int) -> Event:
    """The event before ``STREAM[index]`` of the same member."""
    member_id = STREAM[index]["member"]["id"]
    return next(e for e in reversed(STREAM[:index]) if e["member"]["id"] == member_id)


def _problems(index: int, breaking: Callable[[Event], None]) -> list[str]:
    """What the checker says about event ``index`` once ``breaking`` has changed a copy of it."""
    stream = copy.deepcopy(STREAM)
    breaking(stream[index])
    prefix = f"event {stream[index]['event_id']} "
    return [line.split(": ", 1)[1] for line in inconsistencies(stream) if line.startswith(prefix)]


def test_the_untouched_stream_is_consistent() -> None:
    assert inconsistencies(STREAM) == []


def test_points_changed_without_a_wallet_event_are_reported() -> None:
    index = _index("app_opened")

    def breaking(event: Event) -> None:
        event["member"]["points"] += 1

    assert "points moved by 1.0 but the event explains 0.0" in _problems(index, breaking)


def test_a_primary_wallet_balance_disagreeing_with_member_points_is_reported() -> None:
    index = _index("wallet_credited", lambda e: e["data"]["wallet"]["is_primary"])

    def breaking(event: Event) -> None:
        event["data"]["wallet"]["points"] += 100

    assert "primary wallet balance disagrees with member.points" in _problems(index, breaking)


def test_redeeming_a_coupon_that_was_only_assigned_is_reported() -> None:
    index = _index("coupon_activated")
    coupon_id = STREAM[index]["data"]["id"]

    def breaking(event: Event) -> None:
        event["kind"] = "coupon_redeemed"
        for coupon in event["member"]["coupons"]:
            if coupon["id"] == coupon_id:
                coupon["status"] = "redeemed"

    assert f"coupon {coupon_id} was 'assigned', cannot become 'redeemed'" in _problems(index, breaking)


def test_a_coupon_vanishing_is_reported() -> None:
    index = _index("app_opened", lambda e: bool(e["member"]["coupons"]))

    def breaking(event: Event) -> None:
        event["member"]["coupons"].pop()

    assert "coupons changed in a way the event does not explain" in _problems(index, breaking)


def test_leaving_a_segment_the_member_was_not_in_is_reported() -> None:
    index = _index("removed_from_segment")
    held = {s["id"] for s in _previous(index)["member"]["segments"]}
    other = next(e["data"] for e in STREAM if e["kind"] == "added_to_segment" and e["data"]["id"] not in held)

    def breaking(event: Event) -> None:
        event["data"].update(other)

    assert "removed from a segment the member was not in" in _problems(index, breaking)


def test_joining_a_segment_the_member_was_already_in_is_reported() -> None:
    index = _index("added_to_segment")
    held = _previous(index)["member"]["segments"][0]

    def breaking(event: Event) -> None:
        event["data"].update(held)

    assert "added to a segment the member was already in" in _problems(index, breaking)


def test_a_favourite_venue_changing_without_the_event_is_reported() -> None:
    index = _index("app_opened")
    venue = next(e["data"] for e in STREAM if e["kind"] == "favorite_venue_changed")

    def breaking(event: Event) -> None:
        event["member"]["favorite_venue"] = {"id": venue["id"], "name": venue["name"] + " (moved)"}

    assert "favourite venue changed without a Favorite venue changed" in _problems(index, breaking)


def test_a_locale_changing_without_language_changed_is_reported() -> None:
    index = _index("app_opened")

    def breaking(event: Event) -> None:
        event["member"]["locale"] = "pt-BR"

    assert "locale changed without a Language changed" in _problems(index, breaking)


def test_an_email_changing_without_profile_updated_is_reported() -> None:
    index = _index("transaction_created")

    def breaking(event: Event) -> None:
        event["member"]["email"] = "someone.else@example.org"

    assert "email changed without a Profile updated (email_changed)" in _problems(index, breaking)


def test_a_param_changing_without_params_changed_is_reported() -> None:
    index = _index("app_opened")

    def breaking(event: Event) -> None:
        event["member"]["params"]["visits"]["value"] = 10_001

    assert "params ['visits'] changed without a Profile updated saying so" in _problems(index, breaking)


def test_a_param_changing_beside_a_profile_update_naming_another_param_is_reported() -> None:
    index = _index("profile_updated", lambda e: e["data"]["reason"] == "params_changed")
    unnamed = next(
        slug for slug in STREAM[index]["member"]["params"] if slug not in STREAM[index]["data"]["changed"]
    )

    def breaking(event: Event) -> None:
        event["member"]["params"][unnamed]["value"] = "changed quietly"

    assert any("changed without a Profile updated saying so" in p for p in _problems(index, breaking))


def test_a_consent_flipped_without_a_consent_profile_update_is_reported() -> None:
    index = _index("app_opened")

    def breaking(event: Event) -> None:
        consent = event["member"]["consents"][2]
        consent["signed"] = not consent["signed"]

    assert "consents changed without a Profile updated (consent)" in _problems(index, breaking)


def test_a_sequence_gap_is_reported() -> None:
    index = _index("app_opened")
    before = _previous(index)["sequence"]

    def breaking(event: Event) -> None:
        event["sequence"] += 1

    assert f"sequence {before + 2} follows {before}" in _problems(index, breaking)


def test_a_first_event_with_sequence_two_is_reported() -> None:
    index = _index("app_opened", first=True)

    def breaking(event: Event) -> None:
        event["sequence"] = 2

    assert "first event of the member has sequence 2, not 1" in _problems(index, breaking)


def test_an_event_older_than_the_members_previous_one_is_reported() -> None:
    index = _index("app_opened")

    def breaking(event: Event) -> None:
        event["occurred_at"] = "2020-01-01T00:00:00Z"

    assert "occurred before the member's previous event" in _problems(index, breaking)


@pytest.mark.parametrize("first", [True, False], ids=["first-event", "later-event"])
def test_member_verified_with_another_members_id_is_reported(first: bool) -> None:
    index = _index("member_verified", first=first) if first else _index("app_opened")
    stranger = next(e["member"]["id"] for e in STREAM if e["member"]["id"] != STREAM[index]["member"]["id"])

    def breaking(event: Event) -> None:
        event["kind"], event["data"] = "member_verified", {"id": stranger}

    assert "Member verified carries another member's id" in _problems(index, breaking)


def test_a_credit_naming_a_transaction_the_member_never_made_is_reported() -> None:
    index = _index("wallet_credited", lambda e: e["data"]["transaction_id"] is not None)
    member_id = STREAM[index]["member"]["id"]
    someone_elses = next(
        e["data"]["id"]
        for e in STREAM
        if e["kind"] == "transaction_created" and e["member"]["id"] != member_id
    )

    def breaking(event: Event) -> None:
        event["data"]["transaction_id"] = someone_elses

    assert "credit refers to a transaction this member never made" in _problems(index, breaking)


def test_the_project_changing_mid_stream_is_reported() -> None:
    index = len(STREAM) // 2

    def breaking(event: Event) -> None:
        event["project"]["id"] = "00000000-0000-4000-8000-000000000000"

    assert "project differs from the stream's first event" in _problems(index, breaking)
