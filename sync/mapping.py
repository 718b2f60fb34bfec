"""TRIFFT member events in, Klaviyo request bodies out: pure functions, no I/O.

For each standard event: one Create Event whose metric name and properties are exactly the seed page's, with
``unique_id`` derived from the TRIFFT event id (so retries and redeliveries never make two Klaviyo events), and
the profile refresh: the 13 attributes plus every custom parameter, as of this event. Added/Removed segment for
a system segment is ignored entirely. A custom webhook is passed through as configured, without a refresh; its
rendered body must be JSON, else it is reported with the position where parsing failed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from contracts import CUSTOM_WEBHOOK, METRIC_BY_KIND, MalformedPayload, parse_json

#: Klaviyo profile id of a TRIFFT member, when the sync has learned it (None otherwise).
KlaviyoIds = Callable[[str], str | None]

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_COUPON_FIELDS = ("id", "name", "img_logo", "valid_from", "valid_until", "expiration_at", "points")
_MARKETING = {"OUT_EMAIL": ("email",), "OUT_SMS": ("sms",), "OUT_MARKETING": ("email", "sms")}


def _no_ids(member_id: str) -> str | None:
    return None


@dataclass(frozen=True)
class Subscription:
    """A marketing consent change to mirror as a Klaviyo (un)subscription."""

    channel: str  # email or sms
    subscribed: bool
    email: str | None
    phone_number: str | None

    def job(self) -> tuple[str, str, dict[str, Any]]:
        """The Bulk (Un)subscribe Profiles request for this change: operation, path and body."""
        attributes: dict[str, Any] = {}
        if self.email is not None:
            attributes["email"] = self.email
        if self.phone_number is not None:
            attributes["phone_number"] = self.phone_number
        consent = "SUBSCRIBED" if self.subscribed else "UNSUBSCRIBED"
        attributes["subscriptions"] = {self.channel: {"marketing": {"consent": consent}}}
        kind = "profile-subscription-bulk-" + ("create-job" if self.subscribed else "delete-job")
        job: dict[str, Any] = {"profiles": {"data": [{"type": "profile", "attributes": attributes}]}}
        if self.subscribed:
            job["custom_source"] = "TRIFFT"
        operation = "bulk_subscribe_profiles" if self.subscribed else "bulk_unsubscribe_profiles"
        return operation, f"/api/{kind}s", {"data": {"type": kind, "attributes": job}}


@dataclass(frozen=True)
class Webhook:
    """A custom webhook's request, passed through as configured in TRIFFT, without its Authorization header."""

    name: str  # as configured in TRIFFT's admin
    method: str
    path: str  # the endpoint's path, sent to the Klaviyo base URL the sync is given
    headers: dict[str, str]
    body: Any  # the rendered body, parsed JSON


@dataclass
class Mapped:
    """What one TRIFFT event becomes. ``skipped`` says why nothing is sent; ``problems`` why it cannot be."""

    event_id: str
    member_id: str
    kind: str
    metric: str | None = None
    properties: dict[str, Any] | None = None
    time: str | None = None
    value: float | None = None
    value_currency: str | None = None
    unique_id: str | None = None
    profile: dict[str, Any] | None = None  # the refresh: Klaviyo profile attributes
    subscriptions: list[Subscription] = field(default_factory=list)
    webhook: Webhook | None = None
    skipped: str | None = None
    problems: list[str] = field(default_factory=list)

    def event_body(self) -> dict[str, Any]:
        """The Create Event request body, with the refresh riding in the event's profile."""
        assert self.metric is not None and self.profile is not None
        attributes: dict[str, Any] = {
            "properties": self.properties,
            "time": self.time,
            "unique_id": self.unique_id,
            "metric": {"data": {"type": "metric", "attributes": {"name": self.metric}}},
            "profile": {"data": {"type": "profile", "attributes": self.profile}},
        }
        if self.value is not None:
            attributes["value"] = self.value
        if self.value_currency is not None:
            attributes["value_currency"] = self.value_currency
        return {"data": {"type": "event", "attributes": attributes}}

    def refresh_body(self) -> dict[str, Any]:
        """The same refresh as a Create or Update Profile (profile-import) request body."""
        assert self.profile is not None
        return {"data": {"type": "profile", "attributes": self.profile}}


def phone(raw: str | None) -> str | None:
    """E.164 or nothing: TRIFFT may store '+44 7700 900123'; Klaviyo accepts only '+447700900123'."""
    if raw is None:
        return None
    compact = re.sub(r"[\s().-]", "", raw)
    return compact if _E164.match(compact) else None


#: "The profile's valid email address (must be <= 100 characters)":
#: https://developers.klaviyo.com/en/reference/profiles_api_overview
MAX_EMAIL = 100


def email(raw: str | None) -> str | None:
    """The address without surrounding spaces, or nothing when Klaviyo would refuse it for its length (the member
    is still synced by external_id, as a phone that is not E.164 is left off)."""
    if raw is None:
        return None
    address = raw.strip()
    return address if address and len(address) <= MAX_EMAIL else None


