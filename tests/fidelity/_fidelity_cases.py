"""What the fake Klaviyo promises, one documented Klaviyo behaviour per case, each with where Klaviyo writes it.

A case is a request (after the requests in ``given``), the answer Klaviyo gives (status, error code, pointer or
parameter, and the exact ``detail`` where the source quotes it), what reads back afterwards (``after``), and the
public URL the behaviour comes from. Behaviours no public source settles are not here: they are choices, listed in
docs/emulator.md "Where Klaviyo is silent". ``README.md`` beside this file is the same list as a table
(``python tests/fidelity/_fidelity_cases.py`` prints it; a test keeps the two equal).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SPEC = "https://raw.githubusercontent.com/klaviyo/openapi/2026-07-15/openapi/stable.json"
REF = "https://developers.klaviyo.com/en/reference/"
KEY = "pk_test_trifft_0001"
PHONE_DETAIL = "Invalid phone number format (Example of a valid format: +12345678901)"


@dataclass(frozen=True)
class Step:
    """One HTTP request: JSON ``body``, or raw ``content`` (the control API takes plain text)."""

    method: str
    path: str
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    content: str | None = None


@dataclass(frozen=True)
class After:
    """A read after the request (None: the request's own answer) and the value at ``at`` in its JSON: dotted keys
    and list indexes, ``#`` at the end for a length. ``{id}`` in the read's path is the answer's ``data.id``."""

    step: Step | None
    at: str
    value: Any


@dataclass(frozen=True)
class Case:
    name: str
    source: str
    request: Step
    status: int
    code: str | None = None
    pointer: str | None = None
    parameter: str | None = None
    detail: str | None = None
    given: tuple[Step, ...] = ()
    after: tuple[After, ...] = ()


def event(email: str = "ada@example.com", **attributes: Any) -> dict[str, Any]:
    return {
        "data": {
            "type": "event",
            "attributes": {
                "properties": attributes.pop("properties", {}),
                "metric": {"data": {"type": "metric", "attributes": {"name": "Placed Order"}}},
                "profile": {"data": {"type": "profile", "attributes": {"email": email}}},
                **attributes,
            },
        }
    }


def profile(profile_id: str | None = None, **attributes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"type": "profile", "attributes": attributes}
    if profile_id is not None:
        data["id"] = profile_id
    return {"data": data}


def import_job(*rows: dict[str, Any]) -> dict[str, Any]:
    profiles = [{"type": "profile", "attributes": row} for row in rows]
    return {"data": {"type": "profile-bulk-import-job", "attributes": {"profiles": {"data": profiles}}}}


def subscription(
    consent: str = "SUBSCRIBED",
    list_id: str | None = None,
    channels: dict[str, Any] | None = None,
    count: int = 1,
    historical: bool = False,
    custom_source: str | None = None,
    **attributes: Any,
) -> dict[str, Any]:
    kind = "create" if consent == "SUBSCRIBED" else "delete"
    chosen = channels if channels is not None else {"email": {"marketing": {"consent": consent}}}
    rows = [
        {
            "type": "profile",
            "attributes": {
                "email": "ada@example.com" if count == 1 else f"p{n}@example.com",
                **attributes,
                "subscriptions": chosen,
            },
        }
        for n in range(count)
    ]
    body: dict[str, Any] = {
        "data": {"type": f"profile-subscription-bulk-{kind}-job", "attributes": {"profiles": {"data": rows}}}
    }
    if list_id is not None:
        body["data"]["relationships"] = {"list": {"data": {"type": "list", "id": list_id}}}
    if historical:
        body["data"]["attributes"]["historical_import"] = True
    if custom_source is not None:
        body["data"]["attributes"]["custom_source"] = custom_source
    return body


def opt_in(value: str) -> Step:
    return Step("PUT", "/_emulator/opt-in", params={"key": KEY}, content=value)


SUBSCRIBE = Step("POST", "/api/profile-subscription-bulk-create-jobs")
CONSENT = Step(
    "GET",
    "/api/profiles",
    params={"filter": 'equals(email,"ada@example.com")', "additional-fields[profile]": "subscriptions"},
)
EMAIL = "data.0.attributes.subscriptions.email.marketing"
ADA = Step("GET", "/api/profiles", params={"filter": 'equals(email,"ada@example.com")'})
FIXED_ID = "01HZZZZZZZZZZZZZZZZZZZZZZZ"

CASES: tuple[Case, ...] = (
    # -- events ----------------------------------------------------------------------------------------------
    Case(
        "Create Event answers 202 with no body",
        REF + "create_event",
        Step("POST", "/api/events", event()),
        202,
    ),
    Case(
        "a repeated unique_id for the same profile and metric records one event",
        REF + "create_event",
        Step("POST", "/api/events", event(unique_id="order-1")),
        202,
        given=(Step("POST", "/api/events", event(unique_id="order-1")),),
        after=(After(Step("GET", "/api/events"), "data#", 1),),
    ),
    Case(
        "an event time before 1990 is refused",
        REF + "create_event",
        Step("POST", "/api/events", event(time="1989-12-31T23:59:59+00:00")),
        400,
        "invalid",
        pointer="/data/attributes/time",
    ),
    Case(
        "a unique_id repeated inside one bulk job fails the whole job",
        REF + "bulk_create_events",
        Step(
            "POST",
            "/api/event-bulk-create-jobs",
            {
                "data": {
                    "type": "event-bulk-create-job",
                    "attributes": {
                        "events-bulk-create": {
                            "data": [
                                {
                                    "type": "event-bulk-create",
                                    "attributes": {
                                        "profile": {
                                            "data": {
                                                "type": "profile",
                                                "attributes": {"email": "a@example.com"},
                                            }
                                        },
                                        "events": {
                                            "data": [
                                                {
                                                    "type": "event",
                                                    "attributes": {
                                                        "properties": {},
                                                        "unique_id": "u-1",
                                                        "metric": {
                                                            "data": {
                                                                "type": "metric",
                                                                "attributes": {"name": "M"},
                                                            }
                                                        },
                                                    },
                                                }
                                            ]
                                            * 2
                                        },
                                    },
                                }
                            ]
                        }
                    },
                }
            },
        ),
        400,
        "invalid",
        after=(After(Step("GET", "/api/events"), "data", []),),
    ),
    # -- identifiers --------------------------------------------------------------------------------------------
    Case(
        "an invalid email is 400 'Invalid email address' at the field",
        "https://github.com/klaviyo/klaviyo-swift-sdk",
        Step("POST", "/api/profile-import", profile(email="not-an-email")),
        400,
        "invalid",
        pointer="/data/attributes/email",
        detail="Invalid email address",
    ),
    Case(
        "an email over 100 characters is refused",
        REF + "profiles_api_overview",
        Step("POST", "/api/profile-import", profile(email="a" * 89 + "@example.com")),
        400,
        "invalid",
        pointer="/data/attributes/email",
    ),
    Case(
        "a phone number not in E.164 is refused",
        "https://help.klaviyo.com/hc/en-us/articles/360046055671",
        Step("POST", "/api/profile-import", profile(phone_number="+1 234 567 8900")),
        400,
        "invalid",
        pointer="/data/attributes/phone_number",
        detail=PHONE_DETAIL,
    ),
    Case(
        "a field the schema does not name is refused by name",
        "https://github.com/verbb/formie/issues/1986",
        Step("POST", "/api/profile-import", profile(email="ada@example.com", nickname="Ada")),
        400,
        "invalid",
        pointer="/data/attributes/nickname",
        detail="'nickname' is not a valid field for the resource 'profile'.",
    ),
    # -- profiles -----------------------------------------------------------------------------------------------
    Case(
        "Create or Update Profile answers 201 for a new profile",
        REF + "create_or_update_profile",
        Step("POST", "/api/profile-import", profile(email="ada@example.com")),
        201,
    ),
    Case(
        "Create or Update Profile answers 200 for an existing profile",
        REF + "create_or_update_profile",
        Step("POST", "/api/profile-import", profile(email="ada@example.com", first_name="Ada")),
        200,
        given=(Step("POST", "/api/profile-import", profile(email="ada@example.com")),),
    ),
    Case(
        "null clears a field in Create or Update Profile",
        REF + "create_or_update_profile",
        Step("POST", "/api/profile-import", profile(email="ada@example.com", first_name=None)),
        200,
        given=(Step("POST", "/api/profile-import", profile(email="ada@example.com", first_name="Ada")),),
        after=(After(ADA, "data.0.attributes.first_name", None),),
    ),
    Case(
        "Create or Update Profile with an id that does not exist is 404 not_found at /data/",
        "https://community.klaviyo.com/developer-group-64 (thread 11971)",
        Step("POST", "/api/profile-import", profile(FIXED_ID, email="ada@example.com")),
        404,
        "not_found",
        pointer="/data/",
        detail=f"A profile with id {FIXED_ID} does not exist.",
    ),
    Case(
        "identifiers that belong to another profile are 409 duplicate_profile",
        "https://github.com/klaviyo/klaviyo-api-node/issues/75",
        Step("POST", "/api/profiles", profile(email="ada@example.com")),
        409,
        "duplicate_profile",
        pointer="/data/attributes",
        detail="A profile already exists with one of these identifiers.",
        given=(Step("POST", "/api/profiles", profile(email="ada@example.com")),),
    ),
    Case(
        "Get Profiles takes at most 100 per page",
        REF + "get_profiles",
        Step("GET", "/api/profiles", params={"page[size]": "101"}),
        400,
        "invalid",
        parameter="page[size]",
    ),
    Case(
        "a quoted datetime in a filter is an invalid filter",
        "https://community.klaviyo.com/developer-group-64/campaign-api-multiple-filters-14473",
        Step("GET", "/api/profiles", params={"filter": 'greater-than(updated,"2024-01-01T00:00:00Z")'}),
        400,
        "invalid",
        parameter="filter",
    ),
    # -- bulk import --------------------------------------------------------------------------------------------
    Case(
        "null in a bulk import does not clear the stored value",
        "https://developers.klaviyo.com/en/docs/use_klaviyos_bulk_profile_import_api",
        Step(
            "POST",
            "/api/profile-bulk-import-jobs",
            import_job({"email": "ada@example.com", "first_name": None}),
        ),
        202,
        given=(Step("POST", "/api/profile-import", profile(email="ada@example.com", first_name="Ada")),),
        after=(After(ADA, "data.0.attributes.first_name", "Ada"),),
    ),
    Case(
        "a profile that cannot be imported is an import error, not a failed request",
        REF + "get_errors_for_bulk_import_profiles_job",
        Step("POST", "/api/profile-bulk-import-jobs", import_job({"email": "not-an-email"})),
        202,
        after=(
            After(
                Step("GET", "/api/profile-bulk-import-jobs/{id}/import-errors"),
                "data.0.attributes.source.pointer",
                "/data/attributes/profiles/data/0/attributes/email",
            ),
        ),
    ),
    # -- consent ------------------------------------------------------------------------------------------------
    Case(
        "a double opt-in list leaves the profile unsubscribed until it confirms",
        REF + "bulk_subscribe_profiles",
        Step(
            "POST",
            "/api/profile-subscription-bulk-create-jobs",
            subscription(),
        ),
        202,
        given=(opt_in("double_opt_in"),),
        after=(After(CONSENT, f"{EMAIL}.consent", "NEVER_SUBSCRIBED"),),
    ),
    Case(
        "single opt-in subscribes at once",
        REF + "bulk_subscribe_profiles",
        Step("POST", "/api/profile-subscription-bulk-create-jobs", subscription()),
        202,
        given=(opt_in("single_opt_in"),),
        after=(After(CONSENT, f"{EMAIL}.consent", "SUBSCRIBED"),),
    ),
    Case(
        "historical_import bypasses double opt-in",
        REF + "bulk_subscribe_profiles",
        Step(
            "POST",
            "/api/profile-subscription-bulk-create-jobs",
            subscription(
                channels={
                    "email": {"marketing": {"consent": "SUBSCRIBED", "consented_at": "2024-01-02T03:04:05Z"}}
                },
                historical=True,
            ),
        ),
        202,
        given=(opt_in("double_opt_in"),),
        after=(After(CONSENT, f"{EMAIL}.consent_timestamp", "2024-01-02T03:04:05+00:00"),),
    ),
    Case(
        "historical_import needs consented_at",
        REF + "bulk_subscribe_profiles",
        Step(
            "POST",
            "/api/profile-subscription-bulk-create-jobs",
            subscription(historical=True),
        ),
        400,
        "invalid",
        pointer="/data/attributes/profiles/data/0/attributes/subscriptions/email/marketing/consented_at",
    ),
    Case(
        "subscribing removes the UNSUBSCRIBE suppression",
        REF + "bulk_subscribe_profiles",
        Step("POST", "/api/profile-subscription-bulk-create-jobs", subscription()),
        202,
        given=(
            opt_in("single_opt_in"),
            Step("POST", "/api/profile-subscription-bulk-create-jobs", subscription()),
            Step("POST", "/api/profile-subscription-bulk-delete-jobs", subscription("UNSUBSCRIBED")),
        ),
        after=(After(CONSENT, f"{EMAIL}.suppression", []), After(CONSENT, f"{EMAIL}.consent", "SUBSCRIBED")),
    ),
    Case(
        "a never-subscribed address can receive email (implicit consent)",
        SPEC + " (EmailMarketing.can_receive_email_marketing)",
        Step("POST", "/api/profile-import", profile(email="ada@example.com")),
        201,
        after=(After(CONSENT, f"{EMAIL}.can_receive_email_marketing", True),),
    ),
    Case(
        "custom_source is stored as the custom method detail",
        SPEC + " (custom_source, EmailMarketing.custom_method_detail)",
        Step(
            "POST",
            "/api/profile-subscription-bulk-create-jobs",
            subscription(custom_source="Marketing Event"),
        ),
        202,
        given=(opt_in("single_opt_in"),),
        after=(After(CONSENT, f"{EMAIL}.custom_method_detail", "Marketing Event"),),
    ),
    Case(
        "a null SMS channel beside email is accepted",
        SPEC + " (SubscriptionChannels: nullable)",
        Step(
            "POST",
            "/api/profile-subscription-bulk-create-jobs",
            subscription(channels={"email": {"marketing": {"consent": "SUBSCRIBED"}}, "sms": None}),
        ),
        202,
    ),
    Case(
        "an SMS subscription needs a phone number",
        "https://github.com/klaviyo/klaviyo-api-node/issues/71",
        Step(
            "POST",
            "/api/profile-subscription-bulk-create-jobs",
            subscription(channels={"sms": {"marketing": {"consent": "SUBSCRIBED"}}}),
        ),
        400,
        "invalid",
        pointer="/data/attributes/profiles/data/0/attributes/subscriptions/sms",
        detail="Phone number must be provided when subscribing to the SMS channel.",
    ),
    Case(
        "Bulk Subscribe takes at most 1,000 profiles",
        REF + "bulk_subscribe_profiles",
        Step("POST", "/api/profile-subscription-bulk-create-jobs", subscription(count=1001)),
        400,
        "invalid",
        pointer="/data/attributes/profiles/data",
    ),
    Case(
        "Bulk Unsubscribe takes at most 100 profiles",
        REF + "bulk_unsubscribe_profiles",
        Step("POST", "/api/profile-subscription-bulk-delete-jobs", subscription("UNSUBSCRIBED", count=101)),
        400,
        "invalid",
        pointer="/data/attributes/profiles/data",
    ),
    Case(
        "a list created without opt_in_process takes the account default",
        REF + "create_list",
        Step("POST", "/api/lists", {"data": {"type": "list", "attributes": {"name": "Newsletter"}}}),
        201,
        given=(opt_in("single_opt_in"),),
        after=(After(None, "data.attributes.opt_in_process", "single_opt_in"),),
    ),
    Case(
        "lists are double opt-in by default",
        "https://help.klaviyo.com/hc/en-us/articles/115005251108",
        Step("POST", "/api/lists", {"data": {"type": "list", "attributes": {"name": "Newsletter"}}}),
        201,
        after=(After(None, "data.attributes.opt_in_process", "double_opt_in"),),
    ),
    # -- authentication, revisions, limits ----------------------------------------------------------------------
    Case(
        "a request without an API key is 401",
        "https://academy.klaviyo.com/en-us/certificates/developer-certificate/courses/get-data-into-klaviyo-with-apis/"
        "lessons/troubleshooting-errors-and-rate-limit-responses",
        Step("GET", "/api/profiles", headers={"Authorization": ""}),
        401,
        "not_authenticated",
    ),
    Case(
        "a retired revision is 410",
        "https://developers.klaviyo.com/.well-known/skills/klaviyo-migrate-oauth/references/revision-changes.md",
        Step("GET", "/api/profiles", headers={"revision": "2024-10-15"}),
        410,
        "gone",
        parameter="revision",
    ),
    Case(
        "a revision must be a release date",
        "https://developers.klaviyo.com/en/docs/api_versioning_and_deprecation_policy",
        Step("GET", "/api/profiles", headers={"revision": "2026-07-14"}),
        400,
        "invalid",
        parameter="revision",
    ),
    Case(
        "the official SDK's revision 2026-10-15 is served",
        "https://github.com/klaviyo/klaviyo-api-python",
        Step("GET", "/api/profiles", headers={"revision": "2026-10-15"}),
        200,
    ),
    Case(
        "a path with a trailing slash is the same endpoint",
        "https://developers.klaviyo.com/en/docs/api_versioning_and_deprecation_policy",
        Step("GET", "/api/events/"),
        200,
    ),
    Case(
        "a throttled request is 429 throttled at /data/",
        "https://github.com/klaviyo/klaviyo-api-node/issues/66",
        Step("GET", "/api/metrics"),
        429,
        "throttled",
        pointer="/data/",
        given=(
            Step("PUT", "/_emulator/rate-limits", content="0.001"),
            Step("GET", "/api/metrics"),
        ),
    ),
)


def table() -> str:
    """The cases as a Markdown table: what is promised, the answer, where Klaviyo writes it."""
    lines = ["| promised | request | answer | source |", "| --- | --- | --- | --- |"]
    for case in CASES:
        answer = " ".join(str(part) for part in (case.status, case.code) if part)
        lines.append(
            f"| {case.name} | `{case.request.method} {case.request.path}` | {answer} | {case.source} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(table(), end="")
