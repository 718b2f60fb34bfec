"""The control API under /_emulator/: health, the request log, the ledger, accounts, and what it refuses."""

from __future__ import annotations

import json
import socket
from typing import Any

import httpx
import pytest
from conftest import API_KEY, HEADERS

from emulator.client import InProcessTransport
from emulator.klaviyo import Emulator, create_app
from emulator.klaviyo.store import account_id, display_key, mask
from emulator.server import RunningEmulator

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


def test_health_answers_200_once_the_socket_server_serves() -> None:
    with RunningEmulator(Emulator(rate_limits="off")) as running:
        health = httpx.get(f"{running.url}/_emulator/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert health.json()["rate_limits"] == "off"


def test_a_socket_server_holds_its_port_from_the_moment_it_is_made() -> None:
    running = RunningEmulator(Emulator(rate_limits="off"))
    try:
        with socket.socket() as intruder, pytest.raises(OSError):
            intruder.bind(("127.0.0.1", running.port))
        running.start()
        assert httpx.get(f"{running.url}/_emulator/health").status_code == 200
    finally:
        running.stop()


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


def test_request_log_pages_with_after_and_limit(client: httpx.Client) -> None:
    for n in range(5):
        assert client.post("/api/events", json=event(f"m{n}@example.com")).status_code == 202
    first = client.get("/_emulator/requests", params={"limit": 2}).json()
    second = client.get("/_emulator/requests", params={"limit": 2, "after": first["next_after"]}).json()
    rest = client.get("/_emulator/requests", params={"after": second["next_after"]}).json()
    bodies = [json.loads(row["request_body"]) for page in (first, second, rest) for row in page["data"]]
    emails = [b["data"]["attributes"]["profile"]["data"]["attributes"]["email"] for b in bodies]
    assert emails == [f"m{n}@example.com" for n in range(5)]
    assert [len(page["data"]) for page in (first, second, rest)] == [2, 2, 1]


def test_request_log_filters_by_status(client: httpx.Client) -> None:
    client.post("/api/events", json=event("a@example.com"))
    client.post("/api/events", json={"data": {}})
    client.post("/api/events", json=event("b@example.com"))
    rejected = client.get("/_emulator/requests", params={"status": 400}).json()["data"]
    accepted = client.get("/_emulator/requests", params={"status": 202}).json()["data"]
    assert [row["status"] for row in rejected] == [400]
    assert [row["status"] for row in accepted] == [202, 202]


def test_request_log_and_ledger_show_one_account_when_asked(client: httpx.Client) -> None:
    client.post("/api/events", json=event("a@example.com", unique_id="u1"))
    client.post("/api/events", json=event("a@example.com", unique_id="u1"))
    client.post("/api/events", json=event("b@example.com"), headers=keyed(OTHER_KEY))
    mine = client.get("/_emulator/requests", params={"key": API_KEY}).json()["data"]
    theirs = client.get("/_emulator/requests", params={"account": account_id(OTHER_KEY)}).json()["data"]
    assert len(mine) == 2
    assert len(theirs) == 1
    ledger = client.get("/_emulator/ledger", params={"key": API_KEY}).json()["data"]
    assert [entry["kind"] for entry in ledger] == ["metric_created", "event_deduplicated"]
    assert ledger[1]["details"]["unique_id"] == "u1"
    assert ledger[1]["request_id"] == mine[1]["id"]


def test_accounts_list_shows_masked_keys_only(client: httpx.Client) -> None:
    client.post("/api/events", json=event("a@example.com"))
    client.post("/api/events", json=event("b@example.com"), headers=keyed(OTHER_KEY))
    listed = client.get("/_emulator/accounts")
    assert {row["masked_key"] for row in listed.json()["data"]} == {mask(API_KEY), mask(OTHER_KEY)}
    assert {row["id"] for row in listed.json()["data"]} == {account_id(API_KEY), account_id(OTHER_KEY)}
    assert API_KEY not in listed.text
    assert OTHER_KEY not in listed.text


def test_the_key_endpoint_says_whether_a_key_is_taken_and_was_seen() -> None:
    emulator = Emulator(rate_limits="off", api_keys=frozenset({API_KEY}))
    with httpx.Client(transport=InProcessTransport(create_app(emulator)), base_url="http://k.test") as client:
        client.post("/api/events", json=event("a@example.com"), headers=HEADERS)
        mine = client.get("/_emulator/key", params={"key": API_KEY}).json()
        other = client.get("/_emulator/key", params={"key": OTHER_KEY}).json()
        assert client.get("/_emulator/key").status_code == 400
    assert mine == {
        "account": account_id(API_KEY),
        "masked_key": mask(API_KEY),
        "accepted": True,
        "seen": True,
    }
    assert (other["accepted"], other["seen"]) == (False, False) and OTHER_KEY not in json.dumps(other)


@pytest.mark.parametrize(
    "key", ["pk_0123456789abcdef0123456789abcdef01", "pk_test_trifft_0001", "pk_short_1", "pk_k"]
)
def test_a_masked_key_hides_at_least_two_thirds_of_the_key(key: str) -> None:
    shown = mask(key).replace("…", "")
    assert len(shown) * 3 <= len(key)
    assert mask(key) != key


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("pk_0123456789abcdef0123456789abcdef01", "pk_…ef01"),  # a real key: first 3 and last 4
        ("pk_test_dashboard_0001", "pk_…0001"),
        ("pk_test_trifft_0001", "pk…0001"),  # 6 of 19 may be shown: the end first
        ("pk_test_1", "…t_1"),
        ("pk", "…"),
    ],
)
def test_the_display_form_of_a_key_is_its_first_three_and_last_four_within_a_third(
    key: str, shown: str
) -> None:
    assert display_key(key) == shown
    assert len(shown.replace("…", "")) * 3 <= len(key)


