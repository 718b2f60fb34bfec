"""Bulk profile import jobs: null never clears, per-profile errors, the job's sub-resources and the job list.

Sources: the Bulk Import Profiles guide (GUIDE below: "The Bulk Import Profiles API does not support setting fields
to null to clear them. Only fields explicitly provided with non-null values will be updated."), and the
operations ``bulk_import_profiles``, ``get_bulk_import_profiles_jobs``, ``get_errors_for_bulk_import_profiles_job``,
``get_profiles_for_bulk_import_profiles_job`` and ``get_list_for_bulk_import_profiles_job`` of stable.json
(bundled in contracts/schemas/klaviyo/2026-07-15/openapi.json; OPERATIONS below).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from _emulator_bodies import assert_jsonapi_error, first_error, import_job_body, list_body, profile_attributes
from conftest import API_KEY

GUIDE = "https://developers.klaviyo.com/en/docs/use_klaviyos_bulk_profile_import_api"
OPERATIONS = "https://developers.klaviyo.com/en/reference/get_bulk_import_profiles_jobs"
JOBS = "/api/profile-bulk-import-jobs"


def submit(client: httpx.Client, body: dict[str, Any]) -> str:
    response = client.post(JOBS, json=body)
    assert response.status_code == 202, response.text
    job_id: str = response.json()["data"]["id"]
    return job_id


def profile(client: httpx.Client, email: str) -> dict[str, Any]:
    [found] = client.get("/api/profiles", params={"filter": f'equals(email,"{email}")'}).json()["data"]
    attributes: dict[str, Any] = found["attributes"]
    return attributes


def test_null_in_a_bulk_import_does_not_clear_what_is_stored(client: httpx.Client) -> None:
    # GUIDE: only non-null values are written, unlike Create or Update Profile where null clears.
    client.post(
        "/api/profile-import",
        json=profile_attributes(
            email="ada@example.com",
            first_name="Ada",
            phone_number="+4915112345678",
            location={"city": "Hamburg", "zip": "20095"},
            properties={"tier": "gold", "points": 10},
        ),
    )
    row = {
        "email": "ada@example.com",
        "first_name": None,
        "phone_number": None,
        "title": "Countess",
        "location": {"city": None, "zip": "20097"},
        "properties": {"tier": None, "points": 11},
    }
    submit(client, import_job_body(row))
    stored = profile(client, "ada@example.com")
    assert (stored["first_name"], stored["phone_number"], stored["title"]) == (
        "Ada",
        "+4915112345678",
        "Countess",
    )
    assert (stored["location"]["city"], stored["location"]["zip"]) == ("Hamburg", "20097")
    assert stored["properties"] == {"tier": "gold", "points": 11}
    # properties: null and location: null change nothing either.
    submit(client, import_job_body({"email": "ada@example.com", "properties": None, "location": None}))
    again = profile(client, "ada@example.com")
    assert again["properties"] == {"tier": "gold", "points": 11} and again["location"]["city"] == "Hamburg"


def test_profile_import_still_clears_with_null(client: httpx.Client) -> None:
    # The contrast the GUIDE draws: on Create or Update Profile "setting a field to null will clear out the field"
    # (https://developers.klaviyo.com/en/reference/create_or_update_profile).
    client.post("/api/profile-import", json=profile_attributes(email="ada@example.com", first_name="Ada"))
    client.post("/api/profile-import", json=profile_attributes(email="ada@example.com", first_name=None))
    assert profile(client, "ada@example.com")["first_name"] is None


def test_a_profile_that_cannot_be_imported_is_an_import_error_not_a_failed_job(client: httpx.Client) -> None:
    # ImportErrorResponseObjectResource (stable.json): code, title, detail, source and original_payload per error;
    # the job's failed_count counts them.
    holder = client.post(
        "/api/profile-import", json=profile_attributes(email="taken@example.com", external_id="m-1")
    )
    holder_id = holder.json()["data"]["id"]
    rows: list[dict[str, Any]] = [
        {"type": "profile", "attributes": {"email": "fine@example.com"}},
        {"type": "profile", "attributes": {"email": "not-an-email"}},
        {"type": "profile", "attributes": {"first_name": "Nobody"}},
        {"type": "profile", "attributes": {"email": "taken@example.com", "external_id": "m-2"}},
        {"type": "profile", "id": "01HZZZZZZZZZZZZZZZZZZZZZZZ", "attributes": {"first_name": "Ghost"}},
        {
            "type": "profile",
            "attributes": {"email": "big@example.com", "properties": {"blob": "x" * 110_000}},
        },
    ]
    body = {"data": {"type": "profile-bulk-import-job", "attributes": {"profiles": {"data": rows}}}}
    job_id = submit(client, body)
    errors = client.get(f"{JOBS}/{job_id}/import-errors").json()["data"]
    assert [(e["attributes"]["code"], e["attributes"]["source"]["pointer"]) for e in errors] == [
        ("invalid", "/data/attributes/profiles/data/1/attributes/email"),
        ("invalid", "/data/attributes/profiles/data/2/attributes"),
        ("duplicate_profile", "/data/attributes/profiles/data/3/attributes"),
        ("invalid", "/data/attributes/profiles/data/4/id"),
        ("invalid", "/data/attributes/profiles/data/5"),
    ]
    assert all(e["type"] == "import-error" and e["id"] for e in errors)
    assert errors[0]["attributes"]["original_payload"] == rows[1]
    assert errors[2]["attributes"]["title"] == "Conflict."
    client.get(f"{JOBS}/{job_id}")
    done = client.get(f"{JOBS}/{job_id}").json()["data"]["attributes"]
    assert (done["status"], done["completed_count"], done["failed_count"]) == ("complete", 1, 5)
    assert profile(client, "taken@example.com")["external_id"] == "m-1"
    assert client.get(f"/api/profiles/{holder_id}").status_code == 200
    sparse = client.get(
        f"{JOBS}/{job_id}/import-errors", params={"fields[import-error]": "detail", "page[size]": "2"}
    )
    assert [e["attributes"] for e in sparse.json()["data"]] == [
        {"detail": "Invalid email address"},
        {"detail": "A profile needs at least one identifier."},
    ]
    assert sparse.json()["links"]["next"] is not None


def test_the_jobs_profiles_and_lists_and_the_members_it_adds(client: httpx.Client) -> None:
    # bulk_import_profiles: relationships.lists "Optional list to add the profiles to"; the job's profiles and
    # lists sub-resources (OPERATIONS).
    list_id = client.post("/api/lists", json=list_body("Imported", "double_opt_in")).json()["data"]["id"]
    body = import_job_body({"email": "a@example.com"}, {"email": "b@example.com"})
    body["data"]["relationships"] = {"lists": {"data": [{"type": "list", "id": list_id}]}}
    job_id = submit(client, body)
    imported = client.get(f"{JOBS}/{job_id}/profiles", params={"additional-fields[profile]": "subscriptions"})
    assert [p["attributes"]["email"] for p in imported.json()["data"]] == ["a@example.com", "b@example.com"]
    # Joining a list through an import changes no consent.
    assert (
        imported.json()["data"][0]["attributes"]["subscriptions"]["email"]["marketing"]["consent"]
        == "NEVER_SUBSCRIBED"
    )
    assert [item["id"] for item in client.get(f"{JOBS}/{job_id}/lists").json()["data"]] == [list_id]
    members = client.get(f"/api/lists/{list_id}/profiles").json()["data"]
    assert [m["attributes"]["email"] for m in members] == ["a@example.com", "b@example.com"]
    job = client.get(f"{JOBS}/{job_id}", params={"include": "lists"}).json()
    assert job["data"]["relationships"]["lists"]["data"] == [{"type": "list", "id": list_id}]
    assert [item["id"] for item in job["included"]] == [list_id]


def test_an_unknown_list_in_an_import_is_not_found_and_nothing_is_imported(client: httpx.Client) -> None:
    body = import_job_body({"email": "a@example.com"})
    body["data"]["relationships"] = {"lists": {"data": [{"type": "list", "id": "NOPE00"}]}}
    response = client.post(JOBS, json=body)
    assert_jsonapi_error(response, 404, "not_found")
    assert first_error(response)["source"] == {"pointer": "/data/relationships/lists/data/0/id"}
    assert client.get("/api/profiles").json()["data"] == []


@pytest.mark.parametrize("path", ["import-errors", "profiles", "lists"])
def test_a_sub_resource_of_an_unknown_job_is_not_found(client: httpx.Client, path: str) -> None:
    assert_jsonapi_error(client.get(f"{JOBS}/01HZZZZZZZZZZZZZZZZZZZZZZZ/{path}"), 404, "not_found")


def test_the_job_list_filters_by_status_sorts_by_creation_and_pages(client: httpx.Client) -> None:
    # get_bulk_import_profiles_jobs: filter status any/equals, sort created_at, page[size] 1..100 (OPERATIONS).
    first = submit(client, import_job_body({"email": "a@example.com"}))
    second = submit(client, import_job_body({"email": "b@example.com"}))
    client.get(f"{JOBS}/{first}")  # processing; listing itself never advances a job
    listed = client.get(JOBS).json()["data"]
    assert [(j["id"], j["attributes"]["status"]) for j in listed] == [
        (first, "processing"),
        (second, "queued"),
    ]
    queued = client.get(JOBS, params={"filter": 'equals(status,"queued")'}).json()["data"]
    assert [j["id"] for j in queued] == [second]
    either = client.get(JOBS, params={"filter": 'any(status,["queued","processing"])', "sort": "-created_at"})
    assert [j["id"] for j in either.json()["data"]] == sorted([first, second], reverse=True)
    paged = client.get(JOBS, params={"page[size]": "1"}).json()
    assert [j["id"] for j in paged["data"]] == [first] and paged["links"]["next"] is not None
    assert [j["id"] for j in client.get(paged["links"]["next"]).json()["data"]] == [second]
    assert_jsonapi_error(client.get(JOBS, params={"filter": "equals(total_count,1)"}), 400, "invalid")
    assert [j["id"] for j in client.get(JOBS).json()["data"]] == [first, second]
    assert client.get(JOBS, params={"key": API_KEY}).status_code == 400  # not a query parameter Klaviyo takes
