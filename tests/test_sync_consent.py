"""The reference sync's consent mirroring against the fake Klaviyo, with the account default opt-in set both ways.

TRIFFT's consent sign/revoke (``profile_updated`` with reason ``consent_signed``/``consent_revoked`` for
OUT_EMAIL, OUT_SMS, OUT_MARKETING) becomes a bulk subscribe or unsubscribe without a list, so "the opt-in process
used will be determined by the account-level default opt-in setting"
(https://developers.klaviyo.com/en/reference/bulk_subscribe_profiles). With single opt-in every member's final
consent is mirrored as it arrives; with double opt-in a signed consent stays pending until the person confirms
(https://help.klaviyo.com/hc/en-us/articles/115005251108), and once everyone pending confirms the mirror is the
same. Only identifiers that one member holds for the whole story are judged: the sync orders requests per member,
not across members, so a shared or changing address has no single final state.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from typing import Any

import httpx
import pytest

from emulator.client import InProcessTransport
from emulator.klaviyo import Emulator, create_app
from emulator.klaviyo.store import account_id
from emulator.trifft import generate
from sync import map_event
from sync.delivery import Syncer

KEY = "pk_test_consent_mirror"
TARGET = {"email": "email", "sms": "sms"}


async def _no_wait(seconds: float) -> None:
    await asyncio.sleep(0)


def _expected(events: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """(channel, identifier) -> the consent the member's last sign or revoke asks for, for stable identifiers."""
    holders: dict[tuple[str, str], set[str]] = defaultdict(set)
    last: dict[tuple[str, str], str] = {}
    for event in events:
        member = event["member"]["id"]
        for change in map_event(event).subscriptions:
            identifier = change.email if change.channel == "email" else change.phone_number
            assert identifier is not None
            holders[(change.channel, identifier)].add(member)
            last[(change.channel, identifier)] = "SUBSCRIBED" if change.subscribed else "UNSUBSCRIBED"
    every: dict[str, set[str]] = defaultdict(set)  # member -> every address it ever had
    for event in events:
        for name in ("email", "phone"):
            if event["member"][name]:
                every[event["member"]["id"]].add(event["member"][name])
    return {
        key: consent
        for key, consent in last.items()
        if len(holders[key]) == 1 and len({a for m in holders[key] for a in every[m]}) <= 2
    }


def _consents(emulator: Emulator) -> dict[tuple[str, str], str]:
    state = emulator.store.export(account_id(KEY))
    found = {}
    for row in state["profiles"]:
        subscriptions = json.loads(row["doc"]).get("subscriptions", {})
        for channel, identifier in (("email", row["email"]), ("sms", row["phone_number"])):
            if identifier is not None:
                found[(channel, identifier)] = subscriptions.get(TARGET[channel], {}).get(
                    "consent", "NEVER_SUBSCRIBED"
                )
    return found


def _sync(emulator: Emulator, events: list[dict[str, Any]]) -> None:
    syncer = Syncer(
        "http://klaviyo.test",
        KEY,
        transport=httpx.ASGITransport(create_app(emulator)),
        rate_limits=None,
        sleep=_no_wait,
        seed=3,
        concurrency=8,
    )
    summary = asyncio.run(syncer.run(events))
    assert summary.ok and summary.subscriptions > 0, summary.dead


@pytest.mark.parametrize("seed", [3, 11])
def test_single_opt_in_mirrors_every_members_final_consent(seed: int) -> None:
    events = list(generate(1500, seed=seed, members=80))
    expected = _expected(events)
    assert {"SUBSCRIBED", "UNSUBSCRIBED"} <= set(expected.values())
    emulator = Emulator(rate_limits="off", opt_in="single_opt_in")
    _sync(emulator, events)
    found = _consents(emulator)
    assert {key: found.get(key) for key in expected} == expected


@pytest.mark.parametrize("seed", [3, 11])
def test_double_opt_in_keeps_signed_consent_pending_until_each_person_confirms(seed: int) -> None:
    events = list(generate(1500, seed=seed, members=80))
    expected = _expected(events)
    emulator = Emulator(rate_limits="off", opt_in="double_opt_in")
    _sync(emulator, events)
    before = _consents(emulator)
    assert "SUBSCRIBED" not in {before.get(key) for key in expected}, "nobody has confirmed yet"
    with httpx.Client(
        transport=InProcessTransport(create_app(emulator)), base_url="http://klaviyo.test"
    ) as http:
        pending = http.get("/_emulator/opt-ins", params={"key": KEY}).json()["data"]
        assert pending
        for row in pending:
            http.post(
                "/_emulator/opt-ins/confirm",
                params={"key": KEY, "profile": row["profile_id"], "channel": row["channel"]},
            ).raise_for_status()
    found = _consents(emulator)
    assert {key: found.get(key) for key in expected} == expected
