from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given

import contracts
from emulator.trifft import generate
from emulator.trifft.strategies import events
from sync import map_event

FIXTURES = Path(__file__).parent.parent / "fixtures"
EVENT_BODY = contracts.endpoint_schema("POST", "/api/events")
IMPORT_BODY = contracts.endpoint_schema("POST", "/api/profile-import")


def _seed(kind: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / "metrics" / f"{kind}.json").read_text(encoding="utf-8"))
    return loaded


def _event(kind: str, data: dict[str, Any], **member: Any) -> dict[str, Any]:
    """A generated event of ``kind`` with its data replaced (and member fields overridden)."""
    event = copy.deepcopy(next(generate(1, seed=3, kinds=[kind], members=2)))
    event["data"] = data
    event["member"].update(member)
    return event


@given(events(edge=True))
def test_every_standard_event_maps_to_payloads_valid_against_all_contracts(event: dict[str, Any]) -> None:
    mapped = map_event(event)
    if mapped.skipped or mapped.webhook is not None or mapped.problems:
        assert event["kind"] in ("custom_webhook", "added_to_segment", "removed_from_segment")
        return
    assert mapped.metric == contracts.METRIC_BY_KIND[event["kind"]]
    assert contracts.metric_schema(mapped.metric).validate(mapped.properties) == []
    assert contracts.profile_refresh_schema().validate(mapped.profile) == []
    assert EVENT_BODY.validate(mapped.event_body()) == []
    assert IMPORT_BODY.validate(mapped.refresh_body()) == []


@pytest.mark.parametrize(
    "kind",
    [
        "member_verified",
        "coupon_assigned",
        "coupon_activated",
        "coupon_redeemed",
        "transaction_created",
        "wallet_credited",
        "wallet_debited",
        "app_opened",
        "favorite_venue_changed",
        "language_changed",
    ],
)
def test_the_seed_samples_come_out_exactly_as_the_seed_shows_them(kind: str) -> None:
    sample = _seed(kind)
    data = {k: v for k, v in sample.items() if not k.startswith("$")}
    mapped = map_event(_event(kind, data))
    assert mapped.properties == sample


@pytest.mark.parametrize("kind", ["added_to_segment", "removed_from_segment"])
def test_custom_segment_events_carry_the_seed_fields_and_system_ones_are_ignored(kind: str) -> None:
    sample = _seed(kind)
    assert map_event(_event(kind, {**sample, "is_internal": False})).properties == sample
    system = {
        "id": sample["id"],
        "name": "All members",
        "slug": "internal-all-members",
        "type": "INTERNAL",
        "is_internal": True,
    }
    ignored = map_event(_event(kind, system))
    assert ignored.skipped is not None and "system segment" in ignored.skipped
    assert ignored.metric is None and ignored.profile is None


def test_referral_events_carry_the_klaviyo_ids_the_sync_has_learned() -> None:
    provided, invited = _seed("referral_code_provided"), _seed("referral_invited")
    known = {
        "11111111-1111-4111-8111-111111111111": provided["referrer_klaviyo_id"],
        "22222222-2222-4222-8222-222222222222": invited["referral_klaviyo_id"],
    }
    mapped = map_event(
        _event(
            "referral_code_provided",
            {
                "referrer_id": "11111111-1111-4111-8111-111111111111",
                "referrer_email": provided["referrer_email"],
                "referrer_code": provided["referrer_code"],
                "referrer_name": provided["referrer_name"],
            },
        ),
        known.get,
    )
    assert mapped.properties == provided
    mapped = map_event(
        _event(
            "referral_invited",
            {
                "email": invited["email"],
                "referral_code": invited["referral_code"],
                "referral_id": "22222222-2222-4222-8222-222222222222",
            },
        ),
        known.get,
    )
    assert mapped.properties == invited
    unknown = map_event(
        _event(
            "referral_invited", {"email": "x@example.com", "referral_code": "AB12CD", "referral_id": None}
        ),
        known.get,
    )
    assert unknown.properties is not None and unknown.properties["referral_klaviyo_id"] is None


def test_profile_updated_carries_every_custom_parameter_language_and_the_klaviyo_id() -> None:
    sample = _seed("profile_updated")
    event = _event(
        "profile_updated",
        {"reason": "params_changed", "changed": ["first_name"], "consent": None},
        locale="fr",
        params={
            "dateOfBirth": {"type": "date", "value": "1997-06-14"},
            "first_name": {"type": "string", "value": "Jane"},
            "last_name": {"type": "string", "value": "Doe"},
        },
    )
    mapped = map_event(event, lambda member_id: sample["klaviyoID"])
    assert mapped.properties == sample


def test_transaction_value_is_the_basket_total_in_the_venue_currency() -> None:
    event = next(
        e for e in generate(400, seed=2) if e["kind"] == "transaction_created" and e["data"]["venue"]
    )
    mapped = map_event(event)
    total = round(sum(i["price"] * i["qty"] for i in event["data"]["items"]), 2)
    assert mapped.value == total and mapped.properties is not None and mapped.properties["$value"] == total
    assert mapped.value_currency == event["data"]["venue"]["currency"]
    assert mapped.event_body()["data"]["attributes"]["value_currency"] == mapped.value_currency


def test_an_e_commerce_transaction_has_no_currency() -> None:
    event = _event(
        "transaction_created",
        {**_seed("transaction_created"), "venue": None, "venue_id": None, "venue_name": None},
    )
    del event["data"]["$value"], event["data"]["$value_currency"]
    mapped = map_event(event)
    assert mapped.value_currency is None and mapped.properties is not None
    assert mapped.properties["$value_currency"] is None
    assert "value_currency" not in mapped.event_body()["data"]["attributes"]


