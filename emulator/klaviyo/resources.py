"""Rows as Klaviyo's JSON:API resource objects, with sparse fieldsets and Klaviyo's timestamp format."""

from __future__ import annotations

import functools
import json
import sqlite3
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .store import read_doc

if TYPE_CHECKING:
    from .store import Row

PROFILE_ATTRIBUTES = (
    "email",
    "phone_number",
    "external_id",
    "anonymous_id",
    "first_name",
    "last_name",
    "organization",
    "locale",
    "title",
    "image",
)
LOCATION_FIELDS = (
    "address1",
    "address2",
    "city",
    "country",
    "latitude",
    "longitude",
    "region",
    "zip",
    "timezone",
    "ip",
)


def stamp(moment: float | None) -> str | None:
    """Klaviyo's datetime form: ``2022-11-08T01:23:45+00:00``."""
    if moment is None:
        return None
    return datetime.fromtimestamp(int(moment), UTC).isoformat()


@functools.lru_cache(maxsize=4096)
def _second(seconds: int) -> str | None:
    """``stamp`` of a whole second, remembered: the events of a page often share their seconds."""
    return stamp(seconds)


def sparse(attributes: dict[str, Any], wanted: list[str] | None) -> dict[str, Any]:
    """Keep only the requested fields; dotted names (``location.city``) pick inside objects."""
    if not wanted:
        return attributes
    kept: dict[str, Any] = {}
    for name in wanted:
        head, _, rest = name.partition(".")
        if head not in attributes:
            continue
        if rest and isinstance(attributes[head], dict):
            inner = sparse(attributes[head], [rest])
            kept.setdefault(head, {}).update(inner)
        else:
            kept[head] = attributes[head]
    return kept


def profile(
    row: Row, base: str, fields: list[str] | None = None, additional: list[str] | None = None
) -> dict[str, Any]:
    doc = json.loads(row["doc"])
    attributes: dict[str, Any] = {name: doc.get(name) for name in PROFILE_ATTRIBUTES}
    attributes.update(
        created=stamp(row["created"]),
        updated=stamp(row["updated"]),
        last_event_date=stamp(row["last_event_date"]),
    )
    location = doc.get("location") or {}
    attributes["location"] = {name: location.get(name) for name in LOCATION_FIELDS}
    attributes["properties"] = doc.get("properties", {})
    if additional and "subscriptions" in additional:
        attributes["subscriptions"] = subscriptions(doc)
    if additional and "predictive_analytics" in additional:
        attributes["predictive_analytics"] = None
    link = f"{base}/api/profiles/{row['id']}/"
    return {
        "type": "profile",
        "id": row["id"],
        "attributes": sparse(attributes, fields),
        "relationships": {
            name: {"links": {"self": f"{link}relationships/{name}/", "related": f"{link}{name}/"}}
            for name in ("lists", "segments", "push-tokens")
        },
        "links": {"self": link},
    }


def subscriptions(doc: dict[str, Any]) -> dict[str, Any]:
    """The profile's consent, in the shape ``additional-fields[profile]=subscriptions`` returns.

    ``can_receive_email_marketing`` is "implicit consent": true unless the profile has a global suppression
    (EmailMarketing in stable.json), so a never-subscribed address can be emailed ("Never subscribed ... They are
    able to receive emails", https://help.klaviyo.com/hc/en-us/articles/360037101072); SMS needs a subscription
    ("Whether or not this profile is subscribed to receive SMS marketing", SMSMarketing).
    """
    stored = doc.get("subscriptions", {})
    email = stored.get("email", {})

    def channel(record: dict[str, Any], flag: str, reachable: bool) -> dict[str, Any]:
        consent = record.get("consent", "NEVER_SUBSCRIBED")
        return {
            "consent": consent,
            flag: reachable,
            "consent_timestamp": record.get("consent_timestamp"),
            "method": record.get("method"),
            "method_detail": record.get("method_detail"),
            "last_updated": record.get("last_updated"),
        }

    suppression = list(email.get("suppression", []))
    emailable = bool(doc.get("email")) and not suppression and email.get("consent") != "UNSUBSCRIBED"
    marketing_email = channel(email, "can_receive_email_marketing", emailable)
    marketing_email.update(
        custom_method_detail=email.get("custom_method_detail"),
        double_optin=email.get("double_optin"),
        suppression=suppression,
        list_suppressions=[],
    )

    def sms(record: dict[str, Any], flag: str) -> dict[str, Any]:
        subscribed = record.get("consent") == "SUBSCRIBED" and bool(doc.get("phone_number"))
        return channel(record, flag, subscribed)

    return {
        "email": {"marketing": marketing_email},
        "sms": {
            "marketing": sms(stored.get("sms", {}), "can_receive_sms_marketing"),
            "transactional": sms(stored.get("sms_transactional", {}), "can_receive_sms_transactional"),
        },
    }


INTEGRATION = {"object": "integration", "id": "0rG4eQ", "name": "API", "category": "API"}


def metric(row: sqlite3.Row, base: str, fields: list[str] | None = None) -> dict[str, Any]:
    attributes = {
        "name": row["name"],
        "created": stamp(row["created"]),
        "updated": stamp(row["updated"]),
        "integration": dict(INTEGRATION),
    }
    return {
        "type": "metric",
        "id": row["id"],
        "attributes": sparse(attributes, fields),
        "links": {"self": f"{base}/api/metrics/{row['id']}/"},
    }


def event(row: sqlite3.Row, base: str, fields: list[str] | None = None) -> dict[str, Any]:
    # Written out rather than built in loops: a page renders a hundred of these.
    timestamp = row["timestamp"]
    attributes = {
        "timestamp": timestamp,
        "event_properties": read_doc(row["properties"]),
        "datetime": _second(timestamp),
        "uuid": row["uuid"],
    }
    link = f"{base}/api/events/{row['id']}/"
    return {
        "type": "event",
        "id": row["id"],
        "attributes": sparse(attributes, fields) if fields else attributes,
        "relationships": {
            "profile": {
                "data": {"type": "profile", "id": row["profile_id"]},
                "links": {"self": f"{link}relationships/profile/", "related": f"{link}profile/"},
            },
            "metric": {
                "data": {"type": "metric", "id": row["metric_id"]},
                "links": {"self": f"{link}relationships/metric/", "related": f"{link}metric/"},
            },
        },
        "links": {"self": link},
    }
