"""Consent and bulk import driven by Klaviyo's own Python SDK (``klaviyo-api``), over a real socket.

The double opt-in flow end to end: a list with double opt-in, a subscription to it that stays pending, the person
confirming (through the control API, standing in for the link in Klaviyo's confirmation email), the unsubscribe
and the subscription again that lifts the unsubscribe's suppression. Then a bulk import job and every
sub-resource the SDK reads of it. Sources: the Bulk Subscribe Profiles description
(https://developers.klaviyo.com/en/reference/bulk_subscribe_profiles), the double opt-in help page
(https://help.klaviyo.com/hc/en-us/articles/115005251108) and the Bulk Import Profiles guide
(https://developers.klaviyo.com/en/docs/use_klaviyos_bulk_profile_import_api).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import API_KEY
from klaviyo_api import KlaviyoAPI


@pytest.fixture
def sdk(emulator_url: str) -> KlaviyoAPI:
    return KlaviyoAPI(API_KEY, max_delay=0.1, max_retries=1, test_host=emulator_url)


@pytest.fixture
def control(emulator_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator_url) as http:
        yield http


def _job(kind: str, consent: str, email: str, list_id: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
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
    if kind.endswith("create-job"):
        body["data"]["attributes"]["custom_source"] = "TRIFFT signup"
    if list_id is not None:
        body["data"]["relationships"] = {"list": {"data": {"type": "list", "id": list_id}}}
    return body


def _marketing(sdk: KlaviyoAPI, email: str) -> Any:
    [found] = sdk.Profiles.get_profiles(
        filter=f'equals(email,"{email}")', additional_fields_profile=["subscriptions"]
    ).data
    return found.attributes.subscriptions.email.marketing


def _members(sdk: KlaviyoAPI, list_id: str) -> list[str]:
    return [member.attributes.email for member in sdk.Lists.get_profiles_for_list(list_id).data]


def test_the_sdk_drives_double_opt_in_pending_confirmed_unsubscribed_and_subscribed_again(
    sdk: KlaviyoAPI, control: httpx.Client
) -> None:
    created = sdk.Lists.create_list(
        {"data": {"type": "list", "attributes": {"name": "Newsletter", "opt_in_process": "double_opt_in"}}}
    ).data
    assert created.attributes.opt_in_process == "double_opt_in"
    assert sdk.Lists.get_list(created.id).data.attributes.name == "Newsletter"

    subscribe = _job("profile-subscription-bulk-create-job", "SUBSCRIBED", "ada@example.com", created.id)
    assert sdk.Profiles.bulk_subscribe_profiles(subscribe) is None
    # Pending: "profiles will receive a message requiring their confirmation before subscribing", and "only
    # subscribers who confirm their subscription will be successfully added to the list".
    pending = _marketing(sdk, "ada@example.com")
    assert pending.consent == "NEVER_SUBSCRIBED"
    assert _members(sdk, created.id) == []
    [waiting] = control.get("/_emulator/opt-ins", params={"key": API_KEY}).json()["data"]
    assert (waiting["channel"], waiting["list_id"]) == ("email", created.id)

    confirmed = control.post(
        "/_emulator/opt-ins/confirm", params={"key": API_KEY, "email": "ada@example.com"}
    )
    assert confirmed.status_code == 200, confirmed.text
    subscribed = _marketing(sdk, "ada@example.com")
    assert (subscribed.consent, subscribed.double_optin) == ("SUBSCRIBED", True)
    assert subscribed.custom_method_detail == "TRIFFT signup"
    assert _members(sdk, created.id) == ["ada@example.com"]

    unsubscribe = _job("profile-subscription-bulk-delete-job", "UNSUBSCRIBED", "ada@example.com", created.id)
    assert sdk.Profiles.bulk_unsubscribe_profiles(unsubscribe) is None
    gone = _marketing(sdk, "ada@example.com")
    assert (gone.consent, gone.can_receive_email_marketing) == ("UNSUBSCRIBED", False)
    assert [s.reason for s in gone.suppression] == ["UNSUBSCRIBE"]
    assert _members(sdk, created.id) == []

    # Subscribing again: pending again (not subscribed on email any more), and once confirmed "this API will remove
    # any UNSUBSCRIBE ... suppressions".
    sdk.Profiles.bulk_subscribe_profiles(subscribe)
    assert [s.reason for s in _marketing(sdk, "ada@example.com").suppression] == ["UNSUBSCRIBE"]
    control.post("/_emulator/opt-ins/confirm", params={"key": API_KEY, "email": "ada@example.com"})
    again = _marketing(sdk, "ada@example.com")
    assert (again.consent, again.suppression, again.can_receive_email_marketing) == ("SUBSCRIBED", [], True)
    assert _members(sdk, created.id) == ["ada@example.com"]


def test_the_sdk_subscribes_at_once_to_a_single_opt_in_list_and_lifts_the_suppression(
    sdk: KlaviyoAPI,
) -> None:
    created = sdk.Lists.create_list(
        {"data": {"type": "list", "attributes": {"name": "VIP", "opt_in_process": "single_opt_in"}}}
    ).data
    subscribe = _job("profile-subscription-bulk-create-job", "SUBSCRIBED", "bob@example.com", created.id)
    sdk.Profiles.bulk_subscribe_profiles(subscribe)
    assert _marketing(sdk, "bob@example.com").consent == "SUBSCRIBED"
    sdk.Profiles.bulk_unsubscribe_profiles(
        _job("profile-subscription-bulk-delete-job", "UNSUBSCRIBED", "bob@example.com", None)
    )
    assert [s.reason for s in _marketing(sdk, "bob@example.com").suppression] == ["UNSUBSCRIBE"]
    sdk.Profiles.bulk_subscribe_profiles(subscribe)
    back = _marketing(sdk, "bob@example.com")
    assert (back.consent, back.suppression, back.double_optin) == ("SUBSCRIBED", [], False)


def test_the_sdk_reads_a_bulk_import_job_its_errors_profiles_lists_and_the_job_list(sdk: KlaviyoAPI) -> None:
    vip = sdk.Lists.create_list({"data": {"type": "list", "attributes": {"name": "VIP"}}}).data
    sdk.Profiles.create_or_update_profile(
        {"data": {"type": "profile", "attributes": {"email": "m1@example.com", "first_name": "Mia"}}}
    )
    rows = [
        # null does not clear in a bulk import: Mia keeps her first name.
        {"type": "profile", "attributes": {"email": "m1@example.com", "first_name": None, "title": "CEO"}},
        {"type": "profile", "attributes": {"email": "not-an-email"}},
        {"type": "profile", "attributes": {"email": "m2@example.com"}},
    ]
    job = {
        "data": {
            "type": "profile-bulk-import-job",
            "attributes": {"profiles": {"data": rows}},
            "relationships": {"lists": {"data": [{"type": "list", "id": vip.id}]}},
        }
    }
    accepted = sdk.Profiles.bulk_import_profiles(job).data
    assert (accepted.attributes.status, accepted.attributes.total_count) == ("queued", 3)

    [error] = sdk.Profiles.get_errors_for_bulk_import_profiles_job(accepted.id).data
    assert error.type == "import-error"
    assert (error.attributes.code, error.attributes.detail) == ("invalid", "Invalid email address")
    assert error.attributes.source.pointer == "/data/attributes/profiles/data/1/attributes/email"
    assert error.attributes.original_payload == rows[1]

    imported = sdk.Profiles.get_profiles_for_bulk_import_profiles_job(accepted.id).data
    assert [p.attributes.email for p in imported] == ["m1@example.com", "m2@example.com"]
    assert (imported[0].attributes.first_name, imported[0].attributes.title) == ("Mia", "CEO")
    [named] = sdk.Profiles.get_list_for_bulk_import_profiles_job(accepted.id).data
    assert named.id == vip.id
    assert sorted(m.attributes.email for m in sdk.Lists.get_profiles_for_list(vip.id).data) == [
        "m1@example.com",
        "m2@example.com",
    ]

    sdk.Profiles.get_bulk_import_profiles_job(accepted.id)  # processing
    done = sdk.Profiles.get_bulk_import_profiles_job(accepted.id, include=["lists"])
    assert (done.data.attributes.status, done.data.attributes.failed_count) == ("complete", 1)
    assert [included.id for included in done.included] == [vip.id]
    listed = sdk.Profiles.get_bulk_import_profiles_jobs(filter='equals(status,"complete")').data
    assert [j.id for j in listed] == [accepted.id]
    assert sdk.Profiles.get_bulk_import_profiles_jobs(filter='equals(status,"queued")').data == []
