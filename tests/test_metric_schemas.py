"""Contract 2: the Klaviyo event properties of the 15 standard metrics, checked against the seed's samples."""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

import contracts

SAMPLES = Path(__file__).parent.parent / "fixtures" / "metrics"
KINDS = contracts.STANDARD_KINDS
#: Profile updated is the one open metric: every key besides these two is a project custom parameter.
PROFILE_UPDATED_REQUIRED = ("language", "klaviyoID")


def sample(kind: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SAMPLES / f"{kind}.json").read_text(encoding="utf-8"))
    return loaded


def found(kind: str, instance: Any) -> set[tuple[str, str]]:
    return {(v.pointer, v.rule) for v in contracts.metric_schema(kind).validate(instance)}


def test_there_is_one_schema_file_per_standard_kind() -> None:
    folder = resources.files("contracts") / "schemas" / "metrics"
    assert sorted(entry.name for entry in folder.iterdir()) == sorted(f"{kind}.json" for kind in KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_metric_schema_is_a_valid_draft_2020_12_schema_with_its_own_id(kind: str) -> None:
    contents = contracts.metric_schema(kind).contents
    Draft202012Validator.check_schema(contents)
    assert contents["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert contents["$id"] == f"https://trifft-klaviyo.invalid/schemas/metrics/{kind}.json"


@pytest.mark.parametrize("kind", KINDS)
def test_metric_schema_title_is_the_metric_name_as_the_seed_spells_it(kind: str) -> None:
    assert contracts.metric_schema(kind).title == contracts.METRIC_BY_KIND[kind]


@pytest.mark.parametrize("kind", KINDS)
def test_cleaned_seed_sample_validates_against_its_metric_schema(kind: str) -> None:
    assert contracts.metric_schema(kind).validate(sample(kind)) == []


@pytest.mark.parametrize(
    ("kind", "name"),
    [(kind, name) for kind in KINDS if kind != "profile_updated" for name in sample(kind)]
    + [("profile_updated", name) for name in PROFILE_UPDATED_REQUIRED],
)
def test_dropping_a_property_of_the_sample_is_caught_as_required(kind: str, name: str) -> None:
    payload = sample(kind)
    del payload[name]
    assert found(kind, payload) == {(f"/{name}", "required")}


@pytest.mark.parametrize("kind", [kind for kind in KINDS if kind != "profile_updated"])
def test_an_unexpected_property_is_caught(kind: str) -> None:
    payload = sample(kind) | {"unexpected": 1}
    assert found(kind, payload) == {("/unexpected", "additionalProperties")}


#: (kind, JSON pointer into the sample, broken value, the rule that must catch it)
BROKEN_VALUES = [
    ("member_verified", "/id", 42, "type"),
    ("member_verified", "/id", "BF428AF0-BF06-4BC4-A91B-91B5BDA6E211", "pattern"),
    ("coupon_assigned", "/coupon/created_at", "2024-08-08T14:02:38Z", "type"),
    ("coupon_assigned", "/id", "fa89ef32", "pattern"),
    ("coupon_activated", "/coupon/points", "20000", "type"),
    ("coupon_activated", "/coupon/is_enabled", "true", "type"),
    ("coupon_redeemed", "/coupon/updated_at", 1742477134.5, "type"),
    ("coupon_redeemed", "/coupon/points", -1, "minimum"),
    ("transaction_created", "/$value", "5.5", "type"),
    ("transaction_created", "/$value_currency", "eur", "pattern"),
    ("transaction_created", "/venue/address/lat", 43.60502235, "type"),
    ("transaction_created", "/venue/address/lng", "1,45124591", "pattern"),
    ("transaction_created", "/venue/created_at", "2024-07-29T07:31:55Z", "type"),
    ("transaction_created", "/venue/currency", "euro", "pattern"),
    ("transaction_created", "/items/0/sku", 1002722495, "type"),
    ("transaction_created", "/items/0/price", "5.5", "type"),
    ("transaction_created", "/items/0/qty", 0, "exclusiveMinimum"),
    ("transaction_created", "/items", {"name": "PINT - PARADISE IPA"}, "type"),
    ("transaction_created", "/venue_id", 6, "type"),
    ("wallet_credited", "/$value", "12.23", "type"),
    ("wallet_credited", "/points", 0, "exclusiveMinimum"),
    ("wallet_credited", "/transaction_id", "T-1137073931", "pattern"),
    ("wallet_credited", "/wallet/points", 2617.79, "type"),
    ("wallet_credited", "/wallet/created_at", "1738147448", "type"),
    ("wallet_debited", "/points", "12.23", "type"),
    ("wallet_debited", "/wallet/is_primary", 1, "type"),
    ("profile_updated", "/language", 7, "type"),
    ("profile_updated", "/language", "French", "pattern"),
    ("profile_updated", "/klaviyoID", "01jv2wktrc6asgahx559j2t8ar", "pattern"),
    ("profile_updated", "/klaviyoID", "01JV2WKTRC6ASGAHX559J2T8", "pattern"),
    ("app_opened", "/timestamp", "2025-05-12T18:37:28Z", "type"),
    ("app_opened", "/timestamp", 1747075048.5, "type"),
    ("app_opened", "/app_version", 2.15, "type"),
    ("favorite_venue_changed", "/venue/address/lat", 48.8711585, "type"),
    ("favorite_venue_changed", "/venue", None, "type"),
    ("favorite_venue_changed", "/venue/updated_at", None, "type"),
    ("added_to_segment", "/type", "custom", "enum"),
    ("added_to_segment", "/slug", "Custom Students", "pattern"),
    ("removed_from_segment", "/id", None, "type"),
    ("removed_from_segment", "/type", "ALL", "enum"),
    ("language_changed", "/language", "EN", "pattern"),
    ("language_changed", "/language", None, "type"),
    ("referral_code_provided", "/referrer_klaviyo_id", "", "pattern"),
    ("referral_code_provided", "/referrer_code", "", "minLength"),
    ("referral_code_provided", "/referrer_email", 0, "type"),
    ("referral_invited", "/referral_klaviyo_id", 123, "type"),
    ("referral_invited", "/email", None, "type"),
    ("referral_invited", "/referral_code", ["GW5OHL"], "type"),
]


def put(payload: dict[str, Any], pointer: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(payload)
    *parents, last = pointer.strip("/").split("/")
    target: Any = changed
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    target[int(last) if isinstance(target, list) else last] = value
    return changed


@pytest.mark.parametrize(("kind", "pointer", "value", "rule"), BROKEN_VALUES)
def test_a_wrong_value_is_caught_at_its_pointer_by_the_expected_rule(
    kind: str, pointer: str, value: Any, rule: str
) -> None:
    assert found(kind, put(sample(kind), pointer, value)) == {(pointer, rule)}


@pytest.mark.parametrize("extra", ["transaction_id", "$value"])
def test_wallet_debited_carries_neither_transaction_id_nor_value(extra: str) -> None:
    credited = sample("wallet_credited")
    debit = sample("wallet_debited") | {extra: credited[extra]}
    assert found("wallet_debited", debit) == {(f"/{extra}", "additionalProperties")}


def test_a_segment_metric_does_not_carry_is_internal() -> None:
    payload = sample("added_to_segment") | {"is_internal": False}
    assert found("added_to_segment", payload) == {("/is_internal", "additionalProperties")}


#: (kind, pointer, value): nulls the contract allows although the seed's sample has a value there.
ALLOWED_NULLS = [
    ("coupon_assigned", "/coupon/description", None),
    ("coupon_redeemed", "/coupon/points", None),
    ("transaction_created", "/items/0/sku", None),
    ("transaction_created", "/venue/logo", None),
    ("transaction_created", "/venue/address", None),
    ("transaction_created", "/venue/address/lat", None),
    ("wallet_credited", "/transaction_id", None),
    ("wallet_credited", "/wallet/suffix", None),
    ("profile_updated", "/klaviyoID", None),
    ("favorite_venue_changed", "/venue/verify_code", None),
    ("referral_code_provided", "/referrer_klaviyo_id", None),
    ("referral_code_provided", "/referrer_email", None),
    ("referral_code_provided", "/referrer_name", None),
    ("referral_invited", "/referral_klaviyo_id", None),
]


@pytest.mark.parametrize(("kind", "pointer", "value"), ALLOWED_NULLS)
def test_a_documented_null_is_accepted(kind: str, pointer: str, value: None) -> None:
    assert found(kind, put(sample(kind), pointer, value)) == set()


def test_an_e_commerce_transaction_has_no_venue_and_no_currency() -> None:
    payload = sample("transaction_created") | {
        "venue": None,
        "venue_id": None,
        "venue_name": None,
        "$value_currency": None,
    }
    assert found("transaction_created", payload) == set()


def test_a_transaction_without_venue_must_not_name_one() -> None:
    payload = sample("transaction_created") | {"venue": None}
    assert found("transaction_created", payload) == {("/venue_id", "type"), ("/venue_name", "type")}


@pytest.mark.parametrize("name", ["venue_id", "venue_name", "$value_currency"])
def test_a_transaction_with_a_venue_must_name_it_and_its_currency(name: str) -> None:
    payload = sample("transaction_created") | {name: None}
    assert found("transaction_created", payload) == {(f"/{name}", "type")}


def test_profile_updated_accepts_any_custom_parameter_value() -> None:
    payload = sample("profile_updated") | {
        "loyalty_level": 3,
        "spend": 12.5,
        "newsletter": False,
        "nickname": None,
        "preferences": {"drinks": ["IPA"]},
        "tags": ["vip", "local"],
    }
    assert found("profile_updated", payload) == set()


def test_profile_updated_without_custom_parameters_is_valid() -> None:
    payload = {name: sample("profile_updated")[name] for name in PROFILE_UPDATED_REQUIRED}
    assert found("profile_updated", payload) == set()


@pytest.mark.parametrize("name", ["$email", "params.first_name", "first name", "1st_name"])
def test_profile_updated_rejects_a_key_that_is_not_a_parameter_slug(name: str) -> None:
    violations = contracts.metric_schema("profile_updated").validate(sample("profile_updated") | {name: "x"})
    assert [(v.pointer, v.rule) for v in violations] == [("", "pattern")]
    assert repr(name) in violations[0].message


@pytest.mark.parametrize("kind", KINDS)
def test_metric_schema_is_found_by_its_klaviyo_name_and_by_its_kind(kind: str) -> None:
    by_name = contracts.metric_schema(contracts.METRIC_BY_KIND[kind])
    by_kind = contracts.metric_schema(kind)
    assert by_name.id == by_kind.id == f"https://trifft-klaviyo.invalid/schemas/metrics/{kind}.json"


def test_transaction_created_is_found_by_name_and_by_kind() -> None:
    assert contracts.metric_schema("Transaction created").validate(sample("transaction_created")) == []
    assert contracts.metric_schema("transaction_created").validate(sample("transaction_created")) == []


@pytest.mark.parametrize(
    "name",
    [
        "Coupon Redeemed",
        "coupon redeemed",
        "Transaction Created",
        "transaction-created",
        "Favourite venue changed",
        "Wallet credit",
        "Member Verified",
        "Referral Invited",
        "Order placed",
        "custom_webhook",
        "",
    ],
)
def test_a_misspelled_or_unknown_metric_name_is_an_unknown_schema(name: str) -> None:
    with pytest.raises(contracts.UnknownSchema) as caught:
        contracts.metric_schema(name)
    assert caught.value.name == name
    assert "Coupon redeemed" in caught.value.known
