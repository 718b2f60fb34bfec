"""Klaviyo's semantics in the fake: profile merge, identity, events, dedupe, bulk jobs, accounts, the ledger.

Sections refer to the shared Klaviyo notes (klaviyo-api.md); where Klaviyo's behaviour is not published, the
test pins the emulator's documented choice and says so.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from _emulator_bodies import (
    assert_jsonapi_error,
    bulk_event,
    bulk_events_body,
    event_body,
    first_error,
    profile_attributes,
)
from conftest import API_KEY

OTHER_KEY = "pk_test_trifft_0002"


OTHER = {"Authorization": f"Klaviyo-API-Key {OTHER_KEY}"}


def _import(client: httpx.Client, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    response = client.post("/api/profile-import", json=body)
    assert response.status_code == status, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def _upsert(client: httpx.Client, **attributes: Any) -> dict[str, Any]:
    response = client.post("/api/profile-import", json=profile_attributes(**attributes))
    assert response.status_code in (200, 201), response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def _send(client: httpx.Client, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    response = client.post("/api/events", json=body, headers=headers)
    assert response.status_code == 202, response.text
    assert response.content == b""


def _events(client: httpx.Client, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    response = client.get("/api/events", headers=headers)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def _profiles(client: httpx.Client, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    response = client.get("/api/profiles", headers=headers)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def _ledger(client: httpx.Client, key: str = API_KEY, kind: str | None = None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = client.get("/_emulator/ledger", params={"key": key}).json()["data"]
    return [row for row in rows if kind is None or row["kind"] == kind]


def _state(client: httpx.Client, key: str = API_KEY) -> dict[str, Any]:
    state: dict[str, Any] = client.get("/_emulator/state", params={"key": key}).json()
    return state


def _patched(client: httpx.Client, **patch: Any) -> dict[str, Any]:
    body = profile_attributes(email="ada@example.com")
    body["data"]["meta"] = {"patch_properties": patch}
    properties: dict[str, Any] = _import(client, body)["attributes"]["properties"]
    return properties


def test_patch_identifiers_adds_and_removes_secondary_emails(client: httpx.Client) -> None:
    body = profile_attributes(email="ada@example.com")
    body["data"]["meta"] = {
        "patch_identifiers": {"append": {"email": ["ada@work.example", "ada@home.example"]}}
    }
    profile = _import(client, body, 201)
    body["data"]["meta"] = {"patch_identifiers": {"unappend": {"email": ["ada@work.example"]}}}
    _import(client, body)
    [stored] = [row for row in _state(client)["profiles"] if row["id"] == profile["id"]]
    assert '"secondary_emails":["ada@home.example"]' in stored["doc"]


def test_patch_identifiers_takes_a_single_email_as_one_address_not_its_characters(
    client: httpx.Client,
) -> None:
    # Regression: a string was iterated, storing "a", "d", "a", "@", ... as secondary emails.
    body = profile_attributes(email="ada@example.com")
    body["data"]["meta"] = {"patch_identifiers": {"append": {"email": "ada@work.example"}}}
    profile = _import(client, body, 201)
    [stored] = [row for row in _state(client)["profiles"] if row["id"] == profile["id"]]
    assert '"secondary_emails":["ada@work.example"]' in stored["doc"]


@pytest.mark.parametrize(
    ("patch", "pointer", "detail"),
    [
        (
            {"append": {"email": ["not-an-email"]}},
            "/data/meta/patch_identifiers/append/email/0",
            "Invalid email address",
        ),
        ({"unappend": {"email": 5}}, "/data/meta/patch_identifiers/unappend/email", "Invalid email address"),
        (
            {"append": {"phone_number": ["+15005550006"]}},
            "/data/meta/patch_identifiers/append/phone_number",
            "Only email can be patched as an identifier.",
        ),
    ],
)
def test_patch_identifiers_refuses_what_is_not_an_email(
    client: httpx.Client, patch: dict[str, Any], pointer: str, detail: str
) -> None:
    body = profile_attributes(email="ada@example.com")
    body["data"]["meta"] = {"patch_identifiers": patch}
    response = client.post("/api/profile-import", json=body)
    assert_jsonapi_error(response, 400, "invalid")
    assert first_error(response)["source"] == {"pointer": pointer}
    assert first_error(response)["detail"] == detail
    assert _profiles(client) == []


def test_an_event_of_a_member_sharing_an_email_goes_to_its_own_profile_and_the_ledger_says_why(
    client: httpx.Client,
) -> None:
    first = _upsert(client, external_id="member-1", email="family@example.com")
    _send(client, event_body(profile={"external_id": "member-2", "email": "family@example.com"}))
    [event] = _events(client)
    [second] = [p for p in _profiles(client) if p["attributes"]["external_id"] == "member-2"]
    assert event["relationships"]["profile"]["data"]["id"] == second["id"]
    assert second["id"] != first["id"]
    assert second["attributes"]["email"] is None
    [conflict] = _ledger(client, kind="identifier_conflict")
    assert conflict["subject"] == second["id"]
    assert conflict["details"]["identifier"] == "email"
    assert conflict["details"]["other_profile"] == first["id"]
    assert first["id"] in conflict["reason"]


def _bulk(client: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    return client.post("/api/event-bulk-create-jobs", json=body)


def _nothing_stored(client: httpx.Client) -> None:
    state = _state(client)
    assert (state["events"], state["profiles"], state["metrics"], state["ledger"]) == ([], [], [], [])


def test_a_bulk_job_repeating_a_unique_id_for_one_profile_and_metric_fails_whole(
    client: httpx.Client,
) -> None:
    response = _bulk(
        client,
        bulk_events_body(
            ({"email": "grace@example.com"}, [bulk_event(unique_id="fine")]),
            ({"email": "ada@example.com"}, [bulk_event(unique_id="o1"), bulk_event(unique_id="o1")]),
        ),
    )
    assert_jsonapi_error(response, 400, "invalid")
    pointer = "/data/attributes/events-bulk-create/data/1/attributes/events/data/1/attributes/unique_id"
    assert first_error(response)["source"] == {"pointer": pointer}
    _nothing_stored(client)


def test_a_bulk_job_repeating_a_unique_id_in_two_groups_of_one_profile_fails_whole(
    client: httpx.Client,
) -> None:
    # Regression: the repeat was only looked for inside one group, so the second group's event was deduplicated.
    response = _bulk(
        client,
        bulk_events_body(
            ({"external_id": "m1"}, [bulk_event(unique_id="o1")]),
            ({"external_id": "m1"}, [bulk_event(unique_id="o1")]),
        ),
    )
    assert_jsonapi_error(response, 400, "invalid")
    pointer = "/data/attributes/events-bulk-create/data/1/attributes/events/data/0/attributes/unique_id"
    assert first_error(response)["source"] == {"pointer": pointer}
    _nothing_stored(client)


def test_a_bulk_job_may_repeat_a_unique_id_across_metrics_or_profiles(client: httpx.Client) -> None:
    response = _bulk(
        client,
        bulk_events_body(
            ({"external_id": "m1"}, [bulk_event("A", unique_id="o1"), bulk_event("B", unique_id="o1")]),
            ({"external_id": "m2"}, [bulk_event("A", unique_id="o1")]),
        ),
    )
    assert response.status_code == 202, response.text
    assert len(_events(client)) == 3
