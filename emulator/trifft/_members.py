"""A TRIFFT member's state, and how a fresh one is made.

The state is kept in plain fields (balance in integer hundredths of a point, so sums never drift) and turned
into the envelope's ``member`` object by ``snapshot()``, the member as they are after an event.
"""

from __future__ import annotations

import re
from typing import Any

from . import _pools as pools
from ._project import EPOCH, PARAMS, Project, maybe_null, new_wallet, stamp, text
from ._source import Source

COUPON_KEYS = (
    "id",
    "coupon_id",
    "name",
    "img_logo",
    "valid_from",
    "valid_until",
    "expiration_at",
    "points",
    "status",
)


class Member:
    __slots__ = (
        "balance",
        "card",
        "consents",
        "coupons",
        "email",
        "extra_wallet",
        "favorite",
        "id",
        "lifetime",
        "locale",
        "params",
        "pending",
        "phone",
        "segments",
        "sequence",
        "support_id",
        "tier",
        "verified",
        "wallet",
    )

    id: str
    email: str | None
    phone: str | None
    locale: str
    support_id: str
    card: str | None
    balance: int
    lifetime: int
    tier: str | None
    params: dict[str, dict[str, Any]]
    consents: list[dict[str, Any]]
    wallet: dict[str, Any]

    def __init__(self) -> None:
        self.sequence = 0
        self.pending: list[tuple[str, Any]] = []
        self.segments: dict[str, dict[str, Any]] = {}
        self.coupons: list[dict[str, Any]] = []
        self.favorite: dict[str, Any] | None = None
        self.extra_wallet: dict[str, Any] | None = None
        self.verified = False

    @property
    def name(self) -> str | None:
        first, last = self.params["first_name"]["value"], self.params["last_name"]["value"]
        parts = [p for p in (first, last) if isinstance(p, str) and p]
        return " ".join(parts) or None

    def snapshot(self) -> dict[str, Any]:
        favorite = self.favorite
        return {
            "id": self.id,
            "email": self.email,
            "phone": self.phone,
            "locale": self.locale,
            "support_id": self.support_id,
            "primary_card_id": self.card,
            "points": self.balance / 100,
            "tier": self.tier,
            "segments": [dict(s) for s in self.segments.values()],
            "coupons": [{key: c[key] for key in COUPON_KEYS} for c in self.coupons],
            "favorite_venue": None if favorite is None else {"id": favorite["id"], "name": favorite["name"]},
            "params": {slug: dict(param) for slug, param in self.params.items()},
            "consents": [dict(c) for c in self.consents],
        }

    def template_context(self) -> dict[str, Any]:
        """What a webhook template sees as ``member``."""
        return {
            "id": self.id,
            "email": self.email,
            "phone": self.phone,
            "points": self.balance / 100,
            "locale": self.locale,
            "support_id": self.support_id,
            "param": {slug: param["value"] for slug, param in self.params.items()},
        }


