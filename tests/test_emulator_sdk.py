"""The fake Klaviyo driven by Klaviyo's own Python SDK (``klaviyo-api``), endpoint by endpoint.

Each test talks to the socket server through ``KlaviyoAPI(..., test_host=emulator_url)`` and reads what it wrote
back through the SDK, on the pydantic model path users hit; a response the SDK cannot parse fails the test with
the SDK's own ValidationError. The control API (``/_emulator/requests``) says what actually went over the wire.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from conftest import API_KEY, HEADERS
from klaviyo_api import KlaviyoAPI
from openapi_client.exceptions import (
    ApiException,
    BadRequestException,
    NotFoundException,
    UnauthorizedException,
)

from emulator.server import RunningEmulator

EPOCH_2024_05_01_NOON = int(datetime(2024, 5, 1, 12, tzinfo=UTC).timestamp())


@pytest.fixture
def sdk(emulator_url: str) -> KlaviyoAPI:
    return KlaviyoAPI(API_KEY, max_delay=0.1, max_retries=1, test_host=emulator_url)


@pytest.fixture
def sdk_dicts(emulator_url: str) -> KlaviyoAPI:
    """The same client, answering with plain dicts instead of pydantic models."""
    return KlaviyoAPI(
        API_KEY,
        max_delay=0.1,
        max_retries=1,
        test_host=emulator_url,
        options={"USE_DICTIONARY_FOR_RESPONSE_DATA": True},
    )


@pytest.fixture
def control(emulator_url: str) -> Iterator[httpx.Client]:
    """A plain HTTP client on the same server, for /_emulator/ and for what the SDK cannot send."""
    with httpx.Client(base_url=emulator_url) as http:
        yield http


def requests_seen(control: httpx.Client) -> list[dict[str, Any]]:
    """Every /api request the emulator logged for our key, oldest first."""
    reply = control.get("/_emulator/requests", params={"key": API_KEY, "limit": 1000})
    reply.raise_for_status()
    rows: list[dict[str, Any]] = reply.json()["data"]
    return rows


def event(
    metric: str, email: str, second: int, properties: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    """A Create Event body for ``email`` at 2024-05-01 12:00:<second> UTC."""
    attributes: dict[str, Any] = {
        "properties": properties if properties is not None else {"n": second},
        "time": f"2024-05-01T12:00:{second:02d}+00:00",
        "metric": {"data": {"type": "metric", "attributes": {"name": metric}}},
        "profile": {"data": {"type": "profile", "attributes": {"email": email}}},
        **extra,
    }
    return {"data": {"type": "event", "attributes": attributes}}


def profile_body(**attributes: Any) -> dict[str, Any]:
    return {"data": {"type": "profile", "attributes": attributes}}


def profile_id_for(sdk: KlaviyoAPI, email: str) -> str:
    found = sdk.Profiles.get_profiles(filter=f'equals(email,"{email}")').data
    assert len(found) == 1, f"expected one profile for {email}, found {len(found)}"
    profile_id: str = found[0].id
    return profile_id


def error_items(exc: ApiException) -> list[dict[str, Any]]:
    assert isinstance(exc.body, str)
    items: list[dict[str, Any]] = json.loads(exc.body)["errors"]
    return items


# -- revision ------------------------------------------------------------------------------------------------------


def test_the_sdk_revision_2026_10_15_is_accepted_and_a_later_one_is_not(
    sdk: KlaviyoAPI, control: httpx.Client
) -> None:
    assert KlaviyoAPI._REVISION == "2026-10-15"
    assert sdk.api_client.default_headers["revision"] == "2026-10-15"

    assert sdk.Metrics.get_metrics().data == []
    assert [row["status"] for row in requests_seen(control)] == [200]

    # The header is really checked: the day after the SDK's revision does not exist yet.
    later = control.get("/api/metrics", headers={**HEADERS, "revision": "2026-10-16"})
    assert later.status_code == 400
    assert later.json()["errors"][0]["source"] == {"parameter": "revision"}


# -- events and metrics ----------------------------------------------------------------------------------------------


def test_create_event_answers_none_and_the_event_reads_back(sdk: KlaviyoAPI) -> None:
    body = event("Placed Order", "ada@example.com", 7, {"order": "A-1", "items": [1, 2]}, value=9.5)
    assert sdk.Events.create_event(body) is None

    [stored] = sdk.Events.get_events().data
    assert stored.type == "event"
    assert stored.attributes.timestamp == EPOCH_2024_05_01_NOON + 7
    assert stored.attributes.datetime_ == datetime(2024, 5, 1, 12, 0, 7, tzinfo=UTC)
    assert stored.attributes.event_properties["order"] == "A-1"
    assert stored.attributes.event_properties["items"] == [1, 2]
    assert stored.relationships.profile.data.id == profile_id_for(sdk, "ada@example.com")
    [metric] = sdk.Metrics.get_metrics().data
    assert stored.relationships.metric.data.id == metric.id


def test_a_repeated_unique_id_is_accepted_but_recorded_once(sdk: KlaviyoAPI) -> None:
    first = event("Placed Order", "ada@example.com", 1, unique_id="order-1")
    again = event("Placed Order", "ada@example.com", 9, unique_id="order-1")
    assert sdk.Events.create_event(first) is None
    assert sdk.Events.create_event(again) is None

    [stored] = sdk.Events.get_events().data
    assert stored.attributes.event_properties == {"n": 1}


def test_create_event_applies_profile_meta_where_the_sdk_puts_it(sdk: KlaviyoAPI) -> None:
    # Revision 2026-10-15 moved the profile's meta beside its attributes; the SDK drops it from inside them.
    body = event("Placed Order", "ada@example.com", 1)
    profile = body["data"]["attributes"]["profile"]["data"]
    profile["attributes"]["properties"] = {"badges": "first-visit"}
    sdk.Events.create_event(body)
    body = event("Placed Order", "ada@example.com", 2)
    body["data"]["attributes"]["profile"]["data"]["meta"] = {
        "patch_properties": {"append": {"badges": "referral"}}
    }
    sdk.Events.create_event(body)

    read = sdk.Profiles.get_profile(profile_id_for(sdk, "ada@example.com")).data.attributes
    assert read.properties == {"badges": ["first-visit", "referral"]}


def test_a_naive_datetime_from_the_sdk_is_taken_as_utc(sdk: KlaviyoAPI) -> None:
    body = event("Placed Order", "ada@example.com", 0)
    body["data"]["attributes"]["time"] = datetime(2024, 5, 1, 12, 0, 0)  # the SDK sends it without an offset
    sdk.Events.create_event(body)

    [stored] = sdk.Events.get_events().data
    assert stored.attributes.timestamp == EPOCH_2024_05_01_NOON


def test_a_metric_is_created_on_first_use_of_its_name_with_a_six_character_id(sdk: KlaviyoAPI) -> None:
    assert sdk.Metrics.get_metrics().data == []
    sdk.Events.create_event(event("Placed Order", "ada@example.com", 1))
    sdk.Events.create_event(event("Placed Order", "bob@example.com", 2))
    sdk.Events.create_event(event("Points Earned", "ada@example.com", 3))

    metrics = sdk.Metrics.get_metrics().data
    assert sorted(m.attributes.name for m in metrics) == ["Placed Order", "Points Earned"]
    for metric in metrics:
        assert len(metric.id) == 6 and metric.id.isalnum()
        one = sdk.Metrics.get_metric(metric.id).data
        assert (one.id, one.attributes.name) == (metric.id, metric.attributes.name)
        assert one.attributes.integration["name"] == "API"
        assert one.links.var_self.endswith(f"/api/metrics/{metric.id}/")


def test_bulk_create_events_records_each_profile_group(sdk: KlaviyoAPI) -> None:
    def group(email: str, seconds: list[int]) -> dict[str, Any]:
        events = [event("Points Earned", email, s)["data"] for s in seconds]
        for item in events:
            del item["attributes"]["profile"]
        return {
            "type": "event-bulk-create",
            "attributes": {
                "profile": {
                    "data": {"type": "profile", "attributes": {"email": email, "first_name": email[:3]}}
                },
                "events": {"data": events},
            },
        }

    job = {
        "data": {
            "type": "event-bulk-create-job",
            "attributes": {
                "events-bulk-create": {
                    "data": [group("ada@example.com", [1, 2]), group("bob@example.com", [3])]
                }
            },
        }
    }
    assert sdk.Events.bulk_create_events(job) is None

    for email, expected in (("ada@example.com", [1, 2]), ("bob@example.com", [3])):
        profile_id = profile_id_for(sdk, email)
        found = sdk.Events.get_events(filter=f'equals(profile_id,"{profile_id}")', sort="datetime").data
        assert [e.attributes.event_properties["n"] for e in found] == expected
        assert sdk.Profiles.get_profile(profile_id).data.attributes.first_name == email[:3]


def test_get_events_filters_by_metric_and_datetime_and_sorts(sdk: KlaviyoAPI) -> None:
    for second in range(6):
        sdk.Events.create_event(event("Placed Order", "ada@example.com", second))
        sdk.Events.create_event(event("Points Earned", "ada@example.com", second))
    placed = next(m.id for m in sdk.Metrics.get_metrics().data if m.attributes.name == "Placed Order")

    newest_first = sdk.Events.get_events(
        filter=f'equals(metric_id,"{placed}"),greater-or-equal(datetime,2024-05-01T12:00:02Z)',
        sort="-datetime",
    ).data
    assert [e.attributes.event_properties["n"] for e in newest_first] == [5, 4, 3, 2]
    assert {e.relationships.metric.data.id for e in newest_first} == {placed}

    oldest_first = sdk.Events.get_events(filter=f'equals(metric_id,"{placed}")', sort="datetime").data
    assert [e.attributes.event_properties["n"] for e in oldest_first] == [0, 1, 2, 3, 4, 5]


def test_get_events_includes_the_metric_and_the_profile(sdk: KlaviyoAPI) -> None:
    sdk.Events.create_event(event("Placed Order", "ada@example.com", 1))
    sdk.Events.create_event(event("Placed Order", "bob@example.com", 2))

    page = sdk.Events.get_events(include=["metric", "profile"])
    included = {(item["type"], item["id"]) for item in page.included}
    [metric] = sdk.Metrics.get_metrics().data
    expected = {
        ("metric", metric.id),
        ("profile", profile_id_for(sdk, "ada@example.com")),
        ("profile", profile_id_for(sdk, "bob@example.com")),
    }
    assert included == expected
    emails = {item["attributes"]["email"] for item in page.included if item["type"] == "profile"}
    assert emails == {"ada@example.com", "bob@example.com"}


def test_get_event_reads_one_event_with_its_metric(sdk: KlaviyoAPI) -> None:
    sdk.Events.create_event(event("Placed Order", "ada@example.com", 4, unique_id="order-4"))
    [listed] = sdk.Events.get_events().data

    one = sdk.Events.get_event(listed.id, include=["metric"])
    assert one.data.id == listed.id
    assert one.data.attributes.uuid == listed.attributes.uuid
    assert one.data.attributes.event_properties == {"n": 4}
    [metric] = one.included
    assert (metric["type"], metric["attributes"]["name"]) == ("metric", "Placed Order")


# Real Klaviyo links are https; the SDK then keeps the '=' after page[cursor]. An emulator link is http, and the
# SDK passes it whole as the cursor. A client may also hand over the bare cursor.
CURSOR_FORMS: dict[str, Callable[[str], str]] = {
    "http link, passed whole": lambda link: link,
    "https link, cursor arrives with a leading =": lambda link: link.replace("http://", "https://", 1),
    "bare cursor": lambda link: httpx.URL(link).params["page[cursor]"],
}


@pytest.mark.parametrize("form", CURSOR_FORMS)
def test_following_page_cursor_through_the_sdk_returns_every_event_exactly_once(
    sdk: KlaviyoAPI, control: httpx.Client, form: str
) -> None:
    for second in range(8):
        sdk.Events.create_event(event("Placed Order", "ada@example.com", second))
    sdk.Events.create_event(event("Points Earned", "ada@example.com", 30))
    placed = next(m.id for m in sdk.Metrics.get_metrics().data if m.attributes.name == "Placed Order")
    wanted = {"filter": f'equals(metric_id,"{placed}")', "sort": "datetime", "page_size": 3}

    pages = [sdk.Events.get_events(**wanted)]
    while pages[-1].links.next is not None:
        assert len(pages) < 10, "pagination does not end"
        pages.append(sdk.Events.get_events(**wanted, page_cursor=CURSOR_FORMS[form](pages[-1].links.next)))

    seen = [e.attributes.event_properties["n"] for page in pages for e in page.data]
    assert seen == list(range(8))
    assert [len(page.data) for page in pages] == [3, 3, 2]
    cursors = [row["query"] for row in requests_seen(control) if "cursor" in row["query"]]
    assert len(cursors) == 2
    if form.startswith("https"):
        assert all("page%5Bcursor%5D=%3D" in query for query in cursors)
    if form.startswith("http link"):
        assert all("page%5Bcursor%5D=http" in query for query in cursors)


def test_events_read_the_same_as_models_and_as_dictionaries(sdk: KlaviyoAPI, sdk_dicts: KlaviyoAPI) -> None:
    sdk.Events.create_event(event("Placed Order", "ada@example.com", 5))

    as_dict = sdk_dicts.Events.get_events()
    as_model = sdk.Events.get_events()
    assert isinstance(as_dict, dict)
    [raw] = as_dict["data"]
    [model] = as_model.data
    assert raw["id"] == model.id
    assert raw["attributes"]["timestamp"] == model.attributes.timestamp
    assert raw["attributes"]["datetime"] == "2024-05-01T12:00:05+00:00"


# -- profiles ------------------------------------------------------------------------------------------------------


def test_create_or_update_profile_answers_201_then_200_with_null_clearing_and_omitted_kept(
    sdk: KlaviyoAPI,
) -> None:
    first = sdk.Profiles.create_or_update_profile_with_http_info(
        profile_body(
            email="ada@example.com",
            first_name="Ada",
            last_name="Lovelace",
            properties={"tier": "gold", "points": 10},
        )
    )
    assert first.status_code == 201
    profile_id = first.data.data.id
    assert first.data.data.attributes.first_name == "Ada"

    second = sdk.Profiles.create_or_update_profile_with_http_info(
        profile_body(email="ada@example.com", first_name=None, properties={"points": 25})
    )
    assert second.status_code == 200
    assert second.data.data.id == profile_id

    # The plain call (retry-wrapped, what users call) reads the same.
    again = sdk.Profiles.create_or_update_profile(profile_body(email="ada@example.com"))
    assert again.data.id == profile_id

    read = sdk.Profiles.get_profile(profile_id).data.attributes
    assert read.first_name is None
    assert read.last_name == "Lovelace"
    assert read.properties == {"tier": "gold", "points": 25}


def test_patch_properties_append_unappend_and_unset(sdk: KlaviyoAPI) -> None:
    def upsert(**meta: Any) -> Any:
        body = profile_body(email="ada@example.com", properties={"tier": "gold", "note": "x"})
        body["data"]["meta"] = {"patch_properties": meta}
        return sdk.Profiles.create_or_update_profile(body).data

    upsert(append={"badges": "first-visit"})
    upsert(append={"badges": "tenth-visit"})
    after_append = upsert(append={"badges": "referral"})
    assert after_append.attributes.properties["badges"] == ["first-visit", "tenth-visit", "referral"]

    after_unappend = upsert(unappend={"badges": "tenth-visit"})
    assert after_unappend.attributes.properties["badges"] == ["first-visit", "referral"]

    upsert(unset=["note", "badges"])
    read = sdk.Profiles.get_profile(after_append.id).data.attributes.properties
    assert read == {"tier": "gold"}


def test_create_profile_answers_201_then_409_naming_the_existing_profile(
    sdk: KlaviyoAPI, control: httpx.Client
) -> None:
    created = sdk.Profiles.create_profile(profile_body(email="ada@example.com", external_id="m-1"))
    assert created.data.attributes.external_id == "m-1"

    with pytest.raises(ApiException) as caught:
        sdk.Profiles.create_profile(profile_body(email="ada@example.com"))
    assert caught.value.status == 409
    [item] = error_items(caught.value)
    assert item["code"] == "duplicate_profile"
    assert item["meta"]["duplicate_profile_id"] == created.data.id
    assert caught.value.data.errors[0].code == "duplicate_profile"  # the SDK's error model parsed it
    assert [row["status"] for row in requests_seen(control)] == [201, 409]


def test_get_profiles_filters_with_equals_and_any(sdk: KlaviyoAPI) -> None:
    for n in range(4):
        sdk.Profiles.create_profile(profile_body(email=f"m{n}@example.com", external_id=f"ext-{n}"))

    [by_email] = sdk.Profiles.get_profiles(filter='equals(email,"m2@example.com")').data
    assert by_email.attributes.external_id == "ext-2"

    by_external = sdk.Profiles.get_profiles(filter='any(external_id,["ext-0","ext-3","ext-9"])', sort="email")
    assert [p.attributes.email for p in by_external.data] == ["m0@example.com", "m3@example.com"]

    assert sdk.Profiles.get_profiles(filter='equals(external_id,"nobody")').data == []


@pytest.mark.parametrize(("sort", "order"), [("email", [0, 1, 2, 3, 4]), ("-email", [4, 3, 2, 1, 0])])
def test_get_profiles_sorts_and_pages_through_every_profile(
    sdk: KlaviyoAPI, sort: str, order: list[int]
) -> None:
    for n in (3, 0, 4, 1, 2):
        sdk.Profiles.create_profile(profile_body(email=f"m{n}@example.com"))

    pages = [sdk.Profiles.get_profiles(sort=sort, page_size=2)]
    while pages[-1].links.next is not None:
        assert len(pages) < 10, "pagination does not end"
        pages.append(sdk.Profiles.get_profiles(sort=sort, page_size=2, page_cursor=pages[-1].links.next))

    assert [len(page.data) for page in pages] == [2, 2, 1]
    emails = [p.attributes.email for page in pages for p in page.data]
    assert emails == [f"m{n}@example.com" for n in order]


def test_get_profile_with_subscriptions_shows_a_new_profile_never_subscribed(sdk: KlaviyoAPI) -> None:
    created = sdk.Profiles.create_profile(
        profile_body(email="ada@example.com", phone_number="+4915112345678")
    )

    profile = sdk.Profiles.get_profile(created.data.id, additional_fields_profile=["subscriptions"]).data
    assert profile.attributes.email == "ada@example.com"
    email = profile.attributes.subscriptions.email.marketing
    sms = profile.attributes.subscriptions.sms.marketing
    # Email is implicit consent, "True if ... [the] profile does not have any global suppressions" (EmailMarketing
    # in stable.json; "Never subscribed ... able to receive emails",
    # https://help.klaviyo.com/hc/en-us/articles/360037101072); SMS needs a subscription (SMSMarketing).
    assert (email.consent, email.can_receive_email_marketing) == ("NEVER_SUBSCRIBED", True)
    assert (sms.consent, sms.can_receive_sms_marketing) == ("NEVER_SUBSCRIBED", False)
    # Without the additional field the subscriptions are not sent.
    assert sdk.Profiles.get_profile(created.data.id).data.attributes.subscriptions is None


def test_update_profile_patches_only_what_it_is_sent(sdk: KlaviyoAPI) -> None:
    created = sdk.Profiles.create_profile(
        profile_body(email="ada@example.com", first_name="Ada", title="Countess", properties={"tier": "gold"})
    )
    profile_id = created.data.id

    patch = {
        "data": {
            "type": "profile",
            "id": profile_id,
            "attributes": {"first_name": "Augusta", "title": None, "properties": {"points": 3}},
        }
    }
    updated = sdk.Profiles.update_profile(profile_id, patch).data
    assert updated.id == profile_id
    assert (updated.attributes.first_name, updated.attributes.title) == ("Augusta", None)

    read = sdk.Profiles.get_profile(profile_id).data.attributes
    assert read.email == "ada@example.com"
    assert read.properties == {"tier": "gold", "points": 3}


def test_bulk_import_job_goes_queued_processing_complete_and_counts_a_bad_email_as_failed(
    sdk: KlaviyoAPI,
) -> None:
    rows = [
        {"type": "profile", "attributes": {"email": "m1@example.com", "properties": {"tier": "gold"}}},
        {"type": "profile", "attributes": {"email": "m2@example.com", "external_id": "ext-2"}},
        {"type": "profile", "attributes": {"email": "not-an-email"}},
    ]
    job = {"data": {"type": "profile-bulk-import-job", "attributes": {"profiles": {"data": rows}}}}

    accepted = sdk.Profiles.bulk_import_profiles(job).data
    assert accepted.type == "profile-bulk-import-job"
    assert (accepted.attributes.status, accepted.attributes.total_count) == ("queued", 3)
    assert isinstance(accepted.attributes.created_at, datetime)

    polls = [sdk.Profiles.get_bulk_import_profiles_job(accepted.id).data for _ in range(3)]
    assert [p.attributes.status for p in polls] == ["processing", "complete", "complete"]
    assert polls[0].attributes.started_at is not None
    done = polls[-1].attributes
    assert (done.total_count, done.completed_count, done.failed_count) == (3, 2, 1)
    assert done.completed_at is not None

    imported = sdk.Profiles.get_profiles(
        filter='any(email,["m1@example.com","m2@example.com"])', sort="email"
    )
    assert [p.attributes.properties for p in imported.data] == [{"tier": "gold"}, {}]
    assert imported.data[1].attributes.external_id == "ext-2"


def subscription_job(kind: str, consent: str, *people: dict[str, Any]) -> dict[str, Any]:
    rows = []
    for person in people:
        channels: dict[str, Any] = {"email": {"marketing": {"consent": consent}}}
        if "phone_number" in person:
            channels["sms"] = {"marketing": {"consent": consent}}
        rows.append({"type": "profile", "attributes": {**person, "subscriptions": channels}})
    return {
        "data": {
            "type": kind,
            "attributes": {"custom_source": "TRIFFT", "profiles": {"data": rows}},
        }
    }


def test_bulk_subscribe_then_unsubscribe_shows_in_the_profiles_consent(
    sdk: KlaviyoAPI, control: httpx.Client
) -> None:
    # Without a list the account's default opt-in process decides (bulk_subscribe_profiles); single opt-in here.
    control.put("/_emulator/opt-in", params={"key": API_KEY}, content="single_opt_in").raise_for_status()
    existing = sdk.Profiles.create_profile(profile_body(email="ada@example.com")).data.id
    subscribe = subscription_job(
        "profile-subscription-bulk-create-job",
        "SUBSCRIBED",
        {"email": "ada@example.com"},
        {"email": "bob@example.com", "phone_number": "+4915112345678"},
    )
    assert sdk.Profiles.bulk_subscribe_profiles(subscribe) is None

    def consent(email: str) -> Any:
        profile_id = profile_id_for(sdk, email)
        return sdk.Profiles.get_profile(profile_id, additional_fields_profile=["subscriptions"]).data

    ada = consent("ada@example.com")
    assert ada.id == existing
    marketing = ada.attributes.subscriptions.email.marketing
    assert (marketing.consent, marketing.can_receive_email_marketing) == ("SUBSCRIBED", True)
    assert marketing.custom_method_detail == "TRIFFT"
    bob = consent("bob@example.com").attributes.subscriptions
    assert (bob.email.marketing.consent, bob.sms.marketing.consent) == ("SUBSCRIBED", "SUBSCRIBED")
    assert bob.sms.marketing.can_receive_sms_marketing is True

    unsubscribe = subscription_job(
        "profile-subscription-bulk-delete-job", "UNSUBSCRIBED", {"email": "ada@example.com"}
    )
    assert sdk.Profiles.bulk_unsubscribe_profiles(unsubscribe) is None

    marketing = consent("ada@example.com").attributes.subscriptions.email.marketing
    assert (marketing.consent, marketing.can_receive_email_marketing) == ("UNSUBSCRIBED", False)
    assert [s.reason for s in marketing.suppression] == ["UNSUBSCRIBE"]
    still = consent("bob@example.com").attributes.subscriptions.email.marketing
    assert (still.consent, still.can_receive_email_marketing) == ("SUBSCRIBED", True)


def test_a_historical_consent_time_sent_naive_by_the_sdk_reads_back_in_utc(sdk: KlaviyoAPI) -> None:
    # historical_import subscribes at once whatever the opt-in process (bulk_subscribe_profiles).
    job = subscription_job("profile-subscription-bulk-create-job", "SUBSCRIBED", {"email": "ada@example.com"})
    job["data"]["attributes"]["historical_import"] = True
    # The SDK serialises a naive datetime without an offset: "2024-01-02T03:04:05".
    job["data"]["attributes"]["profiles"]["data"][0]["attributes"]["subscriptions"]["email"]["marketing"][
        "consented_at"
    ] = datetime(2024, 1, 2, 3, 4, 5)
    sdk.Profiles.bulk_subscribe_profiles(job)

    profile_id = profile_id_for(sdk, "ada@example.com")
    read = sdk.Profiles.get_profile(profile_id, additional_fields_profile=["subscriptions"]).data
    marketing = read.attributes.subscriptions.email.marketing
    assert marketing.consent == "SUBSCRIBED"
    assert marketing.consent_timestamp == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


# -- errors through the SDK ----------------------------------------------------------------------------------------


def test_a_request_without_authorization_is_401(control: httpx.Client) -> None:
    headers = {name: value for name, value in HEADERS.items() if name != "Authorization"}
    reply = control.get("/api/profiles", headers=headers)
    assert reply.status_code == 401
    [item] = reply.json()["errors"]
    assert item["code"] == "not_authenticated"
    assert item["source"] == {"parameter": "Authorization"}


def test_an_sdk_built_with_an_empty_key_gets_unauthorized_exception(emulator_url: str) -> None:
    blank = KlaviyoAPI("", max_delay=0.1, max_retries=1, test_host=emulator_url)
    with pytest.raises(UnauthorizedException) as caught:
        blank.Profiles.get_profiles()
    assert caught.value.status == 401
    assert error_items(caught.value)[0]["code"] == "not_authenticated"


@pytest.mark.parametrize(
    "read",
    [
        lambda sdk: sdk.Profiles.get_profile("01HZZZZZZZZZZZZZZZZZZZZZZZ"),
        lambda sdk: sdk.Events.get_event("01HZZZZZZZZZZZZZZZZZZZZZZZ"),
        lambda sdk: sdk.Metrics.get_metric("AbC123"),
        lambda sdk: sdk.Profiles.get_bulk_import_profiles_job("01HZZZZZZZZZZZZZZZZZZZZZZZ"),
    ],
    ids=["profile", "event", "metric", "import job"],
)
def test_an_unknown_id_is_not_found_exception(sdk: KlaviyoAPI, read: Callable[[KlaviyoAPI], Any]) -> None:
    with pytest.raises(NotFoundException) as caught:
        read(sdk)
    assert caught.value.status == 404
    assert caught.value.data.errors[0].code == "not_found"


@pytest.mark.parametrize(
    ("attributes", "pointer", "detail"),
    [
        ({"email": "not-an-email"}, "/data/attributes/email", "Invalid email address"),
        ({"phone_number": "12345"}, "/data/attributes/phone_number", "Invalid phone number format"),
    ],
    ids=["email", "phone"],
)
@pytest.mark.parametrize("call", ["create_profile", "create_or_update_profile"])
def test_an_invalid_identifier_is_bad_request_pointing_at_the_field(
    sdk: KlaviyoAPI, call: str, attributes: dict[str, str], pointer: str, detail: str
) -> None:
    with pytest.raises(BadRequestException) as caught:
        getattr(sdk.Profiles, call)(profile_body(**attributes))
    assert caught.value.status == 400
    [item] = error_items(caught.value)
    assert item["code"] == "invalid"
    assert item["source"]["pointer"] == pointer
    assert item["detail"].startswith(detail)
    assert caught.value.data.errors[0].source.pointer == pointer
    assert sdk.Profiles.get_profiles().data == []


def test_an_invalid_email_in_an_event_points_into_the_events_profile(sdk: KlaviyoAPI) -> None:
    with pytest.raises(BadRequestException) as caught:
        sdk.Events.create_event(event("Placed Order", "not-an-email", 1))
    assert caught.value.data.errors[0].source.pointer == "/data/attributes/profile/data/attributes/email"
    assert sdk.Events.get_events().data == []


# -- rate limits ---------------------------------------------------------------------------------------------------


@pytest.fixture
def throttling(control: httpx.Client) -> Iterator[None]:
    """Klaviyo's limits at 1% (get_profiles: 1 a second, 7 a minute), switched back off afterwards."""
    control.post("/_emulator/reset").raise_for_status()
    control.put("/_emulator/rate-limits", content="0.01").raise_for_status()
    yield
    control.put("/_emulator/rate-limits", content="off").raise_for_status()


