"""Each contract rule, judged as a pure function of observed traffic: no socket, no emulator.

Traffic is built the way a proxy or a captured log would give it: bodies decoded by ``contracts.traffic.observe``
from requests Klaviyo accepted. Every rule has a producer that keeps it and one that breaks it.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest

from contracts.traffic import Observation, RequestRecord, Traffic, decode_log, observe
from contracts.verifier import story, verify
from emulator.trifft import generate
from sync import map_event

STREAM = list(generate(400, seed=21, members=12))


def _first(kind: str) -> dict[str, Any]:
    for event in STREAM:
        if event["kind"] == kind and (kind != "custom_webhook" or event["member"]["email"]):
            return copy.deepcopy(event)
    raise LookupError(kind)


def _traffic(*sent: tuple[str, str, Any], status: int = 202) -> Traffic:
    requests, observations = [], []
    for seq, (method, path, body) in enumerate(sent, 1):
        record = RequestRecord(seq, f"r{seq}", method, path, status, float(seq))
        requests.append(record)
        observations += [replace(o, request=seq, request_id=record.id) for o in observe(method, path, body)]
    return Traffic(requests, observations)


def _event(body: dict[str, Any]) -> tuple[str, str, Any]:
    return ("POST", "/api/events", body)


def _rules(traffic: Traffic, **options: Any) -> list[str]:
    return [v.rule for v in verify(traffic, **options).violations]


def test_the_sync_s_own_bodies_keep_every_rule() -> None:
    sent = []
    for event in STREAM[:120]:
        mapped = map_event(event)
        if mapped.skipped or mapped.problems:
            continue
        if mapped.webhook is not None:
            if event["member"]["email"]:
                sent.append(("POST", mapped.webhook.path, mapped.webhook.body))
            continue
        sent.append(_event(mapped.event_body()))
    report = verify(_traffic(*sent))
    assert report.ok, report.text()
    assert report.requests == len(sent) and sum(report.metrics.values()) == len(sent)


def test_nothing_is_judged_from_refused_requests_and_refused_alone_is_no_pass() -> None:
    body = map_event(_first("app_opened")).event_body()
    del body["data"]["attributes"]["unique_id"]
    report = verify(_traffic(_event(body), status=400))
    assert (
        [v.rule for v in report.violations] == ["received"] and report.requests == 0 and report.rejected == 1
    )
    assert "1 request arrived and none was accepted (1 rejected)" in report.violations[0].message
    assert verify(_traffic(_event(body), status=400), allow_empty=True).ok


def test_received_fails_a_verdict_on_nothing_unless_empty_is_allowed() -> None:
    [violation] = verify(Traffic([], [])).violations
    assert violation.rule == "received" and "check the key and the base URL" in violation.message
    assert verify(Traffic([], []), allow_empty=True).ok
    assert "FAIL: 0 accepted requests judged" in verify(Traffic([], [])).text()


def test_received_counts_throttled_and_faulted_requests_apart_from_rejected_ones() -> None:
    traffic = _traffic(_event({}), _event({}), status=429)
    faulted = RequestRecord(3, "r3", "POST", "/api/events", 503, 3.0, fault="503")
    report = verify(Traffic([*traffic.requests, faulted], []))
    assert (report.requests, report.rejected, report.throttled, report.faults) == (0, 0, 2, 1)
    assert "(2 throttled, 1 failed by faults)" in report.violations[0].message


def test_metric_payload_catches_a_dropped_property_at_its_pointer() -> None:
    body = map_event(_first("transaction_created")).event_body()
    del body["data"]["attributes"]["properties"]["venue_name"]
    [violation] = verify(_traffic(_event(body))).violations
    assert violation.rule == "metric-payload"
    assert violation.pointer == "/data/attributes/properties/venue_name"
    assert violation.event_id == body["data"]["attributes"]["unique_id"]


def test_metric_payload_catches_a_misspelled_metric_name() -> None:
    body = map_event(_first("coupon_assigned")).event_body()
    body["data"]["attributes"]["metric"]["data"]["attributes"]["name"] = "Coupon Assigned"
    assert "metric-payload" in _rules(_traffic(_event(body)))


def test_refresh_follows_event_catches_an_event_without_a_refresh() -> None:
    mapped = map_event(_first("app_opened"))
    body = mapped.event_body()
    body["data"]["attributes"]["profile"]["data"]["attributes"] = {"external_id": mapped.member_id}
    assert _rules(_traffic(_event(body))) == ["refresh-follows-event"]


def test_refresh_follows_event_accepts_a_refresh_sent_right_after_the_event() -> None:
    mapped = map_event(_first("language_changed"))
    body = mapped.event_body()
    body["data"]["attributes"]["profile"]["data"]["attributes"] = {"external_id": mapped.member_id}
    refresh = ("POST", "/api/profile-import", mapped.refresh_body())
    assert _rules(_traffic(_event(body), refresh)) == []
    assert _rules(_traffic(refresh, _event(body))) == ["refresh-follows-event"]


def test_refresh_follows_event_catches_a_refresh_that_contradicts_the_event() -> None:
    event = next(e for e in STREAM if e["kind"] == "wallet_credited" and e["data"]["wallet"]["is_primary"])
    body = map_event(event).event_body()
    body["data"]["attributes"]["profile"]["data"]["attributes"]["properties"]["trifft_points"] += 1
    [violation] = verify(_traffic(_event(body))).violations
    assert violation.rule == "refresh-follows-event" and "trifft_points" in violation.message


def test_webhook_no_refresh_catches_a_refresh_after_a_custom_webhook() -> None:
    event = _first("custom_webhook")
    webhook = map_event(event).webhook
    assert webhook is not None
    refresh = map_event(
        {**event, "kind": "app_opened", "data": {"app_version": "1", "app_platform": "ios", "timestamp": 1}}
    ).refresh_body()
    sent = [("POST", webhook.path, webhook.body), ("POST", "/api/profile-import", refresh)]
    assert _rules(_traffic(*sent)) == ["webhook-no-refresh"]
    assert _rules(_traffic(sent[0])) == []


def test_no_system_segment_catches_an_internal_segment() -> None:
    event = _first("added_to_segment")
    event["data"].update(name="All members", slug="internal-all-members", type="INTERNAL", is_internal=False)
    assert "no-system-segment" in _rules(_traffic(_event(map_event(event).event_body())))


def test_no_duplicate_catches_one_trifft_event_under_two_unique_ids() -> None:
    body = map_event(_first("transaction_created")).event_body()
    again = copy.deepcopy(body)
    again["data"]["attributes"]["unique_id"] = "a-fresh-id-on-retry"
    assert _rules(_traffic(_event(body), _event(again))) == ["no-duplicate"]
    assert _rules(_traffic(_event(body), _event(body))) == []


def test_identifiers_catches_a_trifft_id_that_is_not_the_external_id() -> None:
    body = map_event(_first("app_opened")).event_body()
    properties = body["data"]["attributes"]["profile"]["data"]["attributes"]["properties"]
    properties["trifft_id"] = "00000000-0000-4000-8000-000000000000"
    assert "identifiers" in _rules(_traffic(_event(body)))


def test_coverage_fails_only_when_all_metrics_are_required() -> None:
    traffic = _traffic(_event(map_event(_first("app_opened")).event_body()))
    assert _rules(traffic) == []
    assert _rules(traffic, require_all_metrics=True) == ["coverage"] * 14


def test_readable_catches_a_captured_body_in_no_shape_klaviyo_takes() -> None:
    records = [
        RequestRecord(1, "r1", "POST", "/api/events", 202, 1.0, request_body='{"data": {"attributes": []}}'),
        RequestRecord(2, "r2", "POST", "/api/events", 202, 2.0, request_body="not json"),
        RequestRecord(3, "r3", "POST", "/api/events", 400, 3.0, request_body="not json"),
    ]
    violations = verify(decode_log(records)).violations
    assert [(v.rule, v.request) for v in violations] == [("readable", 1), ("readable", 2)]


@pytest.mark.parametrize(
    ("path", "pointers"),
    [
        ("/api/events", ["/data/attributes/profile/data", "/data/attributes"]),
        (
            "/api/event-bulk-create-jobs",
            [
                "/data/attributes/events-bulk-create/data/0/attributes/profile/data",
                "/data/attributes/events-bulk-create/data/0/attributes/events/data/0/attributes",
                "/data/attributes/events-bulk-create/data/0/attributes/events/data/1/attributes",
            ],
        ),
        ("/api/profile-import", ["/data"]),
        ("/api/profiles/01J0000000000000000000000/", ["/data"]),
    ],
)
def test_the_decoder_names_each_part_of_a_body_by_its_pointer(path: str, pointers: list[str]) -> None:
    mapped = map_event(_first("wallet_credited"))
    event = mapped.event_body()["data"]["attributes"]
    bodies = {
        "/api/events": mapped.event_body(),
        "/api/event-bulk-create-jobs": {
            "data": {
                "attributes": {
                    "events-bulk-create": {
                        "data": [
                            {
                                "attributes": {
                                    "profile": event["profile"],
                                    "events": {"data": [{"attributes": event}, {"attributes": event}]},
                                }
                            }
                        ]
                    }
                }
            }
        },
        "/api/profile-import": mapped.refresh_body(),
    }
    method = "PATCH" if path.startswith("/api/profiles/") else "POST"
    found = observe(method, path, bodies.get(path, mapped.refresh_body()))
    assert [o.pointer for o in found] == pointers
    assert [o.index for o in found] == list(range(len(pointers)))
    assert all(o.member == mapped.member_id for o in found)
    if method == "PATCH":
        assert found[0].profile_ref == "01J0000000000000000000000"


def test_an_event_and_its_profile_become_an_event_then_a_refresh_in_the_story() -> None:
    body = map_event(_first("coupon_redeemed")).event_body()
    kinds = [(s.kind, s.pointer) for s in story(_traffic(_event(body)))]
    assert kinds == [("event", "/data/attributes"), ("refresh", "/data/attributes/profile/data/attributes")]


def test_the_decoder_reads_what_it_can_of_a_body_klaviyo_would_refuse() -> None:
    found = observe("POST", "/api/events", {"data": {"attributes": {"profile": {"data": {"attributes": 7}}}}})
    assert [o.kind for o in found] == ["profile", "event"] and found[1].metric is None
    assert observe("GET", "/api/events", None) == [] and observe("POST", "/api/lists", {}) == []


def test_observations_survive_a_round_trip_through_json() -> None:
    [block, event] = observe("POST", "/api/events", map_event(_first("app_opened")).event_body())
    assert Observation.from_dict(event.to_dict()) == event and Observation.from_dict(block.to_dict()) == block


def test_a_violation_names_the_offending_value_and_what_the_contract_expects() -> None:
    body = map_event(_first("transaction_created")).event_body()
    body["data"]["attributes"]["properties"]["venue_id"] = 17
    del body["data"]["attributes"]["properties"]["venue_name"]
    found = {v.pointer: v for v in verify(_traffic(_event(body))).violations}
    wrong = found["/data/attributes/properties/venue_id"]
    assert (wrong.value, wrong.expected) == (17, "string")
    missing = found["/data/attributes/properties/venue_name"]
    assert (missing.value, missing.expected) == ("(missing)", "present")
    assert 'value 17, expected "string"' in str(wrong)


def test_a_refresh_that_contradicts_its_event_shows_both_numbers() -> None:
    event = next(e for e in STREAM if e["kind"] == "wallet_credited" and e["data"]["wallet"]["is_primary"])
    body = map_event(event).event_body()
    properties = body["data"]["attributes"]["profile"]["data"]["attributes"]["properties"]
    properties["trifft_points"] += 1
    [violation] = verify(_traffic(_event(body))).violations
    assert violation.pointer == "/data/attributes/profile/data/attributes/properties/trifft_points"
    assert violation.value == properties["trifft_points"]
    assert violation.expected == event["data"]["wallet"]["points"] / 100
    assert violation.event_id == body["data"]["attributes"]["unique_id"]
    assert verify(_traffic(_event(body))).to_dict()["violations"][0]["event_id"] == violation.event_id