def test_unique_id_and_time_come_from_the_trifft_event() -> None:
    event = next(generate(1, seed=9))
    body = map_event(event).event_body()["data"]["attributes"]
    assert body["unique_id"] == event["event_id"] and body["time"] == event["occurred_at"]


@pytest.mark.parametrize("tiers", [True, False])
def test_the_refresh_identifies_by_member_uuid_and_sends_the_tier_only_with_tiers_enabled(
    tiers: bool,
) -> None:
    event = next(generate(1, seed=9))
    event["project"]["tiers_enabled"] = tiers
    event["member"]["tier"] = "Gold" if tiers else None
    profile = map_event(event).profile
    assert profile is not None
    assert profile["external_id"] == profile["properties"]["trifft_id"] == event["member"]["id"]
    assert ("trifft_tier" in profile["properties"]) is tiers
    assert set(event["member"]["params"]) <= set(profile["properties"])


def test_the_refresh_counts_available_coupons_and_lists_them_all() -> None:
    event = next(generate(1, seed=9))
    base = {
        "coupon_id": "33333333-3333-4333-8333-333333333333",
        "name": "x",
        "img_logo": None,
        "valid_from": None,
        "valid_until": None,
        "expiration_at": None,
        "points": None,
    }
    event["member"]["coupons"] = [
        {**base, "id": f"4444444{i}-4444-4444-8444-444444444444", "status": status}
        for i, status in enumerate(["assigned", "activated", "redeemed"])
    ]
    properties = map_event(event).profile["properties"]  # type: ignore[index]
    assert properties["trifft_available_coupons"] == 2 and len(properties["trifft_coupons"]) == 3
    assert "status" not in properties["trifft_coupons"][0]


def test_phones_are_sent_in_e164_and_emails_without_surrounding_spaces() -> None:
    event = next(generate(1, seed=9))
    event["member"].update(phone="+44 7700 900123", email=" jane@example.com ")
    profile = map_event(event).profile
    assert (
        profile is not None
        and profile["phone_number"] == "+447700900123"
        and profile["email"] == "jane@example.com"
    )
    event["member"].update(phone="12", email=None)
    profile = map_event(event).profile
    assert profile is not None and "phone_number" not in profile and "email" not in profile


def test_an_email_longer_than_klaviyo_takes_is_left_off_the_profile() -> None:
    # "The profile's valid email address (must be <= 100 characters)":
    # https://developers.klaviyo.com/en/reference/profiles_api_overview
    event = next(generate(1, seed=9))
    event["member"].update(email="x" * 88 + "@example.com")  # exactly 100
    assert map_event(event).profile["email"] == "x" * 88 + "@example.com"  # type: ignore[index]
    event["member"].update(email="x" * 89 + "@example.com")
    profile = map_event(event).profile
    assert profile is not None and "email" not in profile and profile["external_id"] == event["member"]["id"]


def test_a_custom_webhook_is_passed_through_without_a_refresh_or_its_api_key() -> None:
    event = next(e for e in generate(500, seed=1) if e["kind"] == "custom_webhook")
    mapped = map_event(event)
    assert mapped.profile is None and mapped.metric is None and mapped.webhook is not None
    assert mapped.webhook.path == "/api/events" and mapped.webhook.method == "POST"
    assert mapped.webhook.body == json.loads(event["data"]["rendered_body"])
    assert all(name.lower() != "authorization" for name in mapped.webhook.headers)
    assert mapped.webhook.name == event["data"]["webhook"]["name"]


def test_a_webhook_body_that_is_not_json_is_reported_with_its_position() -> None:
    event = json.loads((FIXTURES / "edge" / "custom_webhook_null_param.json").read_text(encoding="utf-8"))
    mapped = map_event(event)
    assert mapped.webhook is None and len(mapped.problems) == 1
    body = event["data"]["rendered_body"]
    try:
        json.loads(body)
    except json.JSONDecodeError as error:
        assert f"line {error.lineno}, column {error.colno}" in mapped.problems[0]


def test_a_webhook_body_with_a_control_character_reads_without_a_doubled_at() -> None:
    event = next(e for e in generate(500, seed=1) if e["kind"] == "custom_webhook")
    event["data"]["rendered_body"] = '{"note": "tab\there"}'
    [problem] = map_event(event).problems
    assert problem == (
        "the rendered body is not JSON: Invalid control character at line 1, column 14 (character 13)"
    )


@pytest.mark.parametrize(("reason", "subscribed"), [("consent_signed", True), ("consent_revoked", False)])
def test_marketing_consent_changes_become_subscriptions(reason: str, subscribed: bool) -> None:
    event = next(generate(1, seed=9))
    consent = {
        "id": "55555555-5555-4555-8555-555555555555",
        "type": "OUT_EMAIL",
        "slug": "email-news",
        "version": 1,
        "signed": subscribed,
        "signed_at": 1 if subscribed else None,
    }
    event = _event(
        "profile_updated",
        {"reason": reason, "changed": ["email-news"], "consent": consent},
        email="jane@example.com",
    )
    [change] = map_event(event).subscriptions
    assert (
        change.channel == "email" and change.subscribed is subscribed and change.email == "jane@example.com"
    )


def test_a_terms_consent_is_not_a_subscription() -> None:
    consent = {
        "id": "55555555-5555-4555-8555-555555555555",
        "type": "TC",
        "slug": "terms",
        "version": 1,
        "signed": True,
        "signed_at": 1,
    }
    event = _event("profile_updated", {"reason": "consent_signed", "changed": ["terms"], "consent": consent})
    assert map_event(event).subscriptions == []
