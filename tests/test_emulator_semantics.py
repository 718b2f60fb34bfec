"""Klaviyo's semantics in the fake: profile merge, identity, events, dedupe, bulk jobs, accounts, the ledger.

Sections refer to the shared Klaviyo notes (klaviyo-api.md); where Klaviyo's behaviour is not published, the
test pins the emulator's documented choice and says so.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
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

from emulator.klaviyo import Emulator
from emulator.klaviyo.query import encode_cursor

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


# -- profile-import: create or update, and how attributes merge (§3) -------------------------------------------------


def test_profile_import_answers_201_when_it_creates_and_200_when_it_updates(client: httpx.Client) -> None:
    created = _import(client, profile_attributes(email="ada@example.com", first_name="Ada"), 201)
    updated = _import(client, profile_attributes(email="ada@example.com", last_name="Lovelace"), 200)
    assert updated["id"] == created["id"]
    assert updated["attributes"]["first_name"] == "Ada"
    assert updated["attributes"]["last_name"] == "Lovelace"
    assert len(_profiles(client)) == 1


def test_profile_import_clears_an_attribute_sent_as_null(client: httpx.Client) -> None:
    _upsert(client, email="ada@example.com", first_name="Ada", location={"city": "London", "zip": "N1"})
    profile = _upsert(client, email="ada@example.com", first_name=None, location={"city": None})
    assert profile["attributes"]["first_name"] is None
    assert profile["attributes"]["location"]["city"] is None
    assert profile["attributes"]["location"]["zip"] == "N1"


def test_profile_import_keeps_an_attribute_left_out(client: httpx.Client) -> None:
    _upsert(client, email="ada@example.com", first_name="Ada", organization="Analytical Engines")
    profile = _upsert(client, email="ada@example.com", title="Countess")
    assert profile["attributes"]["first_name"] == "Ada"
    assert profile["attributes"]["organization"] == "Analytical Engines"
    assert profile["attributes"]["title"] == "Countess"


def test_profile_import_merges_custom_properties_key_by_key(client: httpx.Client) -> None:
    _upsert(client, email="ada@example.com", properties={"tier": "silver", "points": 10, "city": "Paris"})
    profile = _upsert(client, email="ada@example.com", properties={"tier": "gold", "coupons": ["c1"]})
    assert profile["attributes"]["properties"] == {
        "tier": "gold",
        "points": 10,
        "city": "Paris",
        "coupons": ["c1"],
    }


def _patched(client: httpx.Client, **patch: Any) -> dict[str, Any]:
    body = profile_attributes(email="ada@example.com")
    body["data"]["meta"] = {"patch_properties": patch}
    properties: dict[str, Any] = _import(client, body)["attributes"]["properties"]
    return properties


def test_patch_properties_append_adds_to_a_list_and_starts_one_where_there_was_none(
    client: httpx.Client,
) -> None:
    _upsert(client, email="ada@example.com", properties={"skus": ["a"], "tier": "gold"})
    properties = _patched(client, append={"skus": "b", "badges": ["first", "second"]})
    assert properties["skus"] == ["a", "b"]
    assert properties["badges"] == ["first", "second"]
    assert properties["tier"] == "gold"


def test_patch_properties_append_on_a_plain_value_turns_it_into_a_list(client: httpx.Client) -> None:
    # The community thread in §3 reports "x" -> ["x"]; the emulator keeps the old value as the first item.
    _upsert(client, email="ada@example.com", properties={"favourite": "x"})
    assert _patched(client, append={"favourite": "y"})["favourite"] == ["x", "y"]


def test_patch_properties_unappend_removes_each_value_given(client: httpx.Client) -> None:
    _upsert(client, email="ada@example.com", properties={"skus": ["a", "b", "c", "b"]})
    assert _patched(client, unappend={"skus": "b"})["skus"] == ["a", "c"]
    assert _patched(client, unappend={"skus": ["a", "c"]})["skus"] == []


def test_patch_properties_unset_removes_one_key_or_a_list_of_keys(client: httpx.Client) -> None:
    _upsert(client, email="ada@example.com", properties={"a": 1, "b": 2, "c": 3, "d": 4})
    assert _patched(client, unset="a") == {"b": 2, "c": 3, "d": 4}
    assert _patched(client, unset=["b", "c"]) == {"d": 4}


def _secondary_emails(client: httpx.Client, profile_id: str) -> list[str]:
    """Klaviyo's profile resource does not show secondary emails; the emulator's export of the account does."""
    [stored] = [row for row in _state(client)["profiles"] if row["id"] == profile_id]
    emails: list[str] = json.loads(stored["doc"])["secondary_emails"]
    return emails


def test_patch_identifiers_adds_and_removes_secondary_emails(client: httpx.Client) -> None:
    body = profile_attributes(email="ada@example.com")
    body["data"]["meta"] = {
        "patch_identifiers": {"append": {"email": ["ada@work.example", "ada@home.example"]}}
    }
    profile = _import(client, body, 201)
    body["data"]["meta"] = {"patch_identifiers": {"unappend": {"email": ["ada@work.example"]}}}
    _import(client, body)
    assert _secondary_emails(client, profile["id"]) == ["ada@home.example"]


def test_patch_identifiers_takes_a_single_email_as_one_address_not_its_characters(
    client: httpx.Client,
) -> None:
    # Regression: a string was iterated, storing "a", "d", "a", "@", ... as secondary emails.
    body = profile_attributes(email="ada@example.com")
    body["data"]["meta"] = {"patch_identifiers": {"append": {"email": "ada@work.example"}}}
    profile = _import(client, body, 201)
    assert _secondary_emails(client, profile["id"]) == ["ada@work.example"]


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


# -- identity: conflicts and TRIFFT's members (§3, §4.1, §4.4, §8; trifft.md §5) -------------------------------------


def test_identifiers_of_two_different_profiles_are_a_409_naming_the_other_profile(
    client: httpx.Client,
) -> None:
    by_email = _upsert(client, email="ada@example.com")
    by_phone = _upsert(client, phone_number="+15005550006")
    response = client.post(
        "/api/profile-import", json=profile_attributes(email="ada@example.com", phone_number="+15005550006")
    )
    assert_jsonapi_error(response, 409, "duplicate_profile")
    error = first_error(response)
    assert error["title"] == "Conflict."
    assert error["detail"] == "A profile already exists with one of these identifiers."
    assert error["meta"]["duplicate_profile_id"] == by_phone["id"]
    assert {p["id"]: p["attributes"]["phone_number"] for p in _profiles(client)} == {
        by_email["id"]: None,
        by_phone["id"]: "+15005550006",
    }


def test_create_profile_with_an_email_that_exists_is_a_409_with_the_existing_profile_id(
    client: httpx.Client,
) -> None:
    existing = _upsert(client, email="ada@example.com")
    response = client.post(
        "/api/profiles", json=profile_attributes(email="ada@example.com", first_name="Twin")
    )
    assert_jsonapi_error(response, 409, "duplicate_profile")
    assert first_error(response)["source"] == {"pointer": "/data/attributes"}
    assert first_error(response)["meta"] == {"duplicate_profile_id": existing["id"]}
    assert [p["attributes"]["first_name"] for p in _profiles(client)] == [None]


def test_update_profile_to_an_email_another_profile_holds_is_a_409(client: httpx.Client) -> None:
    ada = _upsert(client, email="ada@example.com")
    grace = _upsert(client, email="grace@example.com")
    response = client.patch(
        f"/api/profiles/{grace['id']}",
        json={"data": {"type": "profile", "id": grace["id"], "attributes": {"email": "ada@example.com"}}},
    )
    assert_jsonapi_error(response, 409, "duplicate_profile")
    assert first_error(response)["meta"]["duplicate_profile_id"] == ada["id"]


def test_a_member_whose_email_changes_keeps_one_profile_with_the_new_email(client: httpx.Client) -> None:
    before = _import(client, profile_attributes(external_id="member-1", email="old@example.com"), 201)
    after = _import(client, profile_attributes(external_id="member-1", email="new@example.com"), 200)
    assert after["id"] == before["id"]
    assert after["attributes"]["email"] == "new@example.com"
    _send(client, event_body(profile={"external_id": "member-1", "email": "new@example.com"}))
    [event] = _events(client)
    assert event["relationships"]["profile"]["data"]["id"] == before["id"]
    assert len(_profiles(client)) == 1


def test_two_members_sharing_an_email_are_a_409_on_profile_import(client: httpx.Client) -> None:
    first = _upsert(client, external_id="member-1", email="family@example.com")
    response = client.post(
        "/api/profile-import", json=profile_attributes(external_id="member-2", email="family@example.com")
    )
    assert_jsonapi_error(response, 409, "duplicate_profile")
    assert first_error(response)["meta"]["duplicate_profile_id"] == first["id"]
    assert [p["attributes"]["external_id"] for p in _profiles(client)] == ["member-1"]


def test_an_event_of_a_member_sharing_an_email_goes_to_its_own_profile_and_the_ledger_says_why(
    client: httpx.Client,
) -> None:
    # Klaviyo does not document which profile gets such an event; the emulator's choice (profiles.resolve) is
    # that an external_id is the member's identity, and an email held by another member is not applied.
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


def test_an_event_with_profile_attributes_creates_the_profile_then_updates_it(client: httpx.Client) -> None:
    member = {"external_id": "member-1", "email": "ada@example.com", "first_name": "Ada"}
    _send(client, event_body(profile={**member, "properties": {"tier": "silver"}}, unique_id="e1"))
    [created] = _profiles(client)
    assert created["attributes"]["first_name"] == "Ada"
    assert created["attributes"]["properties"] == {"tier": "silver"}
    _send(
        client,
        event_body(
            profile={**member, "first_name": "Augusta", "properties": {"tier": "gold"}}, unique_id="e2"
        ),
    )
    [updated] = _profiles(client)
    assert updated["id"] == created["id"]
    assert updated["attributes"]["first_name"] == "Augusta"
    assert updated["attributes"]["properties"] == {"tier": "gold"}
    assert {e["relationships"]["profile"]["data"]["id"] for e in _events(client)} == {created["id"]}


# -- events: metrics on first use, dedupe, what is stored (§1, §5.1) -------------------------------------------------


def test_the_first_event_of_a_metric_name_creates_the_metric_once(client: httpx.Client) -> None:
    _send(client, event_body("Points earned", unique_id="a"))
    _send(client, event_body("Points earned", unique_id="b"))
    [metric] = client.get("/api/metrics").json()["data"]
    assert metric["attributes"]["name"] == "Points earned"
    assert metric["attributes"]["integration"]["name"] == "API"
    [created] = _ledger(client, kind="metric_created")
    assert created["subject"] == metric["id"]
    assert created["details"] == {"name": "Points earned"}
    assert {e["relationships"]["metric"]["data"]["id"] for e in _events(client)} == {metric["id"]}


def test_a_repeated_unique_id_is_accepted_stored_once_and_named_in_the_ledger(client: httpx.Client) -> None:
    _send(client, event_body(unique_id="order-1", properties={"try": 1}))
    _send(client, event_body(unique_id="order-1", properties={"try": 2}))
    [event] = _events(client)
    assert event["attributes"]["event_properties"] == {"try": 1}
    [duplicate] = _ledger(client, kind="event_deduplicated")
    assert duplicate["subject"] == event["id"]
    assert event["id"] in duplicate["reason"]
    assert duplicate["details"]["unique_id"] == "order-1"


def test_events_without_unique_id_are_deduplicated_by_the_second(client: httpx.Client) -> None:
    _send(client, event_body(time="2024-05-01T12:00:00.100Z", properties={"n": 1}))
    _send(client, event_body(time="2024-05-01T12:00:00.900Z", properties={"n": 2}))
    _send(client, event_body(time="2024-05-01T12:00:01Z", properties={"n": 3}))
    assert sorted(e["attributes"]["event_properties"]["n"] for e in _events(client)) == [1, 3]
    [duplicate] = _ledger(client, kind="event_deduplicated")
    assert "same second" in duplicate["reason"]


def test_the_same_unique_id_for_another_profile_or_metric_is_not_a_duplicate(client: httpx.Client) -> None:
    _send(client, event_body("Placed Order", profile={"email": "ada@example.com"}, unique_id="x"))
    _send(client, event_body("Placed Order", profile={"email": "grace@example.com"}, unique_id="x"))
    _send(client, event_body("Refunded Order", profile={"email": "ada@example.com"}, unique_id="x"))
    assert len(_events(client)) == 3
    assert _ledger(client, kind="event_deduplicated") == []


def test_an_event_stores_value_currency_and_time(client: httpx.Client) -> None:
    _send(
        client,
        event_body(time="2024-05-01T12:34:56+02:00", value=19.99, value_currency="EUR", unique_id="o1"),
    )
    [event] = _events(client)
    assert event["attributes"]["datetime"] == "2024-05-01T10:34:56+00:00"
    assert event["attributes"]["timestamp"] == int(datetime(2024, 5, 1, 10, 34, 56, tzinfo=UTC).timestamp())
    # Get Events has no value attribute (§5.1) and whether Klaviyo shows it as "$value" is unconfirmed (§1), so
    # value and currency are read from the emulator's own export of the account.
    [stored] = _state(client)["events"]
    assert (stored["value"], stored["value_currency"], stored["unique_id"]) == (19.99, "EUR", "o1")
    assert stored["id"] == event["id"]


def test_an_event_without_time_is_stamped_when_received(emulator: Emulator, client: httpx.Client) -> None:
    emulator.clock = lambda: 1_714_567_890.75
    _send(client, event_body())
    [event] = _events(client)
    assert event["attributes"]["timestamp"] == 1_714_567_890


def test_an_event_given_a_date_only_happened_at_midnight_utc(client: httpx.Client) -> None:
    _send(client, event_body(time="2024-05-01"))
    assert _events(client)[0]["attributes"]["datetime"] == "2024-05-01T00:00:00+00:00"


def _refused_time(client: httpx.Client, moment: str) -> None:
    response = client.post("/api/events", json=event_body(time=moment))
    assert_jsonapi_error(response, 400, "invalid")
    assert first_error(response)["source"] == {"pointer": "/data/attributes/time"}
    assert (
        first_error(response)["detail"] == "Event time must be after 1990 and at most one year in the future."
    )
    assert _events(client) == []
    assert _profiles(client) == []


@pytest.mark.parametrize("moment", ["1989-12-31T23:59:59Z", "1970-01-01T00:00:00Z", "1900-06-01"])
def test_an_event_time_before_1990_is_refused(client: httpx.Client, moment: str) -> None:
    _refused_time(client, moment)


def test_an_event_time_more_than_a_year_ahead_is_refused(client: httpx.Client) -> None:
    _refused_time(client, (datetime.now(UTC) + timedelta(days=367)).isoformat())


def test_an_event_time_just_inside_the_range_is_accepted(client: httpx.Client) -> None:
    _send(client, event_body(time="1990-01-01T00:00:01Z", unique_id="old"))
    _send(client, event_body(time=(datetime.now(UTC) + timedelta(days=364)).isoformat(), unique_id="soon"))
    assert len(_events(client)) == 2


# -- bulk create events (§2) -----------------------------------------------------------------------------------------


def _bulk(client: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    return client.post("/api/event-bulk-create-jobs", json=body)


def _nothing_stored(client: httpx.Client) -> None:
    state = _state(client)
    assert (state["events"], state["profiles"], state["metrics"], state["ledger"]) == ([], [], [], [])


def test_a_bulk_job_stores_every_event_and_creates_the_profiles(client: httpx.Client) -> None:
    response = _bulk(
        client,
        bulk_events_body(
            (
                {"external_id": "m1", "email": "ada@example.com"},
                [bulk_event(unique_id="1"), bulk_event(unique_id="2")],
            ),
            ({"external_id": "m2"}, [bulk_event("Points earned", unique_id="1")]),
        ),
    )
    assert response.status_code == 202, response.text
    assert response.content == b""
    assert len(_events(client)) == 3
    assert sorted(p["attributes"]["external_id"] for p in _profiles(client)) == ["m1", "m2"]


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


def test_a_bulk_job_of_more_than_1000_events_is_refused_and_1000_accepted(client: httpx.Client) -> None:
    events = [bulk_event(unique_id=str(n)) for n in range(1001)]
    response = _bulk(
        client,
        bulk_events_body(
            ({"email": "a@example.com"}, events[:600]), ({"email": "b@example.com"}, events[600:])
        ),
    )
    assert_jsonapi_error(response, 400, "invalid")
    assert first_error(response)["source"] == {"pointer": "/data/attributes/events-bulk-create/data"}
    assert "1,000" in first_error(response)["detail"]
    _nothing_stored(client)
    response = _bulk(client, bulk_events_body(({"email": "a@example.com"}, events[:1000])))
    assert response.status_code == 202, response.text
    assert len(client.get("/api/events", params={"page[size]": 1000}).json()["data"]) == 1000


# -- accounts: every API key is its own Klaviyo account --------------------------------------------------------------


def test_two_api_keys_never_see_each_others_profiles_events_metrics_or_ledger(client: httpx.Client) -> None:
    mine = _import(client, profile_attributes(email="ada@example.com"), 201)
    _send(client, event_body("Mine", unique_id="u"))
    _send(client, event_body("Mine", unique_id="u"))
    theirs = client.post(
        "/api/profile-import", json=profile_attributes(email="ada@example.com"), headers=OTHER
    )
    assert theirs.status_code == 201, theirs.text
    assert theirs.json()["data"]["id"] != mine["id"]
    _send(client, event_body("Theirs", unique_id="u"), headers=OTHER)

    assert [p["id"] for p in _profiles(client, headers=OTHER)] == [theirs.json()["data"]["id"]]
    assert [m["attributes"]["name"] for m in client.get("/api/metrics", headers=OTHER).json()["data"]] == [
        "Theirs"
    ]
    assert [m["attributes"]["name"] for m in client.get("/api/metrics").json()["data"]] == ["Mine"]
    [my_event] = _events(client)
    [their_event] = _events(client, headers=OTHER)
    for path in (f"/api/profiles/{mine['id']}", f"/api/events/{my_event['id']}"):
        assert_jsonapi_error(client.get(path, headers=OTHER), 404, "not_found")
    assert_jsonapi_error(client.get(f"/api/events/{their_event['id']}"), 404, "not_found")
    assert [row["kind"] for row in _ledger(client, OTHER_KEY)] == ["metric_created"]
    assert sorted(row["kind"] for row in _ledger(client)) == ["event_deduplicated", "metric_created"]


@pytest.mark.parametrize("offset", [0, 3, 6, 7, 12])
def test_events_paged_by_the_store_read_as_events_paged_in_memory(client: httpx.Client, offset: int) -> None:
    for n in range(7):
        _send(client, event_body(unique_id=f"paged-{n}"))
    cursor = encode_cursor(offset)
    fast = client.get("/api/events", params={"page[size]": 3, "page[cursor]": cursor}).json()
    # A filter that holds for every event takes the in-memory path.
    slow = client.get(
        "/api/events",
        params={
            "page[size]": 3,
            "page[cursor]": cursor,
            "filter": "greater-than(datetime,2000-01-01T00:00:00Z)",
        },
    ).json()
    assert [e["id"] for e in fast["data"]] == [e["id"] for e in slow["data"]]
    for name in ("next", "prev"):
        assert (fast["links"][name] is None) == (slow["links"][name] is None)
        if fast["links"][name]:
            assert (
                fast["links"][name].split("page%5Bcursor%5D=")[1]
                == slow["links"][name].split("page%5Bcursor%5D=")[1]
            )
