"""A TRIFFT project: its venues, coupon templates, segments, custom parameters, consents and webhooks.

Each ``new_*`` function builds one entity in TRIFFT's own serialisation (see contracts/schemas/common.json);
the Hypothesis strategies use them one at a time, the world uses them to furnish a project.
"""

from __future__ import annotations

import re
from typing import Any, Final

from contracts import KLAVIYO_REVISION

from . import _pools as pools
from ._source import Source

EPOCH: Final = 1_772_355_600  # 2026-03-01T09:00:00Z: where generated time starts
KLAVIYO_ENDPOINT: Final = "https://a.klaviyo.com/api/events"


def text(src: Source, edge: bool, plain: str, rate: float = 0.25) -> str:
    """``plain``, or in edge mode now and then a nasty string instead."""
    if edge and src.chance(rate):
        fuzzed = src.fuzz_text()
        return fuzzed if fuzzed is not None else src.choice(pools.NASTY_TEXT)
    return plain


def maybe_null(src: Source, edge: bool, value: Any, rate: float = 0.2) -> Any:
    return None if edge and src.chance(rate) else value


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug or "x"


def stamp(src: Source, before: int) -> int:
    return before - src.integer(86_400, 400 * 86_400)


def new_address(src: Source, edge: bool) -> dict[str, Any]:
    city, postal, country = src.choice(pools.CITIES)
    lat = f"{src.integer(-89_999_999, 89_999_999) / 1_000_000:.8f}"
    lng = f"{src.integer(-179_999_999, 179_999_999) / 1_000_000:.8f}"
    return {
        "id": src.uuid(6),
        "street": maybe_null(
            src, edge, text(src, edge, f"{city.strip().title()} {src.choice(pools.STREETS)}")
        ),
        "city": maybe_null(src, edge, city),
        "postal_code": maybe_null(src, edge, postal),
        "country": maybe_null(src, edge, country),
        "lat": maybe_null(src, edge, lat),
        "lng": maybe_null(src, edge, lng),
    }


def new_venue(src: Source, edge: bool = False) -> dict[str, Any]:
    """A venue: name, currency, address with lat/lng as strings, unix timestamps."""
    name = text(src, edge, f"{src.choice(pools.VENUE_NAMES)}, {src.choice(pools.CITIES)[0].strip().title()}")
    created = stamp(src, EPOCH)
    return {
        "id": src.uuid(),
        "name": name,
        "logo": maybe_null(src, edge, f"https://cdn.trifft.io/files/{src.integer(10**9, 10**10)}.png"),
        "currency": src.choice(("EUR", "EUR", "GBP", "PLN", "USD")),
        "verify_code": maybe_null(src, not edge, f"{src.integer(0, 9999):04d}", rate=0.9),
        "address": maybe_null(src, edge, new_address(src, edge), rate=0.1),
        "is_enabled": True if not edge else src.chance(0.8),
        "created_at": created,
        "updated_at": created + src.integer(0, 200 * 86_400),
    }


def new_coupon(src: Source, edge: bool = False) -> dict[str, Any]:
    """A coupon template as coupon events bundle it; ``points`` is null unless bought with points."""
    _short, name, description = src.choice(pools.COUPON_NAMES)
    created = stamp(src, EPOCH)
    points: float | int | None = None
    if src.chance(0.3):
        points = src.choice((500, 1500, 20000, 0)) if not edge else src.choice((0, 0.5, 10**9, 1500))
    return {
        "id": src.uuid(),
        "name": text(src, edge, name),
        "description": maybe_null(src, edge, description and text(src, edge, description)),
        "image_logo": f"https://cdn.trifft.io/files/{src.integer(10**9, 10**10)}.png",
        "image_card": maybe_null(src, edge, f"https://cdn.trifft.io/files/{src.integer(10**9, 10**10)}.png"),
        "type": "GENERAL",
        "points": points,
        "is_enabled": True,
        "is_pinned": src.chance(0.3),
        "created_at": created,
        "updated_at": created + src.integer(0, 200 * 86_400),
    }


