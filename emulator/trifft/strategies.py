"""Hypothesis strategies for TRIFFT data: members, coupons, venues, segments, wallets, events and timelines.

All of them run the same story engine as ``trifft-klaviyo generate``, drawing every choice from Hypothesis, so
what they produce validates against the contracts and shrinks towards a plain, realistic story: fewer events,
the first member, the first option, no nasty text. The exception is the project's catalogue behind members,
events and timelines (venues, coupons, segments, webhooks): it comes from one drawn seed, which keeps shrinking
to seconds; ``venues()``, ``coupons()`` and the rest draw each entity choice by choice.

``edge=True`` lets in nasty text (including arbitrary Hypothesis text), nulls, huge numbers, shared and missing
emails, late credits and invalid-JSON webhook bodies.

The events drawn by ``timelines()`` and ``events()`` are remembered, so a failing contract check can save the
events of the example that failed (``drawn()``). Hypothesis draws an example's arguments before it runs the
test body, so ``new_example()``, called first thing in the body (``klaviyo_emulator.reset()`` calls it), keeps
what was drawn since the previous call and forgets the rest; ``forget_drawn()`` forgets everything.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from contracts import ALL_KINDS

from . import _project
from ._members import new_member
from ._source import DrawSource
from ._world import World

__all__ = [
    "added_to_segment_events",
    "app_opened_events",
    "coupon_activated_events",
    "coupon_assigned_events",
    "coupon_redeemed_events",
    "coupons",
    "custom_webhook_events",
    "custom_webhooks",
    "drawn",
    "events",
    "favorite_venue_changed_events",
    "forget_drawn",
    "language_changed_events",
    "member_verified_events",
    "members",
    "profile_updated_events",
    "referral_code_provided_events",
    "referral_invited_events",
    "removed_from_segment_events",
    "segments",
    "timelines",
    "transaction_created_events",
    "venues",
    "wallet_credited_events",
    "wallet_debited_events",
    "wallets",
]


@st.composite
def members(draw: st.DrawFn, edge: bool = False) -> dict[str, Any]:
    """A member as the envelope carries it (contract 1 ``member``). Shrinks towards a plain, tier-less member."""
    src = DrawSource(draw)
    project = _project.Project(src.catalogue(), edge)
    member = new_member(src, project, edge, _project.EPOCH, existing=True, emails=[])
    return member.snapshot()


@st.composite
def coupons(draw: st.DrawFn, edge: bool = False) -> dict[str, Any]:
    """A coupon template as coupon events bundle it. Shrinks towards the seed's "Welcome to Club Frog! "."""
    return _project.new_coupon(DrawSource(draw), edge)


@st.composite
def venues(draw: st.DrawFn, edge: bool = False) -> dict[str, Any]:
    """A venue with its address (lat/lng as decimal strings). Shrinks towards a complete, plain venue."""
    return _project.new_venue(DrawSource(draw), edge)


@st.composite
def segments(draw: st.DrawFn, edge: bool = False, internal: bool | None = None) -> dict[str, Any]:
    """A TRIFFT segment with ``is_internal``; ``internal=True`` gives system segments such as "All members"."""
    return _project.new_segment(DrawSource(draw), edge, internal)


@st.composite
def wallets(draw: st.DrawFn) -> dict[str, Any]:
    """A wallet; ``points`` is the balance in hundredths of a point. Shrinks towards an empty primary wallet."""
    src = DrawSource(draw)
    return _project.new_wallet(src, src.integer(0, 10**13), primary=not src.chance(0.2))


@st.composite
def custom_webhooks(draw: st.DrawFn, edge: bool = False) -> dict[str, Any]:
    """A custom webhook configuration (name, trigger, method, endpoint, headers, authorization, template)."""
    return _project.new_webhook(DrawSource(draw), edge)


_drawn: list[dict[str, Any]] = []
_mark = [0]  # where the current example's draws begin in _drawn
_KEPT = 10_000  # a long run that never calls new_example() must not grow without end


def _remember(events: list[dict[str, Any]]) -> None:
    _drawn.extend(events)
    if len(_drawn) > _KEPT:
        cut = len(_drawn) - _KEPT
        del _drawn[:cut]
        _mark[0] = max(0, _mark[0] - cut)


def drawn() -> list[dict[str, Any]]:
    """The events ``timelines()`` and ``events()`` produced for the current example, in the order drawn."""
    return list(_drawn)


def new_example() -> None:
    """Forget what was drawn before the previous call: what remains is the current example's draws."""
    del _drawn[: _mark[0]]
    _mark[0] = len(_drawn)


def forget_drawn() -> None:
    _drawn.clear()
    _mark[0] = 0


@st.composite
def timelines(
    draw: st.DrawFn,
    members: int = 3,
    max_events: int = 30,
    edge: bool = False,
    kinds: Sequence[str] = ALL_KINDS,
) -> list[dict[str, Any]]:
    """A stream of events for a project of up to ``members`` members, whose story holds together.

    Shrinks towards one member and one event.
    """
    src = DrawSource(draw)
    # Both sizes come first, so that lowering one does not shift every later draw.
    size, count = src.integer(1, members), src.integer(1, max_events)
    world = World(src, size, edge=edge, kinds=kinds)
    stream = list(world.events(count))
    _remember(stream)
    return stream


@st.composite
def events(draw: st.DrawFn, kinds: Sequence[str] = ALL_KINDS, edge: bool = False) -> dict[str, Any]:
    """One event of one of ``kinds``, consistent with the member state it carries.

    The member may have a short, untold history so that the event can happen (a coupon to activate, points to
    debit). Shrinks towards the first kind asked for.
    """
    src = DrawSource(draw)
    kind = src.choice(list(kinds))
    world = World(src, src.integer(1, 3), edge=edge, kinds=[kind])
    for _ in range(src.integer(0, 3)):
        world.step()
    event = world.step()
    _remember([event])
    return event


def _one(kind: str) -> Any:
    def strategy(edge: bool = False) -> st.SearchStrategy[dict[str, Any]]:
        return events(kinds=[kind], edge=edge)

    strategy.__name__ = f"{kind}_events"
    strategy.__doc__ = f"Events of kind {kind!r} (see ``events``)."
    return strategy


member_verified_events = _one("member_verified")
coupon_assigned_events = _one("coupon_assigned")
coupon_activated_events = _one("coupon_activated")
coupon_redeemed_events = _one("coupon_redeemed")
transaction_created_events = _one("transaction_created")
wallet_credited_events = _one("wallet_credited")
wallet_debited_events = _one("wallet_debited")
profile_updated_events = _one("profile_updated")
app_opened_events = _one("app_opened")
favorite_venue_changed_events = _one("favorite_venue_changed")
added_to_segment_events = _one("added_to_segment")
removed_from_segment_events = _one("removed_from_segment")
language_changed_events = _one("language_changed")
referral_code_provided_events = _one("referral_code_provided")
referral_invited_events = _one("referral_invited")
custom_webhook_events = _one("custom_webhook")
