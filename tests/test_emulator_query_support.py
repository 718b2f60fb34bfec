"""Every query option the spec allows is emulated or refused by name.

The spec (contracts/schemas/klaviyo/2026-07-15/openapi.json) lists each operation's ``include`` values, ``sort``
values and filterable fields. A test walks all of them: each answers 2xx (or a 404 for a made-up id), or 400
``not_emulated`` naming the parameter; none is a 500 (a filter field a handler does not know raises) and none is
quietly dropped: an include that is emulated includes something.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from _emulator_bodies import (
    assert_jsonapi_error,
    event_body,
    first_error,
    import_job_body,
    list_body,
    profile_attributes,
)
from conftest import HEADERS

from emulator.client import InProcessTransport
from emulator.klaviyo import Emulator, create_app, spec
from emulator.klaviyo.support import NOT_EMULATED

READS = [op for op in spec.operations() if op.method == "GET"]


@pytest.fixture(scope="module")
def seeded() -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    """One emulator holding one of everything a read can name, and the ids to name them by."""
    with httpx.Client(
        transport=InProcessTransport(create_app(Emulator(rate_limits="off"))),
        base_url="http://klaviyo.test",
        headers=HEADERS,
    ) as http:
        profile = http.post("/api/profile-import", json=profile_attributes(email="ada@example.com")).json()
        http.post("/api/events", json=event_body())
        list_id = http.post("/api/lists", json=list_body("Seed", "single_opt_in")).json()["data"]["id"]
        imported = import_job_body({"email": "ada@example.com"})
        imported["data"]["relationships"] = {"lists": {"data": [{"type": "list", "id": list_id}]}}
        job = http.post("/api/profile-bulk-import-jobs", json=imported).json()
        ids = {
            "profile": profile["data"]["id"],
            "event": http.get("/api/events").json()["data"][0]["id"],
            "metric": http.get("/api/metrics").json()["data"][0]["id"],
            "job": job["data"]["id"],
            "list": list_id,
        }
        yield http, ids


def _path(operation: spec.Operation, ids: dict[str, str]) -> str:
    kind = "profile"
    if operation.path.startswith("/api/events/"):
        kind = "event"
    elif operation.path.startswith("/api/metrics/"):
        kind = "metric"
    elif operation.path.startswith("/api/profile-bulk-import-jobs/"):
        kind = "job"
    elif operation.path.startswith("/api/lists/"):
        kind = "list"
    return operation.path.replace("{id}", ids[kind]).replace("{job_id}", ids[kind])


def _condition(field: str, operator: str) -> str:
    if operator == "has":
        return f"has({field})"
    if operator == "any":
        return f'any({field},["x"])'
    if operator == "equals":
        return f'equals({field},"x")'
    value = "1714567890" if field == "timestamp" else "2024-01-01T00:00:00Z"
    return f"{operator}({field},{value})"


def _options() -> Iterator[Any]:
    for operation in READS:
        query = operation.query()
        for parameter in ("include", "sort"):
            if parameter in query:
                for value in query[parameter].enum:
                    yield pytest.param(
                        operation, parameter, value, id=f"{operation.operation_id}-{parameter}-{value}"
                    )
        if "filter" in query:
            for field, operators in query["filter"].filters.items():
                filtered = _condition(field, operators[0])
                yield pytest.param(
                    operation, "filter", filtered, id=f"{operation.operation_id}-filter-{field}"
                )


@pytest.mark.parametrize(("operation", "parameter", "value"), list(_options()))
def test_every_include_sort_and_filter_the_spec_allows_is_emulated_or_refused_by_name(
    seeded: tuple[httpx.Client, dict[str, str]], operation: spec.Operation, parameter: str, value: str
) -> None:
    http, ids = seeded
    response = http.get(_path(operation, ids), params={parameter: value})
    table = NOT_EMULATED.get(operation.operation_id, {}).get(parameter, frozenset())
    name = value.lstrip("-") if parameter == "sort" else value
    refused = (
        name in table
        if parameter != "filter"
        else any(f"({field}," in value or f"({field})" in value for field in table)
    )
    if refused:
        assert_jsonapi_error(response, 400, "not_emulated")
        assert first_error(response)["source"] == {"parameter": parameter}
        assert "valid for Klaviyo" in first_error(response)["detail"]
    else:
        assert response.status_code == 200, response.text
        if parameter == "include":
            # The seeded account holds one of each emulated kind, so an include that works includes something.
            kind = {"lists": "list"}.get(value, value)
            assert kind in {item["type"] for item in response.json()["included"]}, response.json()


def test_a_not_emulated_option_is_named_only_once_the_query_is_otherwise_valid(client: httpx.Client) -> None:
    # A query that is invalid for Klaviyo gets Klaviyo's 400 invalid first; not_emulated is for valid ones only.
    both = client.get("/api/profiles", params={"include": "segments"})
    assert_jsonapi_error(both, 400, "invalid")
    refused = client.get("/api/events", params={"include": "metric,attributions"})
    assert_jsonapi_error(refused, 400, "not_emulated")
    assert "attributions" in first_error(refused)["detail"]


def test_filtering_and_sorting_profiles_by_suppression_is_emulated(client: httpx.Client) -> None:
    client.put("/_emulator/opt-in", params={"key": "pk_test_trifft_0001"}, content="single_opt_in")
    for email in ("ada@example.com", "bob@example.com"):
        client.post("/api/profile-import", json=profile_attributes(email=email))
    unsubscribe = {
        "data": {
            "type": "profile-subscription-bulk-delete-job",
            "attributes": {
                "profiles": {
                    "data": [
                        {
                            "type": "profile",
                            "attributes": {
                                "email": "bob@example.com",
                                "subscriptions": {"email": {"marketing": {"consent": "UNSUBSCRIBED"}}},
                            },
                        }
                    ]
                }
            },
        }
    }
    client.post("/api/profile-subscription-bulk-delete-jobs", json=unsubscribe)
    ordered = client.get(
        "/api/profiles", params={"sort": "subscriptions.email.marketing.suppression.timestamp"}
    )
    assert [p["attributes"]["email"] for p in ordered.json()["data"]] == [
        "bob@example.com",
        "ada@example.com",
    ]
    since = client.get(
        "/api/profiles",
        params={
            "filter": "greater-or-equal(subscriptions.email.marketing.suppression.timestamp,2020-01-01T00:00:00Z)"
        },
    )
    assert [p["attributes"]["email"] for p in since.json()["data"]] == ["bob@example.com"]
    reason = client.get(
        "/api/profiles",
        params={"filter": 'equals(subscriptions.email.marketing.suppression.reason,"UNSUBSCRIBE")'},
    )
    assert [p["attributes"]["email"] for p in reason.json()["data"]] == ["bob@example.com"]