def test_short_test_keys_that_mask_alike_are_told_apart_by_their_display_form() -> None:
    assert mask("pk_test_1") == mask("pk_live_1") == "pk…1"
    assert len({display_key(k) for k in ("pk_test_1", "pk_test_2", "pk_live_1")}) == 3


def test_an_account_is_listed_with_its_display_form_and_label(client: httpx.Client) -> None:
    client.post("/api/events", json=event("a@example.com"))
    labelled = client.put("/_emulator/accounts/label", params={"key": API_KEY}, content="  CI <b>run</b>  ")
    assert labelled.status_code == 200
    assert labelled.json() == {
        "account": account_id(API_KEY),
        "label": "CI <b>run</b>",
        "shown_key": display_key(API_KEY),
        "seen": True,
    }
    [row] = client.get("/_emulator/accounts").json()["data"]
    assert (row["shown_key"], row["label"], row["masked_key"]) == (
        display_key(API_KEY),
        "CI <b>run</b>",
        mask(API_KEY),
    )
    assert (
        client.put("/_emulator/accounts/label", params={"account": account_id(API_KEY)}).json()["label"]
        is None
    )
    assert client.get("/_emulator/accounts").json()["data"][0]["label"] is None


def test_a_label_set_before_the_first_request_names_the_account_and_survives_a_reset(
    client: httpx.Client,
) -> None:
    early = client.put("/_emulator/accounts/label", params={"key": OTHER_KEY}, content="staging")
    assert early.json()["seen"] is False and client.get("/_emulator/accounts").json()["data"] == []
    client.post("/api/events", json=event("a@example.com"), headers=keyed(OTHER_KEY))
    assert client.get("/_emulator/accounts").json()["data"][0]["label"] == "staging"
    client.post("/_emulator/reset")
    client.post("/api/events", json=event("a@example.com"), headers=keyed(OTHER_KEY))
    assert client.get("/_emulator/accounts").json()["data"][0]["label"] == "staging"


@pytest.mark.parametrize(
    ("params", "body", "named"),
    [
        ({}, b"CI", "name the account"),
        ({"key": API_KEY}, b"x" * 61, "at most 60 characters"),
        ({"key": API_KEY}, b"two\nlines", "control characters"),
        ({"key": API_KEY}, b"\xff\xfe", "UTF-8"),
    ],
)
def test_a_bad_label_is_a_400_naming_what_is_wrong(
    client: httpx.Client, params: dict[str, str], body: bytes, named: str
) -> None:
    answer = client.put("/_emulator/accounts/label", params=params, content=body)
    assert answer.status_code == 400
    assert named in answer.json()["errors"][0]["detail"]
    assert client.get("/_emulator/accounts/label").status_code == 405


def test_no_control_output_contains_the_api_key_in_clear(client: httpx.Client) -> None:
    client.post("/api/events", json=event("a@example.com", unique_id="u1"))
    client.post("/api/events", json=event("a@example.com", unique_id="u1"))
    client.post("/api/events", json={"data": {}})
    client.post("/api/profile-import", json={"data": {"type": "profile", "attributes": {"email": "x@y.io"}}})
    pages = [
        "/_emulator/health",
        "/_emulator/accounts",
        "/_emulator/endpoints",
        "/_emulator/requests",
        "/_emulator/ledger",
        f"/_emulator/state?key={API_KEY}",
        "/_emulator/faults",
        "/_emulator/rate-limits",
    ]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        assert API_KEY not in response.text, page


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


def test_reset_forgets_everything(client: httpx.Client) -> None:
    client.post("/api/events", json=event("a@example.com"))
    assert client.post("/_emulator/reset").json() == {"reset": "all accounts"}
    assert client.get("/_emulator/requests").json()["data"] == []
    assert client.get("/_emulator/accounts").json()["data"] == []
    assert client.get("/api/events").json()["data"] == []


def test_a_control_endpoint_called_with_the_wrong_method_is_a_405_naming_the_allowed_ones(
    client: httpx.Client,
) -> None:
    response = client.get("/_emulator/reset")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert "POST" in response.json()["errors"][0]["detail"]


def test_state_without_an_account_is_a_400(client: httpx.Client) -> None:
    response = client.get("/_emulator/state")
    assert response.status_code == 400
    assert "account" in response.json()["errors"][0]["detail"]


def test_rate_limit_mode_changes_at_run_time_and_a_bad_one_is_a_400(client: httpx.Client) -> None:
    assert client.put("/_emulator/rate-limits", content="0.5").json()["mode"] == "0.5"
    assert client.get("/_emulator/rate-limits").json()["mode"] == "0.5"
    refused = client.put("/_emulator/rate-limits", content="fast")
    assert refused.status_code == 400
    assert "'fast'" in refused.json()["errors"][0]["detail"]
    assert client.get("/_emulator/rate-limits").json()["mode"] == "0.5"


def test_endpoints_lists_every_operation_with_its_limits(client: httpx.Client) -> None:
    listed = {row["operation"]: row for row in client.get("/_emulator/endpoints").json()["data"]}
    assert len(listed) == 22
    assert listed["create_event"]["burst_per_second"] == 350
    assert listed["create_event"]["steady_per_minute"] == 3500
    assert listed["get_events"]["max_body_bytes"] is None
