"""Consent: the bulk subscribe and unsubscribe jobs, double opt-in, and confirming a pending opt-in.

Klaviyo's rules, from the Bulk Subscribe Profiles description (stable.json 2026-07-15,
https://developers.klaviyo.com/en/reference/bulk_subscribe_profiles):

- With a list, "if the provided list has double opt-in enabled, profiles will receive a message requiring their
  confirmation before subscribing"; otherwise they are subscribed at once. "If a list is not provided, the opt-in
  process used will be determined by the account-level default opt-in setting."
- ``historical_import: true`` subscribes at once, bypassing double opt-in; ``consented_at`` is then required and
  must be in the past, and is an error without the flag (SubscriptionParameters).
- "This API will remove any UNSUBSCRIBE, SPAM_REPORT or USER_SUPPRESSED suppressions from the provided profiles."
- A profile waiting for its confirmation is not subscribed and is not on the list: "Only subscribers who confirm
  their subscription will be successfully added to the list" (https://help.klaviyo.com/hc/en-us/articles/
  115005251108); confirming by text opts a person into SMS and email, by email only into email (same page).

What the emulator chose where Klaviyo is silent (docs/emulator.md, "Where Klaviyo is silent"): a profile already
subscribed on a channel is not asked to confirm again; suppressions are lifted when the subscription takes effect
(at once, or when confirmed); an unsubscribe records ``UNSUBSCRIBED`` and, for email, an ``UNSUBSCRIBE``
suppression, is global even when a list is named, takes the profile off that list and cancels its pending
opt-ins on that channel. WhatsApp, push and email open tracking are refused as not emulated.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

from contracts.traffic import Outcome

from . import lists, profiles, resources
from .errors import InvalidInput, NotEmulated, NotFound, Problem
from .store import Tx
from .types import Context, Reply

MAX_SUBSCRIBE = 1000
MAX_UNSUBSCRIBE = 100
#: The channels and message types emulated, and where each is kept in a profile's ``subscriptions``.
TARGETS = {
    ("email", "marketing"): "email",
    ("sms", "marketing"): "sms",
    ("sms", "transactional"): "sms_transactional",
}
#: Suppressions a subscription lifts (the operation description; the spec's enum spells SPAM_REPORT SPAM_COMPLAINT).
LIFTED = frozenset({"UNSUBSCRIBE", "SPAM_REPORT", "SPAM_COMPLAINT", "USER_SUPPRESSED"})
_NOT_EMULATED = {
    "whatsapp": "WhatsApp consent is not emulated by this fake Klaviyo; Klaviyo accepts it.",
    "push": "Push consent (and push tokens) is not emulated by this fake Klaviyo; Klaviyo accepts it.",
    "open_tracking": "Email open-tracking consent is not emulated by this fake Klaviyo; Klaviyo accepts it.",
}


def _utc(value: Any) -> float:
    """A checked ``consented_at`` as unix seconds; naive means UTC (the SDK sends naive datetimes bare)."""
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _consented_at(value: Any, historical: bool, now: float, pointer: str) -> list[Problem]:
    if value is None:
        return (
            [Problem("consented_at is required for a historical import.", pointer=pointer)]
            if historical
            else []
        )
    if not historical:
        return [Problem("consented_at may only be sent with historical_import: true.", pointer=pointer)]
    try:
        moment = _utc(value)
    except ValueError:
        return [Problem(f"'{value}' is not a valid datetime.", pointer=pointer)]
    if moment > now:
        return [
            Problem(
                "Historical email subscription does not have a valid consented at timestamp (it is in the "
                "future).",
                pointer=pointer,
            )
        ]
    return []


def _requested(channels: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """(channel, kind, parameters) of every channel and message type a row asks for; ``null`` asks for nothing
    (the spec marks each channel and each message type nullable)."""
    found = []
    for channel, kinds in (channels or {}).items():
        for kind, parameters in (kinds or {}).items():
            if parameters is not None and kind != "tokens" and kind != "anonymous_id":
                found.append((channel, kind, parameters if isinstance(parameters, dict) else {}))
    return found


def _row_problems(
    row: dict[str, Any], pointer: str, subscribing: bool, historical: bool, now: float
) -> tuple[list[Problem], list[Problem]]:
    """(invalid, not emulated) problems of one row of a job."""
    attributes = row.get("attributes") or {}
    problems = profiles.identifier_problems(attributes, pointer)
    if not attributes.get("email") and not attributes.get("phone_number") and row.get("id") is None:
        problems.append(Problem("A profile needs an email, a phone_number or an id.", pointer=pointer))
    refused: list[Problem] = []
    channels = attributes.get("subscriptions") or {}
    for channel in ("whatsapp", "push"):
        if channels.get(channel) is not None:
            refused.append(Problem(_NOT_EMULATED[channel], pointer=f"{pointer}/subscriptions/{channel}"))
    email = channels.get("email") or {}
    if email.get("open_tracking") is not None:
        refused.append(
            Problem(_NOT_EMULATED["open_tracking"], pointer=f"{pointer}/subscriptions/email/open_tracking")
        )
    asked = [(c, k, p) for c, k, p in _requested(channels) if (c, k) in TARGETS]
    verb = "subscribing to" if subscribing else "unsubscribing from"
    if any(c == "sms" for c, _, _ in asked) and not attributes.get("phone_number"):
        # The answer Klaviyo gave in https://github.com/klaviyo/klaviyo-api-node/issues/71.
        problems.append(
            Problem(
                f"Phone number must be provided when {verb} the SMS channel.",
                pointer=f"{pointer}/subscriptions/sms",
            )
        )
    if any(c == "email" for c, _, _ in asked) and not attributes.get("email"):
        problems.append(
            Problem(
                f"Email must be provided when {verb} the EMAIL channel.",
                pointer=f"{pointer}/subscriptions/email",
            )
        )
    if subscribing:
        for channel, kind, parameters in asked:
            problems += _consented_at(
                parameters.get("consented_at"),
                historical,
                now,
                f"{pointer}/subscriptions/{channel}/{kind}/consented_at",
            )
    return problems, refused


def subscribe(
    doc: dict[str, Any],
    target: str,
    now: float,
    custom_source: str | None,
    consented_at: float | None,
    double_optin: bool,
) -> None:
    """Record a subscription on ``target`` of a profile document and lift the suppressions it lifts."""
    stored = doc.setdefault("subscriptions", {})
    previous = stored.get(target, {})
    record: dict[str, Any] = {
        "consent": "SUBSCRIBED",
        "consent_timestamp": resources.stamp(consented_at if consented_at is not None else now),
        "method": "API",
        "method_detail": None,
        "last_updated": resources.stamp(now),
    }
    if target == "email":
        # custom_source: "A custom method detail or source to store on the consent records" (stable.json); email
        # keeps it as custom_method_detail. SMS consent records have no field for it.
        record["custom_method_detail"] = custom_source
        record["double_optin"] = double_optin
        record["suppression"] = [s for s in previous.get("suppression", []) if s.get("reason") not in LIFTED]
    stored[target] = record


def unsubscribe(doc: dict[str, Any], target: str, now: float) -> None:
    """Record an unsubscription on ``target``; email also gets an ``UNSUBSCRIBE`` suppression."""
    stored = doc.setdefault("subscriptions", {})
    previous = stored.get(target, {})
    record: dict[str, Any] = {
        "consent": "UNSUBSCRIBED",
        "consent_timestamp": resources.stamp(now),
        "method": "API",
        "method_detail": None,
        "last_updated": resources.stamp(now),
    }
    if target == "email":
        kept = [s for s in previous.get("suppression", []) if s.get("reason") != "UNSUBSCRIBE"]
        record.update(
            custom_method_detail=None,
            double_optin=None,
            suppression=[*kept, {"reason": "UNSUBSCRIBE", "timestamp": resources.stamp(now)}],
        )
    stored[target] = record


def _list_of(ctx: Context) -> sqlite3.Row | None:
    relation = ((ctx.body["data"].get("relationships") or {}).get("list") or {}).get("data")
    if not isinstance(relation, dict):
        return None
    return lists.existing(ctx, relation["id"], "/data/relationships/list/data/id")


def _check(ctx: Context, subscribe_job: bool, limit: int) -> tuple[list[dict[str, Any]], bool]:
    data = ctx.body["data"]
    rows = data["attributes"]["profiles"]["data"]
    base = "/data/attributes/profiles/data"
    if len(rows) > limit:
        raise InvalidInput(
            Problem(f"This job accepts at most {limit:,} profiles; this one has {len(rows):,}.", pointer=base)
        )
    historical = bool(data["attributes"].get("historical_import"))
    problems: list[Problem] = []
    refused: list[Problem] = []
    for i, row in enumerate(rows):
        found, not_emulated = _row_problems(row, f"{base}/{i}/attributes", subscribe_job, historical, ctx.now)
        problems += found
        refused += not_emulated
    if problems:
        raise InvalidInput(*problems[:25])
    if refused:
        raise NotEmulated(*refused[:25])
    for i, row in enumerate(rows):
        # "The ID of the profile to subscribe. If provided, this will be used to perform the lookup." An id that
        # names no profile gets Klaviyo's answer for one in Create or Update Profile (404 not_found).
        if row.get("id") is not None and ctx.tx.profile(ctx.account, row["id"]) is None:
            raise NotFound(
                Problem(f"A profile with id {row['id']} does not exist.", pointer=f"{base}/{i}/id")
            )
    return rows, historical


def bulk_subscribe_profiles(ctx: Context) -> Reply:
    rows, historical = _check(ctx, True, MAX_SUBSCRIBE)
    chosen = _list_of(ctx)
    process = chosen["opt_in_process"] if chosen is not None else lists.opt_in_default(ctx)
    custom_source = ctx.body["data"]["attributes"].get("custom_source")
    base = "/data/attributes/profiles/data"
    for i, row in enumerate(rows):
        attributes = row.get("attributes") or {}
        identifiers = {k: attributes[k] for k in ("email", "phone_number") if attributes.get(k)}
        profile, _ = profiles.upsert(ctx, row.get("id"), identifiers, None, f"{base}/{i}", strict=False)
        doc = json.loads(profile["doc"])
        pending = False
        for channel, kind, parameters in _requested(attributes.get("subscriptions")):
            target = TARGETS[(channel, kind)]
            previous = doc.get("subscriptions", {}).get(target, {})
            already = previous.get("consent") == "SUBSCRIBED"
            if historical or process == "single_opt_in" or already:
                consented = parameters.get("consented_at")
                moment = _utc(consented) if consented else None
                # Subscribing again keeps how the profile was first subscribed (double_optin stays true).
                double = bool(previous.get("double_optin")) if already else False
                subscribe(doc, target, ctx.now, custom_source, moment, double)
                if chosen is not None:
                    ctx.tx.add_member(ctx.account, chosen["id"], profile["id"], ctx.now)
                continue
            pending = True
            list_id = chosen["id"] if chosen is not None else None
            ctx.tx.insert_opt_in(
                ctx.account, profile["id"], channel, kind, list_id, custom_source, ctx.now, ctx.request_id
            )
            ctx.note(
                "opt_in_pending",
                f"{channel} {kind}: a double opt-in confirmation was sent; the profile is subscribed once it "
                "confirms (POST /_emulator/opt-ins/confirm)",
                profile["id"],
                channel=channel,
                message_type=kind,
                list_id=list_id,
            )
        profiles.save(ctx, profile["id"], doc)
        outcome: Outcome = "pending" if pending else "subscribed"
        ctx.done(f"{base}/{i}", outcome, profile["id"])
    return Reply(202)


def bulk_unsubscribe_profiles(ctx: Context) -> Reply:
    rows, _ = _check(ctx, False, MAX_UNSUBSCRIBE)
    chosen = _list_of(ctx)
    base = "/data/attributes/profiles/data"
    for i, row in enumerate(rows):
        attributes = row.get("attributes") or {}
        identifiers = {k: attributes[k] for k in ("email", "phone_number") if attributes.get(k)}
        match = profiles.resolve(ctx.tx, ctx.account, None, identifiers)
        if match.row is None:
            ctx.note("unsubscribe_ignored", "no profile has these identifiers", None, **identifiers)
            ctx.done(f"{base}/{i}", "ignored", reason="no profile has these identifiers")
            continue
        profile = match.row
        doc = json.loads(profile["doc"])
        asked = _requested(attributes.get("subscriptions"))
        for channel, kind, _ in asked:
            unsubscribe(doc, TARGETS[(channel, kind)], ctx.now)
        ctx.tx.delete_opt_ins(ctx.account, profile["id"], sorted({channel for channel, _, _ in asked}))
        if chosen is not None:
            ctx.tx.remove_member(ctx.account, chosen["id"], profile["id"])
        profiles.save(ctx, profile["id"], doc)
        ctx.done(f"{base}/{i}", "unsubscribed", profile["id"])
    return Reply(202)


def confirm(tx: Tx, account: str, profile_id: str, channel: str, now: float) -> list[dict[str, Any]]:
    """The person confirms their pending double opt-ins by ``channel`` (``email`` or ``sms``); what took effect.

    Confirming by text opts them into SMS and email, by email only into email (the double opt-in help page).
    """
    profile = tx.profile(account, profile_id)
    if profile is None:
        raise NotFound(f"A profile with id {profile_id} does not exist.")
    channels = ("sms", "email") if channel == "sms" else ("email",)
    waiting = [row for row in tx.opt_ins(account, profile_id) if row["channel"] in channels]
    doc = json.loads(profile["doc"])
    confirmed = []
    for row in waiting:
        subscribe(doc, TARGETS[(row["channel"], row["kind"])], now, row["custom_source"], None, True)
        if row["list_id"] is not None and tx.list_(account, row["list_id"]) is not None:
            tx.add_member(account, row["list_id"], profile_id, now)
        confirmed.append({"channel": row["channel"], "kind": row["kind"], "list_id": row["list_id"]})
    if waiting:
        tx.delete_opt_ins(account, profile_id, channels)
        tx.update_profile(account, profile_id, doc, now)
    return confirmed


HANDLERS = {
    "bulk_subscribe_profiles": bulk_subscribe_profiles,
    "bulk_unsubscribe_profiles": bulk_unsubscribe_profiles,
}