def profile_attributes(event: dict[str, Any]) -> dict[str, Any]:
    """The full profile refresh as of this event: identifiers, locale, trifft_* and every custom parameter."""
    member = event["member"]
    properties: dict[str, Any] = {slug: param["value"] for slug, param in member["params"].items()}
    favorite = member["favorite_venue"]
    coupons = member["coupons"]
    properties.update(
        trifft_available_coupons=sum(1 for c in coupons if c["status"] != "redeemed"),
        trifft_coupons=[{key: coupon[key] for key in _COUPON_FIELDS} for coupon in coupons],
        trifft_fav_location_id=favorite["id"] if favorite else None,
        trifft_fav_location_name=favorite["name"] if favorite else None,
        trifft_id=member["id"],
        trifft_points=member["points"],
        trifft_primary_card_id=member["primary_card_id"],
        trifft_segments=[segment["slug"] for segment in member["segments"]],
        trifft_support_id=member["support_id"],
    )
    if event["project"]["tiers_enabled"]:
        properties["trifft_tier"] = member["tier"]
    attributes: dict[str, Any] = {
        "external_id": member["id"],
        "locale": member["locale"],
        "properties": properties,
    }
    if (address := email(member["email"])) is not None:
        attributes["email"] = address
    if (number := phone(member["phone"])) is not None:
        attributes["phone_number"] = number
    return attributes


def _properties(
    event: dict[str, Any], klaviyo_id: KlaviyoIds
) -> tuple[dict[str, Any], float | None, str | None]:
    """The metric's properties exactly as the seed shows them, and the event's value and currency."""
    kind, data, member = event["kind"], event["data"], event["member"]
    if kind == "member_verified":
        return {"id": data["id"]}, None, None
    if kind in ("added_to_segment", "removed_from_segment"):
        return {k: data[k] for k in ("id", "name", "slug", "type")}, None, None
    if kind == "transaction_created":
        total = round(sum(item["price"] * item["qty"] for item in data["items"]), 2)
        currency = data["venue"]["currency"] if data["venue"] else None
        return {**data, "$value_currency": currency, "$value": total}, total, currency
    if kind == "wallet_credited":
        return {**data, "$value": data["points"]}, data["points"], None
    if kind == "profile_updated":
        properties = {slug: param["value"] for slug, param in member["params"].items()}
        properties.update(language=member["locale"], klaviyoID=klaviyo_id(member["id"]))
        return properties, None, None
    if kind == "referral_code_provided":
        return (
            {
                "referrer_email": data["referrer_email"],
                "referrer_code": data["referrer_code"],
                "referrer_klaviyo_id": klaviyo_id(data["referrer_id"]),
                "referrer_name": data["referrer_name"],
            },
            None,
            None,
        )
    if kind == "referral_invited":
        invitee = data["referral_id"]
        return (
            {
                "email": data["email"],
                "referral_code": data["referral_code"],
                "referral_klaviyo_id": klaviyo_id(invitee) if invitee else None,
            },
            None,
            None,
        )
    return dict(data), None, None


def _subscriptions(event: dict[str, Any], profile: dict[str, Any]) -> list[Subscription]:
    data = event["data"]
    if event["kind"] != "profile_updated" or data["reason"] not in ("consent_signed", "consent_revoked"):
        return []
    changes = []
    for channel in _MARKETING.get(data["consent"]["type"], ()):
        identifier = profile.get("email") if channel == "email" else profile.get("phone_number")
        if identifier is not None:
            changes.append(
                Subscription(
                    channel,
                    data["reason"] == "consent_signed",
                    profile.get("email"),
                    profile.get("phone_number"),
                )
            )
    return changes


def _webhook(event: dict[str, Any], mapped: Mapped) -> Mapped:
    hook, rendered = event["data"]["webhook"], event["data"]["rendered_body"]
    try:
        body = parse_json(rendered, source=f"webhook {hook['name']!r}")
    except MalformedPayload as error:
        mapped.problems.append(
            f"the rendered body is not JSON: {error.reason} at line {error.line}, column "
            f"{error.column} (character {error.position})"
        )
        return mapped
    headers = {name: value for name, value in hook["headers"].items() if name.lower() != "authorization"}
    mapped.webhook = Webhook(
        name=hook["name"],
        method=hook["method"],
        path=urlsplit(hook["endpoint"]).path or "/",
        headers=headers,
        body=body,
    )
    return mapped


def map_event(event: dict[str, Any], klaviyo_id: KlaviyoIds = _no_ids) -> Mapped:
    """What Klaviyo should receive for one TRIFFT event (contract 1 in, contracts 2-4 out)."""
    kind = event["kind"]
    mapped = Mapped(event["event_id"], event["member"]["id"], kind)
    if kind == CUSTOM_WEBHOOK:
        return _webhook(event, mapped)
    if kind in ("added_to_segment", "removed_from_segment") and event["data"]["is_internal"]:
        mapped.skipped = f"system segment {event['data']['slug']!r}: TRIFFT ignores system segments"
        return mapped
    mapped.metric = METRIC_BY_KIND[kind]
    mapped.properties, mapped.value, mapped.value_currency = _properties(event, klaviyo_id)
    mapped.time = event["occurred_at"]
    mapped.unique_id = event["event_id"]
    mapped.profile = profile_attributes(event)
    mapped.subscriptions = _subscriptions(event, mapped.profile)
    return mapped
