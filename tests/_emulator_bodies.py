"""Valid Klaviyo request bodies and JSON:API error checks, shared by the emulator's negative and semantic tests."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

JSONAPI = "application/vnd.api+json"


def profile_attributes(**attributes: Any) -> dict[str, Any]:
    return {"data": {"type": "profile", "attributes": attributes}}


def event_body(
    metric: str = "Placed Order",
    profile: dict[str, Any] | None = None,
    properties: dict[str, Any] | None = None,
    **attributes: Any,
) -> dict[str, Any]:
    """A Create Event body; the profile defaults to one identified by email."""
    return {
        "data": {
            "type": "event",
            "attributes": {
                "properties": {} if properties is None else properties,
                "metric": {"data": {"type": "metric", "attributes": {"name": metric}}},
                "profile": {
                    "data": {"type": "profile", "attributes": profile or {"email": "ada@example.com"}}
                },
                **attributes,
            },
        }
    }


def bulk_event(metric: str = "Placed Order", **attributes: Any) -> dict[str, Any]:
    return {
        "type": "event",
        "attributes": {
            "properties": attributes.pop("properties", {}),
            "metric": {"data": {"type": "metric", "attributes": {"name": metric}}},
            **attributes,
        },
    }


def bulk_events_body(*groups: tuple[dict[str, Any], list[dict[str, Any]]]) -> dict[str, Any]:
    """A Bulk Create Events body from (profile attributes, [bulk_event(...)]) groups."""
    return {
        "data": {
            "type": "event-bulk-create-job",
            "attributes": {
                "events-bulk-create": {
                    "data": [
                        {
                            "type": "event-bulk-create",
                            "attributes": {
                                "profile": {"data": {"type": "profile", "attributes": profile}},
                                "events": {"data": events},
                            },
                        }
                        for profile, events in groups
                    ]
                }
            },
        }
    }


def import_job_body(*profiles: dict[str, Any]) -> dict[str, Any]:
    return {
        "data": {
            "type": "profile-bulk-import-job",
            "attributes": {"profiles": {"data": [{"type": "profile", "attributes": p} for p in profiles]}},
        }
    }


def subscription_body(kind: str, consent: str, email: str = "ada@example.com") -> dict[str, Any]:
    return {
        "data": {
            "type": kind,
            "attributes": {
                "profiles": {
                    "data": [
                        {
                            "type": "profile",
                            "attributes": {
                                "email": email,
                                "subscriptions": {"email": {"marketing": {"consent": consent}}},
                            },
                        }
                    ]
                }
            },
        }
    }


def list_body(name: str, opt_in_process: str | None = None) -> dict[str, Any]:
    attributes: dict[str, Any] = {"name": name}
    if opt_in_process is not None:
        attributes["opt_in_process"] = opt_in_process
    return {"data": {"type": "list", "attributes": attributes}}


def valid_bodies(profile_id: str) -> dict[str, dict[str, Any]]:
    """One valid body for every operation that takes one; ``profile_id`` is an existing profile's id."""
    return {
        "create_event": event_body(properties={"points": 10}, unique_id="order-1", value=9.5),
        "bulk_create_events": bulk_events_body(
            ({"email": "ada@example.com"}, [bulk_event(unique_id="b-1"), bulk_event(unique_id="b-2")])
        ),
        "create_or_update_profile": profile_attributes(
            email="ada@example.com", external_id="member-1", properties={"tier": "gold"}
        ),
        "create_profile": profile_attributes(email="grace@example.com", first_name="Grace"),
        "update_profile": {
            "data": {"type": "profile", "id": profile_id, "attributes": {"first_name": "Ada"}}
        },
        "bulk_import_profiles": import_job_body({"email": "alan@example.com"}),
        "bulk_subscribe_profiles": subscription_body("profile-subscription-bulk-create-job", "SUBSCRIBED"),
        "bulk_unsubscribe_profiles": subscription_body(
            "profile-subscription-bulk-delete-job", "UNSUBSCRIBED"
        ),
        "create_list": list_body("Newsletter"),
    }


def assert_jsonapi_error(
    response: httpx.Response, status: int | None = None, code: str | None = None
) -> None:
    """The response is a JSON:API error document in Klaviyo's shape (and has this status and first code)."""
    assert response.status_code >= 400, response.text
    if status is not None:
        assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(JSONAPI), response.headers
    errors = response.json()["errors"]
    assert isinstance(errors, list)
    assert errors
    for item in errors:
        assert str(uuid.UUID(item["id"])) == item["id"]
        assert item["status"] == response.status_code
        assert isinstance(item["status"], int)
        for name in ("code", "title", "detail"):
            assert isinstance(item[name], str)
            assert item[name]
    if code is not None:
        assert errors[0]["code"] == code, errors


def first_error(response: httpx.Response) -> dict[str, Any]:
    item: dict[str, Any] = response.json()["errors"][0]
    return item
