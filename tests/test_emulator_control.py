"""The control API under /_emulator/: health, the request log, the ledger, accounts, and what it refuses."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from conftest import API_KEY, HEADERS

from emulator.klaviyo import Emulator, create_app
from emulator.klaviyo.server import InProcessTransport
from emulator.klaviyo.store import mask

OTHER_KEY = "pk_other_account_0000000000000000042"


def event(email: str, unique_id: str | None = None, metric: str = "Points Earned") -> dict[str, Any]:
    return {
        "data": {
            "type": "event",
            "attributes": {
                "properties": {"points": 10},
                "unique_id": unique_id,
                "metric": {"data": {"type": "metric", "attributes": {"name": metric}}},
                "profile": {"data": {"type": "profile", "attributes": {"email": email}}},
            },
        }
    }


def keyed(key: str) -> dict[str, str]:
    return {**HEADERS, "Authorization": f"Klaviyo-API-Key {key}"}


def test_request_log_records_a_request_rejected_for_a_missing_key(client: httpx.Client) -> None:
    response = client.post("/api/events", json=event("a@example.com"), headers={"Authorization": ""})
    assert response.status_code == 401
    [row] = client.get("/_emulator/requests").json()["data"]
    assert row["status"] == 401
    assert row["masked_key"] is None
    assert row["errors"][0]["code"] == "not_authenticated"


def test_request_log_records_an_invalid_request_with_its_errors_and_masked_key(client: httpx.Client) -> None:
    response = client.post("/api/events", json={"data": {"type": "event"}})
    assert response.status_code == 400
    [row] = client.get("/_emulator/requests").json()["data"]
    assert row["status"] == 400
    assert row["operation"] == "create_event"
    assert row["masked_key"] == mask(API_KEY)
    assert row["errors"] == response.json()["errors"]


@pytest.mark.parametrize(
    "key", ["pk_0123456789abcdef0123456789abcdef01", "pk_test_trifft_0001", "pk_short_1", "pk_k"]
)
def test_a_masked_key_hides_at_least_two_thirds_of_the_key(key: str) -> None:
    shown = mask(key).replace("…", "")
    assert len(shown) * 3 <= len(key)
    assert mask(key) != key


def test_a_key_refused_by_api_key_is_masked_in_the_error_and_the_log() -> None:
    emulator = Emulator(rate_limits="off", api_keys=frozenset({"pk_the_only_accepted_key_00000000"}))
    transport = InProcessTransport(create_app(emulator))
    with httpx.Client(transport=transport, base_url="http://klaviyo.test", headers=HEADERS) as http:
        refused = http.post("/api/events", json=event("a@example.com"))
        log = http.get("/_emulator/requests")
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["code"] == "permission_denied"
    assert API_KEY not in refused.text
    assert API_KEY not in log.text
    assert log.json()["data"][0]["masked_key"] == mask(API_KEY)


@pytest.mark.parametrize(
    "query",
    [
        "after=abc",
        "after=-1",
        "after=1.5",
        "after=%C2%B2",  # '²' passes str.isdigit() but not int()
        "after=99999999999999999999999",
        "limit=x",
        "limit=99999999999999999999999",
        "status=abc",
        "status=99999999999999999999999",
    ],
)
def test_a_bad_request_log_query_is_a_400_naming_the_parameter(client: httpx.Client, query: str) -> None:
    response = client.get(f"/_emulator/requests?{query}")
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert query.split("=")[0] in response.json()["errors"][0]["detail"]


@pytest.mark.parametrize("query", ["after=%C2%B2", "after=99999999999999999999999", "limit=-5"])
def test_a_bad_ledger_query_is_a_400(client: httpx.Client, query: str) -> None:
    response = client.get(f"/_emulator/ledger?{query}")
    assert response.status_code == 400
    assert response.json()["errors"][0]["status"] == 400


def test_a_control_endpoint_called_with_the_wrong_method_is_a_405_naming_the_allowed_ones(
    client: httpx.Client,
) -> None:
    response = client.get("/_emulator/reset")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert "POST" in response.json()["errors"][0]["detail"]
