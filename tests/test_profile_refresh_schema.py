"""Contract 3: the profile refresh the sync sends after every standard event."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

import contracts

FIXTURE = Path(__file__).parent.parent / "fixtures" / "profile" / "refresh.json"


def refresh(**properties: Any) -> dict[str, Any]:
    """The seed-built refresh, with ``properties`` merged into its custom properties."""
    loaded: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    loaded["properties"] |= properties
    return loaded


def found(instance: Any) -> set[tuple[str, str]]:
    return {(v.pointer, v.rule) for v in contracts.profile_refresh_schema().validate(instance)}


def test_profile_refresh_schema_is_a_valid_draft_2020_12_schema_with_its_own_id() -> None:
    contents = contracts.profile_refresh_schema().contents
    Draft202012Validator.check_schema(contents)
    assert contents["$id"] == "https://trifft-klaviyo.invalid/schemas/profile/refresh.json"


def test_every_catalogued_profile_property_is_described() -> None:
    described = contracts.profile_refresh_schema().contents["$defs"]["properties"]["properties"]
    assert sorted(described) == sorted(contracts.PROFILE_PROPERTIES)
    assert set(contracts.PROFILE_ATTRIBUTES) <= set(contracts.profile_refresh_schema().contents["properties"])


def test_a_refresh_with_a_tier_is_valid() -> None:
    assert refresh()["properties"]["trifft_tier"] == "Bronze"
    assert found(refresh()) == set()


def test_a_refresh_without_a_tier_is_valid() -> None:
    payload = refresh()
    del payload["properties"]["trifft_tier"]
    assert found(payload) == set()


@pytest.mark.parametrize(
    "value",
    ["Jane", "", 3, 12.5, True, None, "1997-06-14", "2025-05-12T12:34:56+02:00", {"size": "M"}, ["vip"]],
    ids=lambda value: type(value).__name__ + ":" + json.dumps(value),
)
def test_a_custom_parameter_may_hold_any_json_value(value: Any) -> None:
    assert found(refresh(favourite_drink=value)) == set()


def test_a_refresh_may_carry_email_and_phone_identifiers() -> None:
    payload = refresh() | {"email": "jane.doe@example.com", "phone_number": "+447700900123"}
    assert found(payload) == set()


def test_a_member_without_favourite_venue_card_or_coupons_is_valid() -> None:
    payload = refresh(
        trifft_fav_location_id=None,
        trifft_fav_location_name=None,
        trifft_primary_card_id=None,
        trifft_coupons=[],
        trifft_available_coupons=0,
        trifft_segments=[],
    )
    assert found(payload) == set()


def test_fractional_points_are_valid() -> None:
    assert found(refresh(trifft_points=2617.79)) == set()


def test_trifft_id_differing_from_external_id_is_left_to_the_behavioural_rules() -> None:
    description = contracts.profile_refresh_schema().contents["description"]
    assert found(refresh(trifft_id="15ab74f3-d9ba-41cf-8963-344e99381235")) == set()
    assert "trifft_id == external_id" in description
    assert "trifft_tier is present exactly when the project has tiers enabled" in description


@pytest.mark.parametrize("name", [*contracts.PROFILE_ATTRIBUTES, "properties"])
def test_a_missing_attribute_is_caught(name: str) -> None:
    payload = refresh()
    del payload[name]
    assert found(payload) == {(f"/{name}", "required")}


@pytest.mark.parametrize("name", [p for p in contracts.PROFILE_PROPERTIES if p != "trifft_tier"])
def test_a_missing_trifft_property_is_caught(name: str) -> None:
    payload = refresh()
    del payload["properties"][name]
    assert found(payload) == {(f"/properties/{name}", "required")}


#: (pointer, broken value, the rule that must catch it)
BROKEN_VALUES = [
    ("/external_id", "member-42", "pattern"),
    ("/locale", "French", "pattern"),
    ("/email", "jane.doe@example.com ", "pattern"),
    ("/email", "jane.doe", "pattern"),
    ("/email", None, "type"),
    ("/phone_number", "07700 900123", "pattern"),
    ("/phone_number", "+44 7700 900123", "pattern"),
    ("/phone_number", "+0447700900123", "pattern"),
    ("/phone_number", "+1234567890123456", "pattern"),
    ("/properties/trifft_points", "0", "type"),
    ("/properties/trifft_points", -0.01, "minimum"),
    ("/properties/trifft_available_coupons", 1.5, "type"),
    ("/properties/trifft_available_coupons", -1, "minimum"),
    ("/properties/trifft_id", "0864E6AF-C637-4274-996A-08069064D9B7", "pattern"),
    ("/properties/trifft_fav_location_id", "The Frog & British Library", "pattern"),
    ("/properties/trifft_fav_location_name", 7, "type"),
    ("/properties/trifft_primary_card_id", 9990000412006, "type"),
    ("/properties/trifft_support_id", "", "minLength"),
    ("/properties/trifft_tier", None, "type"),
    ("/properties/trifft_segments", "internal-registered-members", "type"),
    ("/properties/trifft_coupons", {}, "type"),
]


@pytest.mark.parametrize(("pointer", "value", "rule"), BROKEN_VALUES)
def test_a_wrong_value_is_caught_at_its_pointer_by_the_expected_rule(
    pointer: str, value: Any, rule: str
) -> None:
    payload = refresh()
    *parents, last = pointer.strip("/").split("/")
    target = payload
    for part in parents:
        target = target[part]
    target[last] = value
    assert found(payload) == {(pointer, rule)}


def test_trifft_segments_holding_segment_objects_is_caught() -> None:
    segment = {"id": "63a6862c-3075-4364-8bc2-254b24b3321f", "name": "Students", "slug": "custom-students"}
    assert found(refresh(trifft_segments=["internal-registered-members", segment])) == {
        ("/properties/trifft_segments/1", "type")
    }


def test_a_trifft_segment_that_is_not_a_slug_is_caught() -> None:
    assert found(refresh(trifft_segments=["Students"])) == {("/properties/trifft_segments/0", "pattern")}


def test_a_coupon_entry_missing_a_field_is_caught() -> None:
    payload = refresh()
    del payload["properties"]["trifft_coupons"][0]["expiration_at"]
    assert found(payload) == {("/properties/trifft_coupons/0/expiration_at", "required")}


def test_a_coupon_entry_with_an_iso_timestamp_is_caught() -> None:
    payload = refresh()
    payload["properties"]["trifft_coupons"][0]["valid_from"] = "2024-08-21T14:50:06Z"
    assert found(payload) == {("/properties/trifft_coupons/0/valid_from", "type")}


def test_a_coupon_entry_with_the_full_coupon_template_is_caught() -> None:
    payload = refresh()
    payload["properties"]["trifft_coupons"][0]["is_pinned"] = False
    assert found(payload) == {("/properties/trifft_coupons/0/is_pinned", "additionalProperties")}


@pytest.mark.parametrize("name", ["first_name", "$email", "id"])
def test_an_attribute_outside_the_contract_is_caught(name: str) -> None:
    assert found(refresh() | {name: "Jane"}) == {(f"/{name}", "additionalProperties")}


@pytest.mark.parametrize("name", ["$first_name", "params.first_name", "first name"])
def test_a_custom_property_that_is_not_a_parameter_slug_is_caught(name: str) -> None:
    assert found(refresh(**{name: "Jane"})) == {("/properties", "pattern")}
