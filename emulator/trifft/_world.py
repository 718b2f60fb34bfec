"""The story engine: a TRIFFT project whose members do things, one event at a time.

Every event is consistent with the member state it carries: points move only with credits and debits of the
primary wallet, a coupon goes assigned -> activated -> redeemed, a member leaves only a segment they were in,
favourite venue and language changes show in the member, consent changes produce a Profile updated.

When a kind cannot happen yet (nothing to activate, nothing to debit), the world tells the step that makes it
possible instead (``_FALLBACK``); when that kind is filtered out, the world sets the state up silently, so a
filtered stream still carries consistent single events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from math import isqrt
from typing import Any, Final

from contracts import ALL_KINDS

from . import _pools as pools
from ._members import Member, new_email, new_member, new_phone, param_value
from ._project import EPOCH, PARAMS, Project, maybe_null, short_name, text
from ._source import Source, cumulative
from ._twig import render

#: How often each kind happens in realistic traffic (relative weights).
WEIGHTS: Final[dict[str, int]] = {
    "app_opened": 22,
    "transaction_created": 14,
    "coupon_assigned": 8,
    "coupon_activated": 6,
    "coupon_redeemed": 4,
    "wallet_credited": 5,
    "wallet_debited": 4,
    "profile_updated": 6,
    "added_to_segment": 5,
    "removed_from_segment": 3,
    "favorite_venue_changed": 2,
    "language_changed": 2,
    "referral_code_provided": 1,
    "referral_invited": 2,
    "custom_webhook": 3,
    "member_verified": 2,
}
_FALLBACK: Final = {
    "coupon_activated": "coupon_assigned",
    "coupon_redeemed": "coupon_activated",
    "wallet_debited": "wallet_credited",
    "removed_from_segment": "added_to_segment",
    "added_to_segment": "removed_from_segment",
    "member_verified": "app_opened",
    "coupon_assigned": "coupon_activated",
}
_MAX_COUPONS: Final = 30
_PERMANENT_SEGMENTS: Final = ("internal-all-members", "internal-registered-members")


def iso(moment: int) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class World:
    """A project and its members; ``events()`` tells their story."""

    def __init__(
        self, src: Source, members: int, edge: bool = False, kinds: Sequence[str] = ALL_KINDS
    ) -> None:
        unknown = sorted(set(kinds) - set(ALL_KINDS))
        if unknown or not kinds:
            raise ValueError(f"unknown kinds: {', '.join(unknown) or '(none given)'}")
        if members < 1:
            raise ValueError("a world needs at least one member")
        self.src, self.edge, self.now = src, edge, EPOCH
        self.kinds = [k for k in ALL_KINDS if k in kinds]
        self._cumulative = cumulative([WEIGHTS[k] for k in self.kinds])
        self.project = Project(src.catalogue(), edge)
        self.emails: list[str] = []
        joined = members if "member_verified" not in kinds else max(1, members - members // 5)
        self.members = [
            new_member(src, self.project, edge, self.now, True, self.emails) for _ in range(joined)
        ]
        self.waiting = members - joined
        self._build: dict[str, Callable[[Member], dict[str, Any] | None]] = {
            kind: getattr(self, f"_{kind}") for kind in ALL_KINDS
        }

    # -- the loop -------------------------------------------------------------------------------------------

    def events(self, count: int) -> Iterator[dict[str, Any]]:
        for _ in range(count):
            yield self.step()

    def step(self) -> dict[str, Any]:
        src = self.src
        self.now += 0 if self.edge and src.chance(0.2) else src.integer(1, 120)
        kind = src.weighted(self.kinds, self._cumulative)
        if kind == "member_verified" and self.waiting:
            self.waiting -= 1
            member = new_member(src, self.project, self.edge, self.now, False, self.emails)
            self.members.append(member)
        else:
            n = len(self.members)
            member = self.members[n - 1 - isqrt(src.integer(0, n * n - 1))]  # a few members do most
            if member.pending and not (self.edge and src.chance(0.5)):  # edge: credits arrive late
                pending_kind, target = member.pending.pop(0)
                data = self._pending(member, pending_kind, target)
                if data is not None:
                    return self._envelope(member, pending_kind, data)
        return self._emit(member, kind)

    def _emit(self, member: Member, kind: str, depth: int = 0) -> dict[str, Any]:
        data = self._build[kind](member)
        if data is None:
            fallback = _FALLBACK.get(kind, "app_opened")
            if fallback in self.kinds and depth < 3:
                return self._emit(member, fallback, depth + 1)
            if depth >= 3 and "app_opened" in self.kinds:
                return self._emit(member, "app_opened", depth + 1)
            self._set_up(member, kind)
            data = self._build[kind](member)
            assert data is not None, kind
        return self._envelope(member, kind, data)

    def _envelope(self, member: Member, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        member.sequence += 1
        event_id = data.pop("__event_id", None) or self.src.uuid()
        return {
            "version": 1,
            "event_id": event_id,
            "kind": kind,
            "occurred_at": iso(self.now),
            "sequence": member.sequence,
            "project": dict(self.project.envelope),
            "member": member.snapshot(),
            "data": data,
        }

    def _set_up(self, member: Member, kind: str) -> None:
        """Make ``kind`` possible without telling anyone (its precursor kinds are filtered out)."""
        if kind in ("coupon_activated", "coupon_redeemed"):
            coupon = self._assign(member)
            coupon["status"] = "activated" if kind == "coupon_redeemed" else "assigned"
        elif kind == "wallet_debited":
            self._move(member, self.src.integer(100, 50_000), primary=True)
        elif kind == "removed_from_segment":
            segment = self.src.choice(self.project.optional_segments)
            member.segments[segment["id"]] = segment
        elif kind == "added_to_segment":
            segment = next(s for s in member.segments.values() if s["slug"] not in _PERMANENT_SEGMENTS)
            del member.segments[segment["id"]]
        elif kind == "coupon_assigned":
            member.coupons = member.coupons[-(_MAX_COUPONS - 1) :]
        elif kind == "member_verified":
            member.verified = False

    def _pending(self, member: Member, kind: str, target: Any) -> dict[str, Any] | None:
        if kind == "wallet_credited":
            amount, transaction_id, note = target
            return self._credit(member, amount, transaction_id, note, primary=True)
        if kind == "added_to_segment":
            if target["id"] in member.segments:
                return None
            member.segments[target["id"]] = target
            return {k: target[k] for k in ("id", "name", "slug", "type", "is_internal")}
        if kind == "coupon_assigned":
            coupon = self._assign(member, target)
            return self._coupon_data(member, coupon)
        raise AssertionError(kind)

    # -- coupons --------------------------------------------------------------------------------------------

    def _assign(self, member: Member, template: dict[str, Any] | None = None) -> dict[str, Any]:
        src, edge = self.src, self.edge
        template = template or src.choice(self.project.coupons)
        coupon = {
            "id": src.uuid(),
            "coupon_id": template["id"],
            "name": template["name"],
            "img_logo": template["image_logo"],
            "valid_from": maybe_null(src, True, self.now - 3600, 0.3),
            "valid_until": None if src.chance(0.6) else self.now + src.integer(7, 90) * 86_400,
            "expiration_at": None if src.chance(0.5) else self.now + src.integer(7, 60) * 86_400,
            "points": template["points"],
            "status": "assigned",
            "_short": short_name(src, template, edge),
            "_template": template,
        }
        member.coupons.append(coupon)
        return coupon

    def _coupon_data(self, member: Member, coupon: dict[str, Any]) -> dict[str, Any]:
        return {"id": coupon["id"], "name": coupon["_short"], "coupon": dict(coupon["_template"])}

    def _coupon_assigned(self, member: Member) -> dict[str, Any] | None:
        if len(member.coupons) >= _MAX_COUPONS:
            return None
        return self._coupon_data(member, self._assign(member))

    def _coupon_with(self, member: Member, status: str, new_status: str) -> dict[str, Any] | None:
        held = [c for c in member.coupons if c["status"] == status]
        if not held:
            return None
        coupon = self.src.choice(held)
        coupon["status"] = new_status
        return self._coupon_data(member, coupon)

    def _coupon_activated(self, member: Member) -> dict[str, Any] | None:
        return self._coupon_with(member, "assigned", "activated")

    def _coupon_redeemed(self, member: Member) -> dict[str, Any] | None:
        return self._coupon_with(member, "activated", "redeemed")

    # -- points ---------------------------------------------------------------------------------------------

    def _move(self, member: Member, hundredths: int, primary: bool) -> dict[str, Any]:
        wallet = member.wallet if primary or member.extra_wallet is None else member.extra_wallet
        wallet["points"] += hundredths
        wallet["updated_at"] = self.now
        if wallet is member.wallet:
            member.balance = wallet["points"]
            if hundredths > 0:
                member.lifetime += hundredths
                member.tier = self.project.tier_for(member.lifetime)
        return wallet

    def _amount(self) -> int:
        if self.edge and self.src.chance(0.3):
            return self.src.choice((1, 50, 10**12, 123_456_789))
        return self.src.integer(100, 50_000)

    def _credit(
        self, member: Member, hundredths: int, transaction_id: str | None, note: str | None, primary: bool
    ) -> dict[str, Any]:
        wallet = self._move(member, hundredths, primary)
        return {
            "wallet_id": wallet["id"],
            "points": hundredths / 100,
            "note": note,
            "transaction_id": transaction_id,
            "wallet": dict(wallet),
        }

    def _wallet_credited(self, member: Member) -> dict[str, Any]:
        note = maybe_null(self.src, True, text(self.src, self.edge, "Bonus points"), 0.5)
        primary = not self.src.chance(0.15)
        return self._credit(member, self._amount(), None, note, primary)

    def _wallet_debited(self, member: Member) -> dict[str, Any] | None:
        wallets = [w for w in (member.wallet, member.extra_wallet) if w is not None and w["points"] > 0]
        if not wallets:
            return None
        primary = wallets[0] is member.wallet and not (len(wallets) > 1 and self.src.chance(0.15))
        wallet = member.wallet if primary else wallets[-1]
        hundredths = min(wallet["points"], self._amount())
        self._move(member, -hundredths, primary)
        note = maybe_null(self.src, True, text(self.src, self.edge, "Reward purchase"), 0.5)
        return {"wallet_id": wallet["id"], "points": hundredths / 100, "note": note, "wallet": dict(wallet)}

    def _transaction_created(self, member: Member) -> dict[str, Any]:
        src, edge = self.src, self.edge
        venue = src.choice(self.project.venues) if src.chance(0.9) else None
        count = 500 if edge and src.chance(0.02) else (0 if edge and src.chance(0.03) else src.integer(1, 5))
        items, total = [], 0.0
        for _ in range(count):
            name, price = src.choice(pools.ITEMS)
            qty: float = src.choice((0.5, 1, 3)) if edge and src.chance(0.2) else src.integer(1, 3)
            if edge and src.chance(0.1):
                name, price = text(src, edge, "DISCOUNT"), -2.5
            items.append(
                {
                    "name": text(src, edge, name, 0.1),
                    "type": "S",
                    "price": price,
                    "qty": qty,
                    "sku": f"{src.integer(10**9, 10**10 - 1)}",
                    "points": None,
                    "note": None,
                }
            )
            total += price * qty
        transaction = {
            "id": src.uuid(),
            "transaction_id": f"T-{src.integer(10**9, 10**10 - 1)}",
            "type": "standard",
            "note": maybe_null(src, not edge, text(src, edge, "Table 4"), 0.9),
            "items": items,
            "venue": None if venue is None else dict(venue),
            "venue_id": None if venue is None else venue["id"],
            "venue_name": None if venue is None else venue["name"],
        }
        earned = int(max(total, 0) * 100)
        if earned > 0:
            note = f"Purchase at {venue['name'] if venue else 'the e-shop'}"
            self._later(member, "wallet_credited", (earned, transaction["id"], note))
        return transaction

    # -- the member's profile ---------------------------------------------------------------------------------

    def _member_verified(self, member: Member) -> dict[str, Any] | None:
        if member.verified:
            return None
        member.verified = True
        for segment in self.project.system_segments[:3]:
            if segment["id"] not in member.segments:
                self._later(member, "added_to_segment", segment)
        self._later(member, "coupon_assigned", self.project.coupons[0])
        return {"id": member.id}

    def _later(self, member: Member, kind: str, target: Any) -> None:
        """Queue what follows from this event (a credit after a purchase); dropped if ``kind`` is filtered out."""
        if kind in self.kinds:
            member.pending.append((kind, target))

    def _profile_updated(self, member: Member) -> dict[str, Any]:
        src, edge = self.src, self.edge
        roll = src.integer(0, 9)
        if roll < 3:
            consent = src.choice(member.consents[2:])
            consent["signed"] = not consent["signed"]
            consent["signed_at"] = self.now if consent["signed"] else None
            reason = "consent_signed" if consent["signed"] else "consent_revoked"
            return {"reason": reason, "changed": [consent["slug"]], "consent": dict(consent)}
        if roll == 3 and member.email is not None:
            shared = self.emails and src.chance(0.3 if edge else 0.05)
            member.email = src.choice(self.emails) if shared else new_email(src, edge, "new", "address")
            self.emails.append(member.email)
            return {"reason": "email_changed", "changed": ["email"], "consent": None}
        if roll == 4:
            member.phone = new_phone(src, edge)
            return {"reason": "phone_changed", "changed": ["phone"], "consent": None}
        slugs = sorted({src.choice(list(PARAMS)) for _ in range(src.integer(1, 2))})
        for slug in slugs:
            member.params[slug]["value"] = param_value(src, edge, slug, self.now)
        return {"reason": "params_changed", "changed": slugs, "consent": None}

    def _app_opened(self, member: Member) -> dict[str, Any]:
        return {
            "app_version": self.src.choice(pools.APP_VERSIONS),
            "app_platform": self.src.choice(pools.APP_PLATFORMS),
            "timestamp": self.now,
        }

    def _favorite_venue_changed(self, member: Member) -> dict[str, Any]:
        choices = [v for v in self.project.venues if v is not member.favorite]
        venue = self.src.choice(choices)
        member.favorite = venue
        return {"id": venue["id"], "name": venue["name"], "venue": dict(venue)}

    def _segment_data(self, segment: dict[str, Any]) -> dict[str, Any]:
        return {k: segment[k] for k in ("id", "name", "slug", "type", "is_internal")}

    def _added_to_segment(self, member: Member) -> dict[str, Any] | None:
        candidates = [s for s in self.project.optional_segments if s["id"] not in member.segments]
        if not candidates:
            return None
        segment = self.src.choice(candidates)
        member.segments[segment["id"]] = segment
        return self._segment_data(segment)

    def _removed_from_segment(self, member: Member) -> dict[str, Any] | None:
        candidates = [s for s in member.segments.values() if s["slug"] not in _PERMANENT_SEGMENTS]
        if not candidates:
            return None
        segment = self.src.choice(candidates)
        del member.segments[segment["id"]]
        return self._segment_data(segment)

    def _language_changed(self, member: Member) -> dict[str, Any]:
        pool = pools.EDGE_LOCALES + pools.LOCALES if self.edge else pools.LOCALES
        member.locale = self.src.choice([locale for locale in pool if locale != member.locale])
        return {"language": member.locale}

    def _referral_code_provided(self, member: Member) -> dict[str, Any]:
        others = [m for m in self.members if m is not member]
        if others:
            referrer = self.src.choice(others)
            return {
                "referrer_id": referrer.id,
                "referrer_email": referrer.email,
                "referrer_code": referrer.support_id,
                "referrer_name": referrer.name,
            }
        # The referrer can be a member who never shows up in this stream.
        return {
            "referrer_id": self.src.uuid(),
            "referrer_email": None,
            "referrer_code": "6B8CVO",
            "referrer_name": None,
        }

    def _referral_invited(self, member: Member) -> dict[str, Any]:
        others = [m for m in self.members if m is not member and m.email is not None]
        if others and self.src.chance(0.3):
            invitee = self.src.choice(others)
            email, invitee_id = invitee.email, invitee.id
        else:
            email, invitee_id = new_email(self.src, self.edge, "friend", "of-a-member"), None
        assert email is not None
        return {"email": email, "referral_code": member.support_id, "referral_id": invitee_id}

    def _custom_webhook(self, member: Member) -> dict[str, Any]:
        webhook = self.src.choice(self.project.webhooks)
        event_id = self.src.uuid()
        context = {"member": member.template_context(), "event": {"id": event_id, "created_at": self.now}}
        return {
            "webhook": dict(webhook),
            "rendered_body": render(webhook["template"], context),
            "__event_id": event_id,
        }