def _ascii(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", name.lower()) or "member"


def new_email(src: Source, edge: bool, first: str, last: str) -> str:
    if edge and src.chance(0.3):
        return f"{src.choice(pools.NASTY_EMAIL_LOCALS)}{src.integer(1, 999)}@{src.choice(pools.NASTY_EMAIL_DOMAINS)}"
    return f"{_ascii(first)}.{_ascii(last)}{src.integer(1, 9999)}@{src.choice(pools.EMAIL_DOMAINS)}"


def new_phone(src: Source, edge: bool) -> str:
    country = src.choice(("33", "44", "48", "49", "31", "34"))
    number = f"{src.integer(600_000_000, 799_999_999)}"
    if edge and src.chance(0.3):
        return f"+{country} {number[:3]} {number[3:6]} {number[6:]}"
    return f"+{country}{number}"


def param_value(src: Source, edge: bool, slug: str, now: int) -> Any:
    """A value for one custom parameter, of the parameter's TRIFFT type."""
    kind, options = PARAMS[slug]
    if src.chance(0.25 if edge else 0.05):
        return None
    if kind == "string":
        if edge and src.chance(0.1):
            return ""
        plain = src.choice(pools.FIRST_NAMES if slug == "first_name" else pools.LAST_NAMES)
        return text(src, edge, plain, rate=0.4)
    if kind == "date":
        if edge and src.chance(0.3):
            return src.choice(("1900-01-01", "2007-02-29", "0001-01-01", "2099-12-31"))
        return f"{src.integer(1950, 2008):04d}-{src.integer(1, 12):02d}-{src.integer(1, 28):02d}"
    if kind == "enum":
        assert options is not None
        return src.choice(options)
    if kind == "boolean":
        return src.chance(0.5)
    if kind == "integer":
        return src.choice((0, -1, 2**53 + 1, 7)) if edge and src.chance(0.3) else src.integer(0, 500)
    if kind == "decimal":
        if edge and src.chance(0.3):
            return src.choice((0.1 + 0.2, 1e-7, 1e15, 0.0))
        return src.integer(0, 100_000) / 100
    if kind == "datetime":
        moment = now - src.integer(0, 90 * 86_400)
        from datetime import UTC, datetime

        return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    # json
    if edge and src.chance(0.4):
        return src.choice(
            ([], "just a string", 42, {"a": {"b": {"c": {"d": {"e": {"f": {"g": [1, [2, [3]]]}}}}}}})
        )
    return {"topics": [src.choice(pools.ENUM_DRINKS)], "seat": src.choice(("terrace", "bar", "inside"))}


def new_member(
    src: Source, project: Project, edge: bool, now: int, existing: bool, emails: list[str]
) -> Member:
    """A member; ``existing`` ones joined before the stream starts and come with history, others are new."""
    member = Member()
    member.id = src.uuid()
    member.support_id = "".join(src.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(6))
    member.locale = src.choice(pools.EDGE_LOCALES if edge and src.chance(0.3) else pools.LOCALES)
    member.params = {}
    for slug, (kind, options) in PARAMS.items():
        member.params[slug] = {"type": kind, "value": param_value(src, edge, slug, now)}
        if options is not None:
            member.params[slug]["options"] = list(options)
    first = member.params["first_name"]["value"] or "member"
    last = member.params["last_name"]["value"] or "trifft"
    member.phone = new_phone(src, edge) if src.chance(0.6) else None
    if src.chance(0.15 if edge else 0.04):
        member.email, member.phone = None, member.phone or new_phone(src, edge)
    elif emails and src.chance(0.1 if edge else 0.02):
        member.email = src.choice(emails)  # two members sharing one address
    else:
        member.email = new_email(src, edge, str(first), str(last))
    if member.email is not None:
        emails.append(member.email)
    member.card = maybe_null(src, edge, f"999{src.integer(0, 9_999_999_999):010d}")
    member.consents = []
    for consent in project.consents:
        required = consent["type"] in ("TC", "DPR")
        signed = existing and (required or src.chance(0.5))
        member.consents.append(
            {
                "id": src.uuid(),
                "type": consent["type"],
                "slug": consent["slug"],
                "version": consent["version"],
                "signed": signed,
                "signed_at": stamp(src, now) if signed else None,
            }
        )
    member.balance = member.lifetime = 0
    if existing:
        member.verified = True
        member.balance = src.choice((0, 0, 10**13)) if edge and src.chance(0.2) else src.integer(0, 300_000)
        member.lifetime = member.balance + src.integer(0, 500_000)
        for segment in project.system_segments[:2]:
            member.segments[segment["id"]] = segment
        for segment in project.optional_segments:
            if src.chance(0.15):
                member.segments[segment["id"]] = segment
        if src.chance(0.7):
            member.favorite = src.choice(project.venues)
    member.tier = project.tier_for(member.lifetime)
    member.wallet = new_wallet(src, member.balance, primary=True, now=EPOCH)
    if src.chance(0.1):
        member.extra_wallet = new_wallet(src, src.integer(0, 2_000), primary=False, now=EPOCH)
    return member
