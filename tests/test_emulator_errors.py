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
    profile_attributes,
    subscription_body,
)
from conftest import API_KEY

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


def _profile_of_size(size: int) -> bytes:
    body = json.dumps(profile_attributes(email="ada@example.com", properties={"pad": ""})).encode()
    padded = json.dumps(
        profile_attributes(email="ada@example.com", properties={"pad": "x" * (size - len(body))})
    )
    assert len(padded.encode()) == size
    return padded.encode()


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