def short_name(src: Source, coupon: dict[str, Any], edge: bool) -> str:
    """The per-member instance name; the seed shows it shorter than the template's ("Welcome! ")."""
    for short, name, _ in pools.COUPON_NAMES:
        if name == coupon["name"]:
            return text(src, edge, short)
    return str(coupon["name"])


SYSTEM_SEGMENTS: Final = (
    ("All members", "internal-all-members"),
    ("Registered members", "internal-registered-members"),
    ("New users", "internal-new-users"),
    ("Without transaction", "internal-without-transaction"),
)
CUSTOM_SEGMENTS: Final = (
    ("Students", "custom-students", "CUSTOM"),
    ("VIP", "custom-vip", "CUSTOM"),
    ("Football fans", "custom-public-football-3691", "PUBLIC"),
    ("Big spenders", "dynamic-big-spenders", "DYNAMIC"),
    ("Craft beer club", "custom-public-craft-beer-1207", "PUBLIC"),
)


def new_segment(src: Source, edge: bool = False, internal: bool | None = None) -> dict[str, Any]:
    """A segment as TRIFFT knows it (with ``is_internal``); system segments have type INTERNAL."""
    if internal if internal is not None else src.chance(0.3):
        name, slug = src.choice(SYSTEM_SEGMENTS)
        return {"id": src.uuid(), "name": name, "slug": slug, "type": "INTERNAL", "is_internal": True}
    name, slug, kind = src.choice(CUSTOM_SEGMENTS)
    return {"id": src.uuid(), "name": text(src, edge, name), "slug": slug, "type": kind, "is_internal": False}


def venue_segment(src: Source, venue: dict[str, Any]) -> dict[str, Any]:
    slug = f"venue-{slugify(venue['name'])[:40].strip('-') or 'x'}-{src.integer(100_000, 999_999)}"
    return {
        "id": src.uuid(),
        "name": f"Venue: {venue['name']}",
        "slug": slug,
        "type": "VENUE",
        "is_internal": False,
    }


def new_wallet(src: Source, balance: int, primary: bool = True, now: int = EPOCH) -> dict[str, Any]:
    """A wallet; ``points`` is the balance in hundredths of a point (the seed's convention)."""
    created = stamp(src, now)
    return {
        "id": src.uuid(),
        "name": "Points" if primary else "Stamps",
        "is_primary": primary,
        "type": "POINTS" if primary else "STAMPS",
        "currency": "POINTS" if primary else "STAMPS",
        "suffix": "p" if primary else None,
        "prefix": None,
        "points": balance,
        "created_at": created,
        "updated_at": created,
    }


#: Custom parameter definitions: slug -> (TRIFFT type, enum options or None).
PARAMS: Final[dict[str, tuple[str, tuple[str, ...] | None]]] = {
    "first_name": ("string", None),
    "last_name": ("string", None),
    "dateOfBirth": ("date", None),
    "favourite_drink": ("enum", pools.ENUM_DRINKS),
    "newsletter": ("boolean", None),
    "visits": ("integer", None),
    "spend_score": ("decimal", None),
    "last_visit_at": ("datetime", None),
    "preferences": ("json", None),
}
CONSENTS: Final = (
    ("TC", "terms"),
    ("DPR", "privacy"),
    ("OUT_MARKETING", "marketing"),
    ("OUT_EMAIL", "email-news"),
    ("OUT_SMS", "sms-news"),
    ("CUSTOM", "age-check"),
)

#: TRIFFT webhook trigger labels: the first four are confirmed in TRIFFT's docs (typo included), the rest guessed.
WEBHOOK_EVENTS: Final = (
    "User - User Was Verified",
    "User - User Reemed Coupon",
    "User - User Was Created",
    "User - Member Contest Drawn",
    "User - Challenge Completed",
)

_EVENT_TEMPLATE: Final = """{"data": {"type": "event", "attributes": {
  "metric": {"data": {"type": "metric", "attributes": {"name": "%s"}}},
  "profile": {"data": {"type": "profile",
    "attributes": %s}},
  "properties": {"trfft_loyalty_id": "{{ member.id }}", "first_name": "{{ member.param.first_name }}", %s},
  "time": "{{ event.created_at | date('c') }}",
  "unique_id": "{{ event.id }}"
}}}"""