def test_persistent_throttling_surfaces_429_with_an_integer_retry_after(
    sdk: KlaviyoAPI,
    control: httpx.Client,
    throttling: None,
    _running_emulator: RunningEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Freeze the limiter's clock mid-second, so the one-per-second window never rolls over while urllib3 waits.
    frozen = float(int(time.time())) + 0.5
    monkeypatch.setattr(_running_emulator.emulator.limiter, "clock", lambda: frozen)
    sdk.Profiles.get_profiles()

    with pytest.raises(ApiException) as caught:
        sdk.Profiles.get_profiles()
    assert caught.value.status == 429
    assert caught.value.headers["Retry-After"] == "1"
    assert caught.value.data.errors[0].code == "throttled"
    # urllib3 honours Retry-After itself (3 re-sends) before the SDK, told max_retries=1, gives up.
    assert [row["status"] for row in requests_seen(control)] == [200, 429, 429, 429, 429]


def test_one_throttled_request_is_resent_after_retry_after_and_succeeds(
    sdk: KlaviyoAPI,
    control: httpx.Client,
    throttling: None,
    _running_emulator: RunningEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The limiter's clock: three requests in one second, then the next second.
    start = float(int(time.time())) + 0.5
    ticks = iter([start, start + 0.1, start + 0.2, start + 1.2])
    monkeypatch.setattr(_running_emulator.emulator.limiter, "clock", lambda: next(ticks))
    sdk.Profiles.create_profile(profile_body(email="ada@example.com"))
    sdk.Profiles.get_profiles()

    began = time.monotonic()
    found = sdk.Profiles.get_profiles().data
    waited = time.monotonic() - began
    assert [p.attributes.email for p in found] == ["ada@example.com"]
    assert [row["status"] for row in requests_seen(control)] == [201, 200, 429, 200]
    assert waited >= 1.0
