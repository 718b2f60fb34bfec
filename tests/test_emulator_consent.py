"""Consent as Klaviyo does it: lists and their opt-in process, double opt-in, suppressions, channels.

Sources, cited per test:
- SUBSCRIBE: the Bulk Subscribe Profiles description, https://developers.klaviyo.com/en/reference/bulk_subscribe_profiles
  (stable.json 2026-07-15, bundled in contracts/schemas/klaviyo/2026-07-15/openapi.json).
- DOUBLE_OPT_IN: https://help.klaviyo.com/hc/en-us/articles/115005251108 ("Lists are set to double opt-in by
  default in all Klaviyo accounts"; "Only subscribers who confirm their subscription will be successfully added
  to the list"; confirming by text opts into SMS and email, by email only into email).
- Where Klaviyo is silent, the test says so and docs/emulator.md "Where Klaviyo is silent" has the choice.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from _emulator_bodies import assert_jsonapi_error, first_error, list_body
from conftest import API_KEY

from emulator.client import InProcessTransport
from emulator.klaviyo import Emulator, create_app

SUBSCRIBE = "https://developers.klaviyo.com/en/reference/bulk_subscribe_profiles"
DOUBLE_OPT_IN = "https://help.klaviyo.com/hc/en-us/articles/115005251108"
CREATE = "/api/profile-subscription-bulk-create-jobs"
DELETE = "/api/profile-subscription-bulk-delete-jobs"


def job(
    consent: str = "SUBSCRIBED",
    list_id: str | None = None,
    channels: dict[str, Any] | None = None,
    **attributes: Any,
) -> dict[str, Any]:
    """A bulk (un)subscribe body for one profile (email ada@example.com unless given)."""
    kind = (
        "profile-subscription-bulk-create-job"
        if consent == "SUBSCRIBED"
        else "profile-subscription-bulk-delete-job"
    )
    profile = {"email": "ada@example.com", **attributes}
    profile["subscriptions"] = (
        channels if channels is not None else {"email": {"marketing": {"consent": consent}}}
    )
    body: dict[str, Any] = {
        "data": {
            "type": kind,
            "attributes": {"profiles": {"data": [{"type": "profile", "attributes": profile}]}},
        }
    }
    if list_id is not None:
        body["data"]["relationships"] = {"list": {"data": {"type": "list", "id": list_id}}}
    return body


def new_list(client: httpx.Client, opt_in: str | None = None, name: str = "Newsletter") -> str:
    created = client.post("/api/lists", json=list_body(name, opt_in))
    assert created.status_code == 201, created.text
    list_id: str = created.json()["data"]["id"]
    return list_id


def consent_of(client: httpx.Client, email: str = "ada@example.com") -> dict[str, Any]:
    found = client.get(
        "/api/profiles",
        params={"filter": f'equals(email,"{email}")', "additional-fields[profile]": "subscriptions"},
    ).json()["data"]
    assert len(found) == 1, found
    subscriptions: dict[str, Any] = found[0]["attributes"]["subscriptions"]
    return subscriptions


def members(client: httpx.Client, list_id: str) -> list[str]:
    return [p["attributes"]["email"] for p in client.get(f"/api/lists/{list_id}/profiles").json()["data"]]


def confirm(client: httpx.Client, channel: str = "email", **person: str) -> dict[str, Any]:
    response = client.post(
        "/_emulator/opt-ins/confirm",
        params={"key": API_KEY, "channel": channel, **(person or {"email": "ada@example.com"})},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def set_account_opt_in(client: httpx.Client, value: str) -> None:
    client.put("/_emulator/opt-in", params={"key": API_KEY}, content=value).raise_for_status()


# -- opt-in process: the list's, else the account's -------------------------------------------------------------


def test_a_double_opt_in_list_leaves_the_profile_pending_and_off_the_list_until_it_confirms(
    client: httpx.Client,
) -> None:
    # SUBSCRIBE: "If the provided list has double opt-in enabled, profiles will receive a message requiring their
    # confirmation before subscribing." DOUBLE_OPT_IN: only those who confirm are added to the list.
    list_id = new_list(client, "double_opt_in")
    assert client.post(CREATE, json=job(list_id=list_id)).status_code == 202
    assert consent_of(client)["email"]["marketing"]["consent"] == "NEVER_SUBSCRIBED"
    assert members(client, list_id) == []
    [observed] = client.get("/_emulator/observations", params={"key": API_KEY}).json()["data"][-1:]
    assert observed["outcome"] == "pending"
    ledger = client.get("/_emulator/ledger", params={"key": API_KEY}).json()["data"]
    assert [line["kind"] for line in ledger] == ["opt_in_pending"]

    assert confirm(client)["confirmed"] == [{"channel": "email", "kind": "marketing", "list_id": list_id}]
    marketing = consent_of(client)["email"]["marketing"]
    assert (marketing["consent"], marketing["double_optin"]) == ("SUBSCRIBED", True)
    assert members(client, list_id) == ["ada@example.com"]
    assert client.get("/_emulator/opt-ins", params={"key": API_KEY}).json()["data"] == []


def test_a_single_opt_in_list_subscribes_at_once_and_adds_the_member(client: httpx.Client) -> None:
    # SUBSCRIBE: "Otherwise, profiles will be immediately subscribed without receiving a confirmation message."
    list_id = new_list(client, "single_opt_in")
    client.post(CREATE, json=job(list_id=list_id))
    marketing = consent_of(client)["email"]["marketing"]
    assert (marketing["consent"], marketing["double_optin"]) == ("SUBSCRIBED", False)
    assert members(client, list_id) == ["ada@example.com"]
    joined = client.get(f"/api/lists/{list_id}/profiles").json()["data"][0]["attributes"]["joined_group_at"]
    assert joined is not None


@pytest.mark.parametrize(
    ("setting", "outcome"), [("single_opt_in", "SUBSCRIBED"), ("double_opt_in", "NEVER_SUBSCRIBED")]
)
def test_without_a_list_the_account_default_opt_in_setting_decides(
    client: httpx.Client, setting: str, outcome: str
) -> None:
    # SUBSCRIBE: "If a list is not provided, the opt-in process used will be determined by the account-level
    # default opt-in setting."
    set_account_opt_in(client, setting)
    client.post(CREATE, json=job())
    assert consent_of(client)["email"]["marketing"]["consent"] == outcome


def test_the_default_is_double_opt_in_as_klaviyos_and_a_list_takes_the_account_default() -> None:
    # DOUBLE_OPT_IN: "Lists are set to double opt-in by default in all Klaviyo accounts." A list created without
    # opt_in_process: "If not provided, uses account default" (ListCreateQueryResourceObject, stable.json).
    assert Emulator().opt_in == "double_opt_in"
    with httpx.Client(
        transport=InProcessTransport(create_app(Emulator(rate_limits="off", opt_in="single_opt_in"))),
        base_url="http://klaviyo.test",
        headers={"Authorization": f"Klaviyo-API-Key {API_KEY}", "revision": "2026-07-15"},
    ) as single:
        created = single.post("/api/lists", json=list_body("Plain"))
        assert created.json()["data"]["attributes"]["opt_in_process"] == "single_opt_in"
        single.put("/_emulator/opt-in", params={"key": API_KEY}, content="double_opt_in")
        again = single.post("/api/lists", json=list_body("Careful"))
        assert again.json()["data"]["attributes"]["opt_in_process"] == "double_opt_in"
    with pytest.raises(ValueError, match="opt_in must be one of"):
        Emulator(opt_in="triple_opt_in")


def test_the_opt_in_settings_are_set_through_the_control_api_and_refuse_nonsense(
    client: httpx.Client,
) -> None:
    assert client.get("/_emulator/opt-in").json() == {
        "account": None,
        "opt_in_process": "double_opt_in",
        "source": "emulator default",
        "default": "double_opt_in",
    }
    set_account_opt_in(client, "single_opt_in")
    mine = client.get("/_emulator/opt-in", params={"key": API_KEY}).json()
    assert (mine["opt_in_process"], mine["source"]) == ("single_opt_in", "account")
    assert client.put("/_emulator/opt-in", content="maybe").status_code == 400
    list_id = new_list(client, "single_opt_in")
    changed = client.put(
        f"/_emulator/lists/{list_id}/opt-in", params={"key": API_KEY}, content="double_opt_in"
    )
    assert changed.json() == {"list": list_id, "opt_in_process": "double_opt_in"}
    assert (
        client.get(f"/api/lists/{list_id}").json()["data"]["attributes"]["opt_in_process"] == "double_opt_in"
    )
    assert (
        client.put(
            "/_emulator/lists/NOPE00/opt-in", params={"key": API_KEY}, content="single_opt_in"
        ).status_code
        == 404
    )
    assert client.post("/_emulator/opt-ins/confirm", params={"key": API_KEY}).status_code == 400
    nobody = client.post("/_emulator/opt-ins/confirm", params={"key": API_KEY, "email": "nobody@example.com"})
    assert nobody.status_code == 404


def test_historical_import_bypasses_double_opt_in(client: httpx.Client) -> None:
    # SUBSCRIBE: "If this flag is set true, profiles being subscribed will bypass double opt-in emails and be
    # subscribed immediately."
    list_id = new_list(client, "double_opt_in")
    body = job(
        list_id=list_id,
        channels={"email": {"marketing": {"consent": "SUBSCRIBED", "consented_at": "2024-01-02T03:04:05Z"}}},
    )
    body["data"]["attributes"]["historical_import"] = True
    client.post(CREATE, json=body)
    marketing = consent_of(client)["email"]["marketing"]
    assert (marketing["consent"], marketing["consent_timestamp"]) == (
        "SUBSCRIBED",
        "2024-01-02T03:04:05+00:00",
    )
    assert members(client, list_id) == ["ada@example.com"]


# -- suppressions -----------------------------------------------------------------------------------------------


def test_unsubscribing_records_unsubscribed_and_an_unsubscribe_suppression(client: httpx.Client) -> None:
    # The suppression reasons Klaviyo reads back include UNSUBSCRIBE (EmailMarketingSuppression in stable.json), and
    # can_receive_email_marketing is "True if ... [the] profile does not have any global suppressions".
    set_account_opt_in(client, "single_opt_in")
    client.post(CREATE, json=job())
    assert client.post(DELETE, json=job("UNSUBSCRIBED")).status_code == 202
    marketing = consent_of(client)["email"]["marketing"]
    assert (marketing["consent"], marketing["can_receive_email_marketing"]) == ("UNSUBSCRIBED", False)
    assert [s["reason"] for s in marketing["suppression"]] == ["UNSUBSCRIBE"]


def test_subscribing_again_removes_the_unsubscribe_suppression(client: httpx.Client) -> None:
    # SUBSCRIBE: "This API will remove any UNSUBSCRIBE, SPAM_REPORT or USER_SUPPRESSED suppressions".
    set_account_opt_in(client, "single_opt_in")
    client.post(CREATE, json=job())
    client.post(DELETE, json=job("UNSUBSCRIBED"))
    client.post(CREATE, json=job())
    marketing = consent_of(client)["email"]["marketing"]
    assert (marketing["consent"], marketing["suppression"], marketing["can_receive_email_marketing"]) == (
        "SUBSCRIBED",
        [],
        True,
    )


def test_an_unsubscribe_takes_the_profile_off_the_list_and_cancels_its_pending_opt_in(
    client: httpx.Client,
) -> None:
    # Klaviyo is silent on both; docs/emulator.md "Where Klaviyo is silent" (unsubscribe with a list).
    list_id = new_list(client, "double_opt_in")
    client.post(CREATE, json=job(list_id=list_id))
    client.post(DELETE, json=job("UNSUBSCRIBED", list_id=list_id))
    assert client.get("/_emulator/opt-ins", params={"key": API_KEY}).json()["data"] == []
    assert confirm(client)["confirmed"] == []
    assert consent_of(client)["email"]["marketing"]["consent"] == "UNSUBSCRIBED"


# -- channels ---------------------------------------------------------------------------------------------------


def test_a_null_channel_beside_email_is_accepted_and_means_nothing(client: httpx.Client) -> None:
    # SubscriptionChannels in stable.json marks email, sms, whatsapp and push "nullable": true.
    set_account_opt_in(client, "single_opt_in")
    channels = {
        "email": {"marketing": {"consent": "SUBSCRIBED"}},
        "sms": None,
        "whatsapp": None,
        "push": None,
    }
    response = client.post(CREATE, json=job(channels=channels))
    assert response.status_code == 202, response.text
    subscriptions = consent_of(client)
    assert (subscriptions["email"]["marketing"]["consent"], subscriptions["sms"]["marketing"]["consent"]) == (
        "SUBSCRIBED",
        "NEVER_SUBSCRIBED",
    )


def test_sms_without_a_phone_number_is_refused_as_klaviyo_words_it(client: httpx.Client) -> None:
    # "Phone number must be provided when subscribing to the SMS channel.":
    # https://github.com/klaviyo/klaviyo-api-node/issues/71
    response = client.post(CREATE, json=job(channels={"sms": {"marketing": {"consent": "SUBSCRIBED"}}}))
    assert_jsonapi_error(response, 400, "invalid")
    error = first_error(response)
    assert error["detail"] == "Phone number must be provided when subscribing to the SMS channel."
    assert error["source"]["pointer"] == "/data/attributes/profiles/data/0/attributes/subscriptions/sms"


@pytest.mark.parametrize(
    ("channels", "pointer"),
    [
        ({"whatsapp": {"marketing": {"consent": "SUBSCRIBED"}}}, "subscriptions/whatsapp"),
        ({"push": {"marketing": {"consent": "SUBSCRIBED"}}}, "subscriptions/push"),
        ({"email": {"open_tracking": {"consent": "SUBSCRIBED"}}}, "subscriptions/email/open_tracking"),
    ],
    ids=["whatsapp", "push", "open-tracking"],
)
def test_channels_not_emulated_are_refused_by_name_and_nothing_is_stored(
    client: httpx.Client, channels: dict[str, Any], pointer: str
) -> None:
    # Klaviyo accepts these (SubscriptionChannels, stable.json); the emulator does not model them and says so
    # rather than accept and drop them (docs/emulator.md).
    response = client.post(CREATE, json=job(channels=channels, phone_number="+4915112345678"))
    assert_jsonapi_error(response, 400, "not_emulated")
    error = first_error(response)
    assert error["source"]["pointer"] == f"/data/attributes/profiles/data/0/attributes/{pointer}"
    assert "not emulated" in error["detail"]
    assert client.get("/api/profiles").json()["data"] == []


def test_confirming_by_text_opts_into_sms_and_email_by_email_only_into_email(client: httpx.Client) -> None:
    # DOUBLE_OPT_IN: "confirming their consent by text will opt them into SMS and email. If they do so by email,
    # they will only be opted into email."
    both = {
        "email": {"marketing": {"consent": "SUBSCRIBED"}},
        "sms": {"marketing": {"consent": "SUBSCRIBED"}},
    }
    client.post(CREATE, json=job(channels=both, phone_number="+4915112345678"))
    confirm(client, "email")
    subscriptions = consent_of(client)
    assert (subscriptions["email"]["marketing"]["consent"], subscriptions["sms"]["marketing"]["consent"]) == (
        "SUBSCRIBED",
        "NEVER_SUBSCRIBED",
    )
    client.post(CREATE, json=job(channels=both, email="bob@example.com", phone_number="+4915112345679"))
    confirm(client, "sms", phone_number="+4915112345679")
    bob = consent_of(client, "bob@example.com")
    assert (bob["email"]["marketing"]["consent"], bob["sms"]["marketing"]["consent"]) == (
        "SUBSCRIBED",
        "SUBSCRIBED",
    )
    assert bob["sms"]["marketing"]["can_receive_sms_marketing"] is True


def test_custom_source_lands_in_custom_method_detail(client: httpx.Client) -> None:
    # custom_source: "A custom method detail or source to store on the consent records"; custom_method_detail:
    # "Additional detail provided by the caller when the profile was subscribed" (stable.json).
    set_account_opt_in(client, "single_opt_in")
    body = job()
    body["data"]["attributes"]["custom_source"] = "Marketing Event"
    client.post(CREATE, json=body)
    marketing = consent_of(client)["email"]["marketing"]
    assert (marketing["custom_method_detail"], marketing["method_detail"]) == ("Marketing Event", None)


# -- lists ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [CREATE, DELETE])
def test_an_unknown_list_is_not_found_and_nothing_is_stored(client: httpx.Client, path: str) -> None:
    # Klaviyo's answer for an unknown list in a subscription job is not published; the emulator answers as Klaviyo
    # does for an unknown resource named in a body (404 not_found, as for Create or Update Profile's data.id).
    consent = "SUBSCRIBED" if path == CREATE else "UNSUBSCRIBED"
    response = client.post(path, json=job(consent, list_id="Y6nRLr"))
    assert_jsonapi_error(response, 404, "not_found")
    assert first_error(response)["source"] == {"pointer": "/data/relationships/list/data/id"}
    assert client.get("/api/profiles").json()["data"] == []


def test_a_profile_id_that_names_no_profile_is_not_found(client: httpx.Client) -> None:
    # SUBSCRIBE: the row's id "will be used to perform the lookup"; an id that names no profile gets the answer
    # Klaviyo gives Create or Update Profile for one (404 not_found; docs/emulator.md "Where Klaviyo is silent").
    body = job()
    body["data"]["attributes"]["profiles"]["data"][0]["id"] = "01HZZZZZZZZZZZZZZZZZZZZZZZ"
    response = client.post(CREATE, json=body)
    assert_jsonapi_error(response, 404, "not_found")
    assert first_error(response)["source"] == {"pointer": "/data/attributes/profiles/data/0/id"}
    assert client.get("/api/profiles").json()["data"] == []


def test_a_list_reads_back_with_its_members_count_and_on_its_profiles(client: httpx.Client) -> None:
    list_id = new_list(client, "single_opt_in")
    for email in ("ada@example.com", "bob@example.com"):
        client.post(CREATE, json=job(list_id=list_id, email=email))
    read = client.get(f"/api/lists/{list_id}", params={"additional-fields[list]": "profile_count"}).json()
    assert read["data"]["attributes"]["profile_count"] == 2
    assert "profile_count" not in client.get(f"/api/lists/{list_id}").json()["data"]["attributes"]
    found = client.get(f"/api/lists/{list_id}/profiles", params={"filter": 'equals(email,"bob@example.com")'})
    assert [p["attributes"]["email"] for p in found.json()["data"]] == ["bob@example.com"]
    newest = client.get(
        f"/api/lists/{list_id}/profiles", params={"sort": "-joined_group_at", "page[size]": "1"}
    )
    assert len(newest.json()["data"]) == 1 and newest.json()["links"]["next"] is not None
    profile_id = client.get("/api/profiles", params={"filter": 'equals(email,"ada@example.com")'}).json()[
        "data"
    ][0]["id"]
    with_lists = client.get(f"/api/profiles/{profile_id}", params={"include": "lists"}).json()
    assert [item["id"] for item in with_lists["included"]] == [list_id]
    assert with_lists["data"]["relationships"]["lists"]["data"] == [{"type": "list", "id": list_id}]
    assert_jsonapi_error(client.get("/api/lists/NOPE00"), 404, "not_found")


def test_a_list_needs_a_name_that_is_not_blank(client: httpx.Client) -> None:
    response = client.post("/api/lists", json=list_body("   "))
    assert_jsonapi_error(response, 400, "invalid")
    assert first_error(response)["source"] == {"pointer": "/data/attributes/name"}


def test_consent_state_survives_an_export_and_import(client: httpx.Client) -> None:
    list_id = new_list(client, "double_opt_in")
    client.post(CREATE, json=job(list_id=list_id))
    state = client.get("/_emulator/state", params={"key": API_KEY}).json()
    assert [row["id"] for row in state["lists"]] == [list_id]
    assert len(state["opt_ins"]) == 1
    client.post("/_emulator/reset")
    assert (
        client.put("/_emulator/state", params={"key": API_KEY}, content=json.dumps(state)).status_code == 200
    )
    confirm(client)
    assert members(client, list_id) == ["ada@example.com"]