#: How a webhook names the member. Realistic projects key it by TRIFFT's member id; edge projects also send the
#: email, which renders "" for a phone-only member and makes Klaviyo refuse the event (a real integration bug).
_PROFILE_SNIPPETS: Final = (
    '{"external_id": "{{ member.id }}"}',
    '{"external_id": "{{ member.id }}", "email": "{{ member.email }}"}',
)

_PROPERTY_SNIPPETS: Final = (
    '"points": {{ member.points }}',
    '"birth_date": "{{ member.param.dateOfBirth | date(\'U\') }}"',
    # Unquoted, as in one of TRIFFT's published examples: a null parameter renders invalid JSON.
    "\"birth_date\": {{ member.param.dateOfBirth | date('U') }}",
    '"drink": {{ member.param.favourite_drink | json_encode }}',
)


def new_webhook(src: Source, edge: bool = False) -> dict[str, Any]:
    """A custom webhook as configured in TRIFFT's admin, posting a custom metric to Klaviyo's Create Event."""
    event = src.choice(WEBHOOK_EVENTS)
    metric = text(src, edge, f"TRIFFT {event.removeprefix('User - ')}", rate=0.1).replace('"', "'")
    snippet = src.choice(_PROPERTY_SNIPPETS[:2] if not edge else _PROPERTY_SNIPPETS)
    authorization: dict[str, Any] | None
    if src.chance(0.8):
        authorization = {
            "type": "HEADER",
            "name": "Authorization",
            "value": "Klaviyo-API-Key pk_trifft_webhook",
            "kind": "SECRET",
        }
    else:
        authorization = {"type": "BASIC", "username": "trifft", "password": "s3cret"}
    return {
        "id": src.uuid(),
        "name": f"Klaviyo: {event.removeprefix('User - ')}",
        "event": event,
        "method": "POST",
        "endpoint": KLAVIYO_ENDPOINT,
        "headers": {
            # The admin pins the revision the rendered template is written for: the bundled spec's.
            "revision": KLAVIYO_REVISION,
            "Content-Type": "application/vnd.api+json",
            "Accept": "application/vnd.api+json",
        },
        "authorization": authorization,
        "template": _EVENT_TEMPLATE % (metric, _PROFILE_SNIPPETS[edge], snippet),
    }


class Project:
    """Everything members of one TRIFFT project share."""

    def __init__(self, src: Source, edge: bool) -> None:
        self.id = src.uuid()
        self.tiers_enabled = src.chance(0.5 if edge else 0.7)
        self.envelope = {"id": self.id, "tiers_enabled": self.tiers_enabled}
        self.tiers = pools.EDGE_TIERS if edge else pools.TIERS
        self.venues = [new_venue(src, edge) for _ in range(src.integer(3, 8))]
        self.coupons = [new_coupon(src, edge) for _ in range(src.integer(3, 8))]
        self.system_segments: list[dict[str, Any]] = [
            {"id": src.uuid(), "name": name, "slug": slug, "type": "INTERNAL", "is_internal": True}
            for name, slug in SYSTEM_SEGMENTS
        ]
        self.custom_segments: list[dict[str, Any]] = [
            {
                "id": src.uuid(),
                "name": text(src, edge, name),
                "slug": slug,
                "type": kind,
                "is_internal": False,
            }
            for name, slug, kind in CUSTOM_SEGMENTS
        ]
        self.venue_segments = {venue["id"]: venue_segment(src, venue) for venue in self.venues}
        self.optional_segments = (
            self.custom_segments + list(self.venue_segments.values()) + self.system_segments[2:]
        )
        self.webhooks = [new_webhook(src, edge) for _ in range(src.integer(1, 3))]
        self.consents = [
            {"type": kind, "slug": slug, "version": src.integer(1, 3)} for kind, slug in CONSENTS
        ]

    def tier_for(self, lifetime_hundredths: int) -> str | None:
        if not self.tiers_enabled:
            return None
        name = self.tiers[0][0]
        for tier, threshold in self.tiers:
            if lifetime_hundredths >= threshold * 100:
                name = tier
        return name
