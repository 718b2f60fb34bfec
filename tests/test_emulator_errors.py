"""Bad input to the fake Klaviyo: the right 4xx, a clear JSON:API error pointing at the cause, never a 5xx.

Every rejection is checked with ``assert_jsonapi_error``: ``errors[]`` items with a UUID ``id``, an integer
``status``, ``code``, ``title`` and ``detail``, served as ``application/vnd.api+json``. Sections refer to the shared
Klaviyo notes (klaviyo-api.md).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from _emulator_bodies import (
    assert_jsonapi_error,
    event_body,
    first_error,
    import_job_body,
    profile_attributes,
    subscription_body,
)
from conftest import API_KEY

import contracts

PHONE_DETAIL = "Invalid phone number format (Example of a valid format: +12345678901)"


def _post(client: httpx.Client, path: str, body: Any, **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(path, content=content, headers=headers)


def _invalid(
    response: httpx.Response, pointer: str | None = None, parameter: str | None = None
) -> dict[str, Any]:
    """The response is a 400 ``invalid`` whose first error points at ``pointer`` or names ``parameter``."""
    assert_jsonapi_error(response, 400, "invalid")
    error = first_error(response)
    assert error["title"] == "Invalid input."
    if pointer is not None:
        assert error["source"] == {"pointer": pointer}, error
    if parameter is not None:
        assert error["source"] == {"parameter": parameter}, error
    return error


def _profile_id(client: httpx.Client) -> str:
    response = client.post("/api/profile-import", json=profile_attributes(email="ada@example.com"))
    assert response.status_code == 201, response.text
    profile_id: str = response.json()["data"]["id"]
    return profile_id


# -- the body: JSON, size, content type (§7.3) -----------------------------------------------------------------------


def test_malformed_json_points_at_the_document_and_names_line_and_column(client: httpx.Client) -> None:
    response = _post(client, "/api/events", b'{"data": {\n  "type": "event",\n  oops}}')
    error = _invalid(response, pointer="/")
    assert error["detail"].startswith("Malformed JSON: ")
    assert "(line 3, column 3)" in error["detail"]


@pytest.mark.parametrize("body", [b"", b"  \n "])
def test_an_empty_body_is_refused(client: httpx.Client, body: bytes) -> None:
    error = _invalid(_post(client, "/api/profile-import", body), pointer="/")
    assert "empty" in error["detail"]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
def test_a_body_that_is_not_json_by_content_type_is_a_415(client: httpx.Client, content_type: str) -> None:
    response = _post(client, "/api/events", event_body(), **{"Content-Type": content_type})
    assert_jsonapi_error(response, 415, "unsupported_media_type")
    assert first_error(response)["source"] == {"parameter": "Content-Type"}
    assert content_type in first_error(response)["detail"]


def test_a_body_without_content_type_is_a_415(client: httpx.Client) -> None:
    request = client.build_request("POST", "/api/events", content=json.dumps(event_body()).encode())
    del request.headers["Content-Type"]
    response = client.send(request)
    assert_jsonapi_error(response, 415, "unsupported_media_type")
    assert "missing" in first_error(response)["detail"]


@pytest.mark.parametrize(
    "content_type", ["application/vnd.api+json", "application/json", "application/json; charset=utf-8"]
)
def test_both_json_content_types_are_accepted(client: httpx.Client, content_type: str) -> None:
    response = _post(
        client, "/api/events", event_body(), **{"Content-Type": content_type, "Accept": "application/json"}
    )
    assert response.status_code == 202, response.text


def _profile_of_size(size: int) -> bytes:
    body = json.dumps(profile_attributes(email="ada@example.com", properties={"pad": ""})).encode()
    padded = json.dumps(
        profile_attributes(email="ada@example.com", properties={"pad": "x" * (size - len(body))})
    )
    assert len(padded.encode()) == size
    return padded.encode()


def test_a_profile_import_of_exactly_100_kb_is_accepted(client: httpx.Client) -> None:
    assert _post(client, "/api/profile-import", _profile_of_size(100 * 1024)).status_code == 201


def test_a_profile_import_over_100_kb_is_a_413_naming_the_limit(client: httpx.Client) -> None:
    response = _post(client, "/api/profile-import", _profile_of_size(100 * 1024 + 1))
    assert_jsonapi_error(response, 413, "request_too_large")
    assert first_error(response)["detail"] == (
        "The request body is 102,401 bytes; create_or_update_profile accepts at most 102,400."
    )
    assert client.get("/api/profiles").json()["data"] == []


def test_an_event_over_5_mb_is_a_413_naming_the_limit(client: httpx.Client) -> None:
    chunks = {f"p{n}": "x" * 90_000 for n in range(60)}  # 60 strings under 100 KB each, 5.4 MB in all
    response = _post(client, "/api/events", event_body(properties=chunks))
    assert_jsonapi_error(response, 413, "request_too_large")
    assert "accepts at most 5,242,880" in first_error(response)["detail"]


def test_an_event_string_over_100_kb_is_refused_at_the_property(client: httpx.Client) -> None:
    response = _post(client, "/api/events", event_body(properties={"html": "x" * (100 * 1024 + 1)}))
    error = _invalid(response, pointer="/data/attributes/properties/html")
    assert error["detail"] == "A string property can be at most 100 KB."


def test_an_event_with_more_than_400_properties_is_refused(client: httpx.Client) -> None:
    response = _post(client, "/api/events", event_body(properties={f"k{n}": n for n in range(401)}))
    assert "at most 400 properties" in _invalid(response, pointer="/data/attributes/properties")["detail"]


# -- bodies the emulator cannot hold: each is a 400, never a 500 -----------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (b'{"data": NaN}', "Malformed JSON: NaN is not a JSON value."),
        (b'{"data": -Infinity}', "Malformed JSON: -Infinity is not a JSON value."),
        (b'{"data": 1e999}', "Malformed JSON: the number 1e999 is out of range."),
        (b'{"data": ' + b"7" * 5000 + b"}", "Malformed JSON: a number with 5,000 digits is out of range."),
        (b'{"data": "caf\xe9"}', "The request body is not UTF-8 (invalid byte at offset 13)."),
        (b'{"data": "\xed\xa0\x80"}', "The request body is not UTF-8 (invalid byte at offset 10)."),
        (b"[" * 100_000 + b"]" * 100_000, "The body nests objects and arrays more than 64 levels deep."),
    ],
)
def test_json_the_emulator_cannot_hold_is_a_400_at_the_document(
    client: httpx.Client, raw: bytes, detail: str
) -> None:
    assert _invalid(_post(client, "/api/events", raw), pointer="/")["detail"] == detail


def test_a_lone_surrogate_escape_is_refused_where_it_is(client: httpx.Client) -> None:
    raw = json.dumps(event_body(properties={"name": "\ud800"})).encode()
    error = _invalid(_post(client, "/api/events", raw), pointer="/data/attributes/properties/name")
    assert "lone UTF-16 surrogate" in error["detail"]
    raw = json.dumps(profile_attributes(email="ada@example.com", properties={"\udfff": 1})).encode()
    _invalid(_post(client, "/api/profile-import", raw), pointer="/data/attributes/properties")


def test_nesting_deeper_than_64_levels_is_refused_where_it_starts(client: httpx.Client) -> None:
    deep: Any = "leaf"
    for _ in range(70):
        deep = {"k": deep}
    response = _post(
        client, "/api/profile-import", profile_attributes(email="ada@example.com", properties=deep)
    )
    error = _invalid(response)
    assert error["source"]["pointer"].startswith("/data/attributes/properties/k/k/")
    assert error["detail"] == "The body nests objects and arrays more than 64 levels deep."


def test_a_value_too_large_for_a_number_is_refused_at_value(client: httpx.Client) -> None:
    error = _invalid(
        _post(client, "/api/events", event_body(value=10**400)), pointer="/data/attributes/value"
    )
    assert "out of range" in error["detail"]
    assert client.get("/api/events").json()["data"] == []


def test_a_large_but_finite_value_is_stored(client: httpx.Client) -> None:
    assert _post(client, "/api/events", event_body(value=10**30)).status_code == 202


# -- the document against Klaviyo's schema: missing, extra, mistyped fields ------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "pointer"),
    [
        ("/api/events", {}, "/data"),
        ("/api/events", {"data": {"attributes": event_body()["data"]["attributes"]}}, "/data/type"),
        ("/api/events", {"data": {"type": "event"}}, "/data/attributes"),
        ("/api/profile-import", {"data": {"type": "profile"}}, "/data/attributes"),
        ("/api/profiles/{id}", {"data": {"type": "profile", "attributes": {}}}, "/data/id"),
    ],
)
def test_a_missing_required_field_is_refused_at_its_place(
    client: httpx.Client, path: str, body: dict[str, Any], pointer: str
) -> None:
    profile_id = _profile_id(client)
    method = "PATCH" if "{id}" in path else "POST"
    response = client.request(method, path.replace("{id}", profile_id), json=body)
    error = _invalid(response, pointer=pointer)
    assert error["detail"] == f"{pointer.rsplit('/', 1)[1]!r} is required (required)."


@pytest.mark.parametrize("field", ["properties", "metric", "profile"])
def test_an_event_without_properties_metric_or_profile_is_refused(client: httpx.Client, field: str) -> None:
    body = event_body()
    del body["data"]["attributes"][field]
    _invalid(_post(client, "/api/events", body), pointer=f"/data/attributes/{field}")


def test_an_event_metric_without_a_name_is_refused(client: httpx.Client) -> None:
    body = event_body()
    del body["data"]["attributes"]["metric"]["data"]["attributes"]["name"]
    _invalid(_post(client, "/api/events", body), pointer="/data/attributes/metric/data/attributes/name")


def test_a_metric_name_of_128_characters_is_refused(client: httpx.Client) -> None:
    response = _post(client, "/api/events", event_body("M" * 128))
    error = _invalid(response, pointer="/data/attributes/metric/data/attributes/name")
    assert error["detail"] == "Metric name must be less than 128 characters."
    assert _post(client, "/api/events", event_body("M" * 127)).status_code == 202


@pytest.mark.parametrize(
    ("path", "body", "pointer", "resource"),
    [
        (
            "/api/profile-import",
            profile_attributes(email="ada@example.com", nickname="Ada"),
            "/data/attributes/nickname",
            "profile",
        ),
        (
            "/api/profile-import",
            profile_attributes(email="ada@example.com", location={"city": "London", "planet": "Earth"}),
            "/data/attributes/location/planet",
            "profile",
        ),
        ("/api/events", event_body(colour="red"), "/data/attributes/colour", "event"),
        (
            "/api/events",
            event_body(profile={"email": "ada@example.com", "$email": "ada@example.com"}),
            "/data/attributes/profile/data/attributes/$email",
            "profile",
        ),
        (
            "/api/profiles",
            {"data": {"type": "profile", "attributes": {"email": "ada@example.com"}, "meta": {}}},
            "/data/meta",
            "profile",
        ),
    ],
)
def test_a_field_klaviyo_does_not_know_is_refused_at_the_field(
    client: httpx.Client, path: str, body: dict[str, Any], pointer: str, resource: str
) -> None:
    error = _invalid(_post(client, path, body), pointer=pointer)
    name = pointer.rsplit("/", 1)[1]
    assert error["detail"] == f"'{name}' is not a valid field for the resource '{resource}'."
    assert client.get("/api/profiles").json()["data"] == []


def test_an_unknown_subscription_field_is_refused_as_klaviyo_words_it(client: httpx.Client) -> None:
    # The real response this mirrors: https://github.com/verbb/formie/issues/1986
    body = subscription_body("profile-subscription-bulk-create-job", "SUBSCRIBED")
    body["data"]["attributes"]["profiles"]["data"][0]["attributes"]["last_name"] = "Lovelace"
    error = _invalid(_post(client, "/api/profile-subscription-bulk-create-jobs", body))
    assert error["source"] == {"pointer": "/data/attributes/profiles/data/0/attributes/last_name"}
    assert error["detail"] == "'last_name' is not a valid field for the resource 'profile'."


def test_free_form_objects_take_any_key(client: httpx.Client) -> None:
    body = profile_attributes(email="ada@example.com", properties={"anything": {"nested": [1, {"x": None}]}})
    body["data"]["meta"] = {"patch_properties": {"append": {"whatever": 1}}}
    assert _post(client, "/api/profile-import", body).status_code == 201
    assert (
        _post(client, "/api/events", event_body(properties={"$extra": {"html": "<b>hi</b>"}})).status_code
        == 202
    )


@pytest.mark.parametrize(
    ("path", "body", "pointer"),
    [
        ("/api/profile-import", profile_attributes(email=5), "/data/attributes/email"),
        (
            "/api/profile-import",
            profile_attributes(email="a@b.com", properties=[1]),
            "/data/attributes/properties",
        ),
        ("/api/profile-import", profile_attributes(external_id=123), "/data/attributes/external_id"),
        ("/api/events", event_body(value="12.50"), "/data/attributes/value"),
        ("/api/events", event_body(time=1714567890), "/data/attributes/time"),
        ("/api/events", event_body(unique_id=["a"]), "/data/attributes/unique_id"),
        ("/api/events", event_body(properties="none"), "/data/attributes/properties"),
    ],
)
def test_a_field_of_the_wrong_type_is_refused_at_the_field(
    client: httpx.Client, path: str, body: dict[str, Any], pointer: str
) -> None:
    error = _invalid(_post(client, path, body), pointer=pointer)
    assert error["detail"].endswith("(type).")


@pytest.mark.parametrize(
    ("path", "body", "pointer"),
    [
        (
            "/api/profile-import",
            {"data": {"type": "event", "attributes": {"email": "a@b.com"}}},
            "/data/type",
        ),
        ("/api/events", {"data": {**event_body()["data"], "type": "events"}}, "/data/type"),
        (
            "/api/profile-bulk-import-jobs",
            {"data": {**import_job_body()["data"], "type": "profile"}},
            "/data/type",
        ),
    ],
)
def test_a_wrong_resource_type_is_refused_at_type(
    client: httpx.Client, path: str, body: dict[str, Any], pointer: str
) -> None:
    assert "(enum)." in _invalid(_post(client, path, body), pointer=pointer)["detail"]


def test_a_wrong_metric_type_is_refused_at_its_type(client: httpx.Client) -> None:
    body = event_body()
    body["data"]["attributes"]["metric"]["data"]["type"] = "metrics"
    _invalid(_post(client, "/api/events", body), pointer="/data/attributes/metric/data/type")


def test_a_body_with_many_problems_lists_each(client: httpx.Client) -> None:
    response = _post(client, "/api/profile-import", profile_attributes(email=1, phone_number=2, title=3))
    assert_jsonapi_error(response, 400, "invalid")
    pointers = sorted(e["source"]["pointer"] for e in response.json()["errors"])
    assert pointers == ["/data/attributes/email", "/data/attributes/phone_number", "/data/attributes/title"]
    assert len({e["id"] for e in response.json()["errors"]}) == 3


# -- identifiers (§1, §8) --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "email", ["not-an-email", "ada@", "@example.com", "ada example@example.com", "ada@example"]
)
def test_an_invalid_email_is_refused_with_klaviyos_words(client: httpx.Client, email: str) -> None:
    error = _invalid(
        _post(client, "/api/profile-import", profile_attributes(email=email)), "/data/attributes/email"
    )
    assert error["detail"] == "Invalid email address"


@pytest.mark.parametrize("phone", ["015112345678", "12345678901", "+0123456789", "+1", "+49 151 1234 5678"])
def test_a_phone_not_in_e164_is_refused_with_klaviyos_words(client: httpx.Client, phone: str) -> None:
    response = _post(client, "/api/profile-import", profile_attributes(phone_number=phone))
    assert _invalid(response, pointer="/data/attributes/phone_number")["detail"] == PHONE_DETAIL


def test_identifier_errors_in_an_event_point_into_its_profile(client: httpx.Client) -> None:
    response = _post(client, "/api/events", event_body(profile={"email": "nope", "phone_number": "0151"}))
    assert_jsonapi_error(response, 400, "invalid")
    assert [(e["source"]["pointer"], e["detail"]) for e in response.json()["errors"]] == [
        ("/data/attributes/profile/data/attributes/email", "Invalid email address"),
        ("/data/attributes/profile/data/attributes/phone_number", PHONE_DETAIL),
    ]
    assert client.get("/api/events").json()["data"] == []


def test_a_profile_without_an_identifier_is_refused(client: httpx.Client) -> None:
    response = _post(client, "/api/profile-import", profile_attributes(first_name="Ada", email=None))
    assert "at least one identifier" in _invalid(response, pointer="/data/attributes")["detail"]
    response = _post(client, "/api/events", event_body(profile={"first_name": "Ada"}))
    assert (
        "needs an identifier"
        in _invalid(response, pointer="/data/attributes/profile/data/attributes")["detail"]
    )


def test_an_event_naming_an_unknown_profile_id_is_refused(client: httpx.Client) -> None:
    body = event_body()
    body["data"]["attributes"]["profile"]["data"]["id"] = "01HZZZZZZZZZZZZZZZZZZZZZZZ"
    _invalid(_post(client, "/api/events", body), pointer="/data/attributes/profile/data/id")


# -- ids that do not exist -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "noun"),
    [
        ("/api/profiles/01HZZZZZZZZZZZZZZZZZZZZZZZ", "profile"),
        ("/api/events/01HZZZZZZZZZZZZZZZZZZZZZZZ", "event"),
        ("/api/metrics/AbCdEf", "metric"),
        ("/api/profile-bulk-import-jobs/01HZZZZZZZZZZZZZZZZZZZZZZZ", "profile bulk import job"),
    ],
)
def test_an_unknown_id_is_a_404_not_found(client: httpx.Client, path: str, noun: str) -> None:
    response = client.get(path)
    assert_jsonapi_error(response, 404, "not_found")
    assert (
        first_error(response)["detail"]
        == f"A{'n' if noun[0] in 'aeiou' else ''} {noun} with id {path.rsplit('/', 1)[1]} does not exist."
    )


def test_updating_an_unknown_profile_is_a_404(client: httpx.Client) -> None:
    missing = "01HZZZZZZZZZZZZZZZZZZZZZZZ"
    body = {"data": {"type": "profile", "id": missing, "attributes": {"first_name": "Ada"}}}
    assert_jsonapi_error(client.patch(f"/api/profiles/{missing}", json=body), 404, "not_found")


def test_an_update_whose_body_id_differs_from_the_path_is_refused(client: httpx.Client) -> None:
    profile_id = _profile_id(client)
    body = {"data": {"type": "profile", "id": "01HZZZZZZZZZZZZZZZZZZZZZZZ", "attributes": {}}}
    _invalid(client.patch(f"/api/profiles/{profile_id}", json=body), pointer="/data/id")


# -- query parameters (§4.2, §5.1, §5.2) -----------------------------------------------------------------------------


def test_a_filter_syntax_error_names_the_filter_and_the_position(client: httpx.Client) -> None:
    error = _invalid(
        client.get("/api/profiles", params={"filter": 'equals(email,"a@b.com"'}), parameter="filter"
    )
    assert error["detail"] == "Invalid filter: expected ')', found the end (at character 23)."
    error = _invalid(client.get("/api/profiles", params={"filter": "equals(email,)"}), parameter="filter")
    assert "(at character 14)" in error["detail"]


def test_a_filter_on_a_field_the_endpoint_does_not_allow_is_refused(client: httpx.Client) -> None:
    error = _invalid(
        client.get("/api/profiles", params={"filter": 'equals(first_name,"Ada")'}), parameter="filter"
    )
    assert "'first_name' cannot be filtered on" in error["detail"]
    assert "external_id" in error["detail"]


def test_a_filter_operator_the_field_does_not_allow_is_refused(client: httpx.Client) -> None:
    response = client.get("/api/profiles", params={"filter": 'greater-than(email,"a")'})
    error = _invalid(response, parameter="filter")
    assert (
        error["detail"]
        == "Invalid filter: operator 'greater-than' is not allowed on 'email'; allowed: any, equals."
    )
    response = client.get("/api/events", params={"filter": "equals(datetime,2024-01-01T00:00:00Z)"})
    _invalid(response, parameter="filter")


@pytest.mark.parametrize(
    ("expression", "detail"),
    [
        ('any(email,"a@b.com")', 'any() takes a list of values, like ["a","b"]'),
        ('any(email,[["a@b.com"]])', "a list holds plain values, not lists"),
        ("not(" * 21 + 'equals(id,"x")' + ")" * 21, "and(), or() and not() nest at most 20 levels deep"),
        ('equals(email,"a@b.com"', "expected ')'"),
        ("equals(updated,2024-13-45T00:00:00Z)", "is not a valid datetime"),
        ('shout(email,"a")', "unknown operator 'shout'"),
    ],
)
def test_a_filter_the_emulator_cannot_read_is_a_400(
    client: httpx.Client, expression: str, detail: str
) -> None:
    assert (
        detail
        in _invalid(client.get("/api/profiles", params={"filter": expression}), parameter="filter")["detail"]
    )


@pytest.mark.parametrize(
    ("path", "expression", "detail"),
    [
        (
            "/api/profiles",
            'greater-than(updated,"2024-01-01T00:00:00Z")',
            "'updated' compares datetimes, written without",
        ),
        ("/api/profiles", "less-than(created,1714567890)", "'created' compares datetimes"),
        ("/api/events", 'less-than(datetime,"yesterday")', "'datetime' compares datetimes"),
        (
            "/api/events",
            "greater-than(timestamp,2024-01-01T00:00:00Z)",
            "'timestamp' compares Unix seconds, a number",
        ),
    ],
)
def test_a_range_filter_takes_an_unquoted_datetime_or_for_timestamp_a_number(
    client: httpx.Client, path: str, expression: str, detail: str
) -> None:
    # Quoting a datetime is an "invalid filter" at Klaviyo (notes §4.2); events' timestamp is Unix seconds (§5.1).
    assert detail in _invalid(client.get(path, params={"filter": expression}), parameter="filter")["detail"]
    for endpoint, fine in (
        ("/api/profiles", "greater-than(updated,2024-01-01T00:00:00Z),less-than(created,2999-01-01)"),
        (
            "/api/events",
            "greater-or-equal(timestamp,1714567890),less-than(datetime,2999-01-01T00:00:00+00:00)",
        ),
    ):
        assert client.get(endpoint, params={"filter": fine}).status_code == 200


def test_an_allowed_filter_is_applied(client: httpx.Client) -> None:
    _profile_id(client)
    for email, found in (("ada@example.com", 1), ("grace@example.com", 0)):
        response = client.get("/api/profiles", params={"filter": f'any(email,["{email}","x@y.z"])'})
        assert len(response.json()["data"]) == found


@pytest.mark.parametrize(
    ("path", "value"), [("/api/profiles", "bogus"), ("/api/profiles", "-"), ("/api/events", "created")]
)
def test_a_sort_the_endpoint_does_not_offer_is_refused(client: httpx.Client, path: str, value: str) -> None:
    assert "Invalid sort" in _invalid(client.get(path, params={"sort": value}), parameter="sort")["detail"]


@pytest.mark.parametrize(
    ("path", "size"),
    [
        ("/api/profiles", "0"),
        ("/api/profiles", "101"),
        ("/api/profiles", "ten"),
        ("/api/profiles", "-1"),
        ("/api/profiles", "9" * 5000),
        ("/api/events", "1001"),
    ],
)
def test_a_page_size_out_of_range_is_refused(client: httpx.Client, path: str, size: str) -> None:
    error = _invalid(client.get(path, params={"page[size]": size}), parameter="page[size]")
    assert "must be an integer from 1 to" in error["detail"]


def test_the_largest_page_sizes_are_accepted(client: httpx.Client) -> None:
    assert client.get("/api/profiles", params={"page[size]": 100}).status_code == 200
    assert client.get("/api/events", params={"page[size]": 1000}).status_code == 200


def test_get_metrics_has_no_page_size(client: httpx.Client) -> None:
    error = _invalid(client.get("/api/metrics", params={"page[size]": 10}), parameter="page[size]")
    assert "not a valid query parameter" in error["detail"]


def test_an_unknown_query_parameter_is_refused_and_the_allowed_ones_listed(client: httpx.Client) -> None:
    error = _invalid(client.get("/api/profiles", params={"limit": 10}), parameter="limit")
    assert "'limit' is not a valid query parameter" in error["detail"]
    assert "page[size]" in error["detail"]


def test_a_repeated_query_parameter_is_refused(client: httpx.Client) -> None:
    error = _invalid(client.get("/api/profiles?sort=id&sort=-id"), parameter="sort")
    assert error["detail"] == "'sort' is given more than once."


@pytest.mark.parametrize(
    ("path", "parameter", "value"),
    [
        ("/api/profiles", "fields[profile]", "email,shoe_size"),
        ("/api/profiles", "fields[profile]", ""),
        ("/api/events", "fields[event]", "value"),
        ("/api/profiles", "include", "lists"),
        ("/api/events", "include", "metrics"),
        ("/api/profiles", "additional-fields[profile]", "everything"),
        ("/api/profiles", "fields[event]", "uuid"),
    ],
)
def test_a_bad_fields_or_include_value_is_refused(
    client: httpx.Client, path: str, parameter: str, value: str
) -> None:
    _invalid(client.get(path, params={parameter: value}), parameter=parameter)


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",
        base64.urlsafe_b64encode(b"next::id::01F3ZZNHNTX1KETHP32SS4A7FX").decode(),
        base64.urlsafe_b64encode(b"next::offset::" + b"9" * 5000).decode(),
    ],
)
def test_a_cursor_this_server_did_not_issue_is_refused(client: httpx.Client, cursor: str) -> None:
    error = _invalid(client.get("/api/profiles", params={"page[cursor]": cursor}), parameter="page[cursor]")
    assert error["detail"] == "Invalid page cursor: not a cursor this server issued."


def test_a_cursor_from_links_next_pages_on(client: httpx.Client) -> None:
    for n in range(3):
        client.post("/api/profile-import", json=profile_attributes(email=f"p{n}@example.com"))
    first = client.get("/api/profiles", params={"page[size]": 2}).json()
    second = client.get(first["links"]["next"]).json()
    assert len(first["data"]) == 2
    assert len(second["data"]) == 1
    assert second["links"]["next"] is None


# -- paths, methods, authentication, revision (§7.1, §7.2, §7.3) -----------------------------------------------------


@pytest.mark.parametrize("path", ["/api/nothing-here", "/api/profiles/x/y", "/api", "/api/v2/events"])
def test_an_unknown_path_is_a_json_api_404(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert_jsonapi_error(response, 404, "not_found")
    assert path in first_error(response)["detail"]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/api/profiles", "GET, POST"),
        ("PUT", "/api/events", "GET, POST"),
        ("GET", "/api/profile-import", "POST"),
        ("POST", "/api/profiles/01HZZZZZZZZZZZZZZZZZZZZZZZ", "GET, PATCH"),
        ("OPTIONS", "/api/events/", "GET, POST"),
        ("TRACE", "/api/metrics", "GET"),
    ],
)
def test_a_wrong_method_is_a_405_with_allow(client: httpx.Client, method: str, path: str, allow: str) -> None:
    response = client.request(method, path)
    assert_jsonapi_error(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == allow


def test_a_trailing_slash_is_the_same_endpoint(client: httpx.Client) -> None:
    assert client.post("/api/events/", json=event_body()).status_code == 202
    profile_id = client.get("/api/profiles/").json()["data"][0]["id"]
    assert client.get(f"/api/profiles/{profile_id}/").json()["data"]["id"] == profile_id
    assert client.get("/api/events/").json()["data"] == client.get("/api/events").json()["data"]
    _invalid(client.get("/api/profiles/", params={"sort": "bogus"}), parameter="sort")
    _invalid(client.post("/api/profile-import/", json={}), pointer="/data")


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Klaviyo-API-Key", "Klaviyo-API-Key   ", "Basic cGs6", "Token pk_x", "pk_test_trifft_0001"],
)
def test_a_missing_or_malformed_authorization_is_a_401(
    client: httpx.Client, authorization: str | None
) -> None:
    request = client.build_request("GET", "/api/profiles")
    if authorization is None:
        del request.headers["Authorization"]
    else:
        request.headers["Authorization"] = authorization
    response = client.send(request)
    assert_jsonapi_error(response, 401, "not_authenticated")
    assert first_error(response)["source"] == {"parameter": "Authorization"}


def test_an_oauth_bearer_token_is_an_account_too(client: httpx.Client) -> None:
    response = client.get("/api/profiles", headers={"Authorization": "Bearer token-of-an-oauth-app"})
    assert response.status_code == 200, response.text


def test_authentication_is_checked_before_the_revision(client: httpx.Client) -> None:
    request = client.build_request("GET", "/api/profiles")
    del request.headers["Authorization"]
    del request.headers["revision"]
    assert_jsonapi_error(client.send(request), 401, "not_authenticated")


def test_a_missing_revision_is_a_400_naming_the_header(client: httpx.Client) -> None:
    request = client.build_request("GET", "/api/profiles")
    del request.headers["revision"]
    error = _invalid(client.send(request), parameter="revision")
    assert "Missing required header 'revision'" in error["detail"]


@pytest.mark.parametrize(
    "revision", ["latest", "2026-7-15", "2026-02-30", "15-07-2026", "2026-07-15.", "v2026-07-15"]
)
def test_a_malformed_revision_is_a_400(client: httpx.Client, revision: str) -> None:
    error = _invalid(client.get("/api/profiles", headers={"revision": revision}), parameter="revision")
    assert error["detail"] == f"Invalid revision '{revision}'; expected YYYY-MM-DD[.suffix]."


def test_a_future_revision_is_a_400(client: httpx.Client) -> None:
    error = _invalid(client.get("/api/profiles", headers={"revision": "2099-01-15"}), parameter="revision")
    assert "does not exist yet" in error["detail"]


# "2022-*, 2023-* and 2024-* -- RETIRED" as of October 2026, retired revisions "return 410 errors":
# https://developers.klaviyo.com/.well-known/skills/klaviyo-migrate-oauth/references/revision-changes.md
@pytest.mark.parametrize("revision", ["2023-02-22", "2024-10-14", "2024-10-15", "2022-10-17.pre"])
def test_a_retired_revision_is_a_410(client: httpx.Client, revision: str) -> None:
    response = client.get("/api/profiles", headers={"revision": revision})
    assert_jsonapi_error(response, 410, "gone")
    assert first_error(response)["source"] == {"parameter": "revision"}


@pytest.mark.parametrize("revision", [*(r.isoformat() for r in contracts.REVISIONS), "2026-07-15.pre"])
def test_current_revisions_are_accepted(client: httpx.Client, revision: str) -> None:
    assert client.get("/api/profiles", headers={"revision": revision}).status_code == 200


# "Revisions are formatted as ISO 8601 dates (representing release dates) ... the revision passed in must be a
# valid revision": https://developers.klaviyo.com/en/docs/api_versioning_and_deprecation_policy
@pytest.mark.parametrize("revision", ["2025-02-01", "2026-07-14", "2026-10-01"])
def test_a_date_that_is_no_release_is_not_a_revision(client: httpx.Client, revision: str) -> None:
    error = _invalid(client.get("/api/profiles", headers={"revision": revision}), parameter="revision")
    assert error["detail"].startswith(f"Revision {revision} is not a valid revision;")
    assert "2026-07-15" in error["detail"]


def test_a_suffix_other_than_the_published_pre_is_refused(client: httpx.Client) -> None:
    error = _invalid(
        client.get("/api/profiles", headers={"revision": "2026-07-15.beta"}), parameter="revision"
    )
    assert error["detail"] == "Invalid revision '2026-07-15.beta'; expected YYYY-MM-DD[.suffix]."


# -- every rejection is logged ---------------------------------------------------------------------------------------


REJECTED = [
    ("POST", "/api/events", b'{"data": ', {}, 400),
    ("POST", "/api/events", b"{}", {"Content-Type": "text/plain"}, 415),
    ("GET", "/api/profiles?filter=nope", None, {}, 400),
    ("GET", "/api/profiles", None, {"revision": "2020-01-01"}, 410),
    ("GET", "/api/profiles", None, {"Authorization": "Basic x"}, 401),
    ("GET", "/api/metrics/AbCdEf", None, {}, 404),
    ("GET", "/api/not-an-endpoint", None, {}, 404),
    ("DELETE", "/api/events", None, {}, 405),
    ("POST", "/api/profile-import", json.dumps(profile_attributes(email="x")).encode(), {}, 400),
]


@pytest.mark.parametrize(("method", "path", "body", "headers", "status"), REJECTED)
def test_a_rejected_request_is_in_the_request_log_with_its_status_and_errors(
    client: httpx.Client, method: str, path: str, body: bytes | None, headers: dict[str, str], status: int
) -> None:
    response = client.request(method, path, content=body, headers=headers)
    assert_jsonapi_error(response, status)
    [logged] = client.get("/_emulator/requests", params={"status": status}).json()["data"]
    assert (logged["method"], logged["path"], logged["status"]) == (method, path.split("?")[0], status)
    assert logged["errors"] == response.json()["errors"]
    if headers.get("Authorization", "").startswith("Basic"):
        assert logged["account"] is None
    else:
        assert logged["masked_key"] is not None
        assert [
            r["id"] for r in client.get("/_emulator/requests", params={"key": API_KEY}).json()["data"]
        ] == [logged["id"]]
