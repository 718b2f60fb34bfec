"""Identity: which profile a request names, and which identifiers Klaviyo takes.

Sources, cited per test. Where Klaviyo is silent (letter case, surrounding whitespace) the test pins the
emulator's choice, written down in docs/emulator.md "Where Klaviyo is silent".
"""

from __future__ import annotations

import httpx
import pytest
from _emulator_bodies import assert_jsonapi_error, first_error, profile_attributes

PROFILES_OVERVIEW = "https://developers.klaviyo.com/en/reference/profiles_api_overview"
PHONE_FORMATS = "https://help.klaviyo.com/hc/en-us/articles/360046055671"
PHONE_DETAIL = "Invalid phone number format (Example of a valid format: +12345678901)"


def _import(client: httpx.Client, profile_id: str | None = None, **attributes: object) -> httpx.Response:
    body = profile_attributes(**attributes)
    if profile_id is not None:
        body["data"]["id"] = profile_id
    return client.post("/api/profile-import", json=body)


# -- profile-import with data.id --------------------------------------------------------------------------------


def test_profile_import_with_an_id_that_does_not_exist_is_a_404_at_the_data(client: httpx.Client) -> None:
    # Captured answer (notes, "Consent, bulk import and identity details"; community.klaviyo.com developer group,
    # thread 11971): 404 not_found, "A profile with id ... does not exist", pointer /data/.
    response = _import(client, "01HZZZZZZZZZZZZZZZZZZZZZZZ", email="ada@example.com")
    assert_jsonapi_error(response, 404, "not_found")
    error = first_error(response)
    assert error["detail"] == "A profile with id 01HZZZZZZZZZZZZZZZZZZZZZZZ does not exist."
    assert error["source"] == {"pointer": "/data/"}
    assert client.get("/api/profiles").json()["data"] == []


def test_profile_import_with_an_id_and_an_email_another_profile_holds_is_a_409(client: httpx.Client) -> None:
    # 409 duplicate_profile with meta.duplicate_profile_id, pointer /data/attributes:
    # https://github.com/klaviyo/klaviyo-api-node/issues/75 (and for an update, /issues/74).
    ada = _import(client, email="ada@example.com").json()["data"]["id"]
    bob = _import(client, email="bob@example.com").json()["data"]["id"]
    response = _import(client, bob, email="ada@example.com", first_name="Bob")
    assert_jsonapi_error(response, 409, "duplicate_profile")
    error = first_error(response)
    assert (error["title"], error["source"], error["meta"]) == (
        "Conflict.",
        {"pointer": "/data/attributes"},
        {"duplicate_profile_id": ada},
    )
    assert client.get(f"/api/profiles/{bob}").json()["data"]["attributes"]["first_name"] is None


def test_profile_import_with_its_own_id_updates_that_profile(client: httpx.Client) -> None:
    # "Given a set of profile attributes and optionally an ID, create or update a profile. Returns 201 if a new
    # profile was created, 200 if an existing profile was updated" (create_or_update_profile, stable.json).
    ada = _import(client, email="ada@example.com").json()["data"]["id"]
    response = _import(client, ada, email="ada.lovelace@example.com")
    assert response.status_code == 200
    assert response.json()["data"]["attributes"]["email"] == "ada.lovelace@example.com"


# -- email ------------------------------------------------------------------------------------------------------


def test_an_email_over_100_characters_is_invalid(client: httpx.Client) -> None:
    # PROFILES_OVERVIEW: "The profile's valid email address (must be <= 100 characters)".
    exactly = "a" * 88 + "@example.com"
    assert _import(client, email=exactly).status_code == 201
    response = _import(client, email="a" + exactly)
    assert_jsonapi_error(response, 400, "invalid")
    assert first_error(response)["detail"] == "Invalid email address"


@pytest.mark.parametrize(
    "email", [" ada@example.com", "ada@example.com ", "ada @example.com", "\tada@example.com"]
)
def test_an_email_with_whitespace_is_refused_not_trimmed(client: httpx.Client, email: str) -> None:
    # Klaviyo is silent; the emulator refuses rather than trims (docs/emulator.md "Where Klaviyo is silent"):
    # a producer that trims passes both here and at Klaviyo.
    response = _import(client, email=email)
    assert_jsonapi_error(response, 400, "invalid")
    assert first_error(response)["source"] == {"pointer": "/data/attributes/email"}


def test_email_letter_case_is_kept_and_compared_exactly(client: httpx.Client) -> None:
    # Klaviyo is silent; the emulator keeps the address as sent and matches it exactly, so Ada@Example.com and
    # ada@example.com are two profiles here (docs/emulator.md "Where Klaviyo is silent": normalise it yourself).
    first = _import(client, email="Ada@Example.com")
    second = _import(client, email="ada@example.com")
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["data"]["attributes"]["email"] == "Ada@Example.com"
    found = client.get("/api/profiles", params={"filter": 'equals(email,"ada@example.com")'}).json()["data"]
    assert [p["id"] for p in found] == [second.json()["data"]["id"]]


# -- phone ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone", ["+1 234 567 8900", "+1-234-567-8900", "12345678900", "(234) 567-8901", "tel:+12345678900"]
)
def test_a_phone_number_not_in_e164_is_refused(client: httpx.Client, phone: str) -> None:
    # PHONE_FORMATS: "If you're using an API call, note that Klaviyo only accepts the E.164 format." (The other
    # formats on that page are for the list import tool.) Refusal text: Klaviyo's SDK test fixtures (notes §1).
    response = _import(client, phone_number=phone)
    assert_jsonapi_error(response, 400, "invalid")
    error = first_error(response)
    assert (error["detail"], error["source"]) == (PHONE_DETAIL, {"pointer": "/data/attributes/phone_number"})


def test_an_e164_phone_number_is_accepted_as_sent(client: httpx.Client) -> None:
    response = _import(client, phone_number="+12345678900")
    assert response.status_code == 201
    assert response.json()["data"]["attributes"]["phone_number"] == "+12345678900"
