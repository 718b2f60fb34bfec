"""The verifier catches each way a producer can break the contract, names the rule, and passes a correct one."""

from __future__ import annotations

import asyncio
import copy
import json
import subprocess
import sys
from typing import Any
from xml.etree import ElementTree

import pytest

from contracts.verifier import junit
from emulator.pytest_plugin import KlaviyoEmulator
from emulator.trifft import generate
from sync import map_event
from sync.delivery import Syncer

STREAM = list(generate(400, seed=21, members=12))


def _first(kind: str, **where: Any) -> dict[str, Any]:
    for event in STREAM:
        if kind == "custom_webhook" and not event["member"]["email"]:
            continue  # its template would send "email": "", which Klaviyo refuses
        if event["kind"] == kind and all(event["data"].get(k) == v for k, v in where.items()):
            return copy.deepcopy(event)
    raise LookupError(kind)


def _post(emulator: KlaviyoEmulator, path: str, body: dict[str, Any]) -> None:
    with emulator.client() as client:
        response = client.post(path, json=body)
    assert response.status_code < 300, response.text


def _send_correctly(emulator: KlaviyoEmulator, event: dict[str, Any]) -> dict[str, Any]:
    body = map_event(event).event_body()
    _post(emulator, "/api/events", body)
    return body


def _rules(emulator: KlaviyoEmulator, **options: Any) -> set[str]:
    return {v.rule for v in emulator.verify(**options).violations}


def test_a_correct_producer_passes(klaviyo_emulator: KlaviyoEmulator) -> None:
    summary = asyncio.run(
        Syncer(klaviyo_emulator.url, klaviyo_emulator.api_key, rate_limits=None).run(STREAM)
    )
    # Only webhooks whose TRIFFT template renders "email": "" for a phone-only member are refused by Klaviyo.
    assert {dead.kind for dead in summary.dead} <= {"custom_webhook"} and not summary.pending
    report = klaviyo_emulator.verify()
    assert report.ok, report.text()
    assert report.requests > 0 and sum(report.metrics.values()) > 0


def test_an_event_without_a_refresh_is_caught(klaviyo_emulator: KlaviyoEmulator) -> None:
    body = map_event(_first("app_opened")).event_body()
    profile = body["data"]["attributes"]["profile"]["data"]["attributes"]
    body["data"]["attributes"]["profile"]["data"]["attributes"] = {"external_id": profile["external_id"]}
    _post(klaviyo_emulator, "/api/events", body)
    assert _rules(klaviyo_emulator) == {"refresh-follows-event"}


def test_a_refresh_sent_before_the_event_is_caught(klaviyo_emulator: KlaviyoEmulator) -> None:
    mapped = map_event(_first("language_changed"))
    _post(klaviyo_emulator, "/api/profile-import", mapped.refresh_body())
    body = mapped.event_body()
    body["data"]["attributes"]["profile"]["data"]["attributes"] = {"external_id": mapped.member_id}
    _post(klaviyo_emulator, "/api/events", body)
    violations = klaviyo_emulator.verify().violations
    assert [v.rule for v in violations] == ["refresh-follows-event"]
    assert "no profile refresh after Language changed" in violations[0].message


def test_a_misspelled_metric_name_is_caught(klaviyo_emulator: KlaviyoEmulator) -> None:
    body = map_event(_first("coupon_assigned")).event_body()
    body["data"]["attributes"]["metric"]["data"]["attributes"]["name"] = "Coupon Assigned"
    _post(klaviyo_emulator, "/api/events", body)
    [violation] = [v for v in klaviyo_emulator.verify().violations if v.rule == "metric-payload"]
    assert "'Coupon Assigned' is 'Coupon assigned' misspelled" in violation.message
    assert violation.pointer == "/data/attributes/metric/data/attributes/name"


def test_a_dropped_property_is_caught_at_its_pointer(klaviyo_emulator: KlaviyoEmulator) -> None:
    body = map_event(_first("transaction_created")).event_body()
    del body["data"]["attributes"]["properties"]["venue_name"]
    _post(klaviyo_emulator, "/api/events", body)
    [violation] = klaviyo_emulator.verify().violations
    assert violation.rule == "metric-payload"
    assert violation.pointer == "/data/attributes/properties/venue_name"


def test_an_unexpected_property_under_a_standard_metric_is_caught(klaviyo_emulator: KlaviyoEmulator) -> None:
    body = map_event(_first("wallet_debited")).event_body()
    body["data"]["attributes"]["properties"]["$value"] = 1.0
    _post(klaviyo_emulator, "/api/events", body)
    assert [v.pointer for v in klaviyo_emulator.verify().violations] == ["/data/attributes/properties/$value"]


def test_a_system_segment_event_is_caught(klaviyo_emulator: KlaviyoEmulator) -> None:
    event = _first("added_to_segment")
    event["data"].update(name="All members", slug="internal-all-members", type="INTERNAL", is_internal=False)
    _send_correctly(klaviyo_emulator, event)
    assert "no-system-segment" in _rules(klaviyo_emulator)


def test_a_refresh_after_a_custom_webhook_is_caught(klaviyo_emulator: KlaviyoEmulator) -> None:
    webhook = map_event(_first("custom_webhook"))
    assert webhook.webhook is not None
    _post(klaviyo_emulator, webhook.webhook.path, webhook.webhook.body)
    member = _first("custom_webhook")
    refresh = map_event(
        {**member, "kind": "app_opened", "data": {"app_version": "1", "app_platform": "ios", "timestamp": 1}}
    ).refresh_body()
    _post(klaviyo_emulator, "/api/profile-import", refresh)
    assert _rules(klaviyo_emulator) == {"webhook-no-refresh"}


def test_a_custom_event_carrying_trifft_properties_is_caught(klaviyo_emulator: KlaviyoEmulator) -> None:
    event = _first("custom_webhook")
    body = json.loads(event["data"]["rendered_body"])
    body["data"]["attributes"]["profile"]["data"]["attributes"]["properties"] = {"trifft_points": 3}
    _post(klaviyo_emulator, "/api/events", body)
    [violation] = klaviyo_emulator.verify().violations
    assert violation.rule == "webhook-no-refresh" and "trifft_points" in violation.message


def test_one_trifft_event_sent_twice_under_two_unique_ids_is_caught(
    klaviyo_emulator: KlaviyoEmulator,
) -> None:
    body = _send_correctly(klaviyo_emulator, _first("transaction_created"))
    body["data"]["attributes"]["unique_id"] = "a-fresh-id-on-retry"
    _post(klaviyo_emulator, "/api/events", body)
    assert _rules(klaviyo_emulator) == {"no-duplicate"}


def test_an_event_without_unique_id_is_caught(klaviyo_emulator: KlaviyoEmulator) -> None:
    body = map_event(_first("app_opened")).event_body()
    del body["data"]["attributes"]["unique_id"]
    _post(klaviyo_emulator, "/api/events", body)
    assert _rules(klaviyo_emulator) == {"no-duplicate"}


def test_the_same_event_retried_with_its_unique_id_is_fine(klaviyo_emulator: KlaviyoEmulator) -> None:
    event = _first("transaction_created")
    _send_correctly(klaviyo_emulator, event)
    _send_correctly(klaviyo_emulator, event)
    assert klaviyo_emulator.verify().ok


def test_a_trifft_id_that_is_not_the_external_id_is_caught(klaviyo_emulator: KlaviyoEmulator) -> None:
    body = map_event(_first("app_opened")).event_body()
    body["data"]["attributes"]["profile"]["data"]["attributes"]["properties"]["trifft_id"] = (
        "00000000-0000-4000-8000-000000000000"
    )
    _post(klaviyo_emulator, "/api/events", body)
    assert "identifiers" in _rules(klaviyo_emulator)


def test_an_external_id_that_is_not_a_member_uuid_is_caught(klaviyo_emulator: KlaviyoEmulator) -> None:
    body = map_event(_first("app_opened")).event_body()
    attributes = body["data"]["attributes"]["profile"]["data"]["attributes"]
    attributes["external_id"] = attributes.get("email", "member-42")
    _post(klaviyo_emulator, "/api/events", body)
    assert "identifiers" in _rules(klaviyo_emulator)


def test_a_refresh_that_contradicts_its_event_is_caught(klaviyo_emulator: KlaviyoEmulator) -> None:
    event = next(e for e in STREAM if e["kind"] == "wallet_credited" and e["data"]["wallet"]["is_primary"])
    body = map_event(event).event_body()
    body["data"]["attributes"]["profile"]["data"]["attributes"]["properties"]["trifft_points"] += 1
    _post(klaviyo_emulator, "/api/events", body)
    [violation] = klaviyo_emulator.verify().violations
    assert violation.rule == "refresh-follows-event" and "trifft_points" in violation.message


def test_an_incomplete_refresh_is_caught(klaviyo_emulator: KlaviyoEmulator) -> None:
    body = map_event(_first("app_opened")).event_body()
    del body["data"]["attributes"]["profile"]["data"]["attributes"]["properties"]["trifft_segments"]
    _post(klaviyo_emulator, "/api/events", body)
    [violation] = klaviyo_emulator.verify().violations
    assert violation.rule == "refresh-follows-event" and "trifft_segments" in violation.message


def test_missing_metrics_fail_only_when_all_are_required(klaviyo_emulator: KlaviyoEmulator) -> None:
    _send_correctly(klaviyo_emulator, _first("app_opened"))
    assert klaviyo_emulator.verify().ok
    report = klaviyo_emulator.verify(require_all_metrics=True)
    assert {v.rule for v in report.violations} == {"coverage"} and len(report.violations) == 14
    assert "Member verified" in report.missing_metrics()


def test_rejected_requests_are_not_judged(klaviyo_emulator: KlaviyoEmulator) -> None:
    body = map_event(_first("app_opened")).event_body()
    del body["data"]["attributes"]["metric"]
    with klaviyo_emulator.client() as client:
        assert client.post("/api/events", json=body).status_code == 400
    _send_correctly(klaviyo_emulator, _first("language_changed"))
    report = klaviyo_emulator.verify()
    assert report.ok and report.rejected == 1 and report.requests == 1


def test_the_junit_report_has_a_failing_case_per_broken_rule(
    klaviyo_emulator: KlaviyoEmulator, tmp_path: Any
) -> None:
    body = map_event(_first("app_opened")).event_body()
    del body["data"]["attributes"]["unique_id"]
    _post(klaviyo_emulator, "/api/events", body)
    path = tmp_path / "verdict.xml"
    junit(klaviyo_emulator.verify(), str(path))
    suite = ElementTree.parse(path).getroot()
    failed = [case.get("name") for case in suite if case.find("failure") is not None]
    assert failed == ["no-duplicate"] and suite.get("failures") == "1"


@pytest.mark.parametrize("broken", [False, True])
def test_the_verify_command_exits_1_on_violations_and_0_when_clean(
    klaviyo_emulator: KlaviyoEmulator, broken: bool, tmp_path: Any
) -> None:
    body = map_event(_first("app_opened")).event_body()
    if broken:
        del body["data"]["attributes"]["properties"]["app_version"]
    _post(klaviyo_emulator, "/api/events", body)
    report = tmp_path / "report.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "emulator.cli",
            "verify",
            "--base-url",
            klaviyo_emulator.url,
            "--api-key",
            klaviyo_emulator.api_key,
            "--json",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == (1 if broken else 0), done.stderr
    assert ("FAIL" if broken else "PASS") in done.stdout
    assert json.loads(report.read_text())["ok"] is (not broken)


def test_assert_contract_fails_when_nothing_arrived_unless_told_that_is_fine(
    klaviyo_emulator: KlaviyoEmulator,
) -> None:
    with pytest.raises(AssertionError, match="nothing was received for this API key"):
        klaviyo_emulator.assert_contract()
    assert klaviyo_emulator.assert_contract(allow_empty=True).ok


def test_assert_contract_s_message_fits_pytest(klaviyo_emulator: KlaviyoEmulator) -> None:
    for event in [e for e in STREAM if e["kind"] == "app_opened"][:25]:
        body = map_event(event).event_body()
        del body["data"]["attributes"]["unique_id"]
        _post(klaviyo_emulator, "/api/events", body)
    with pytest.raises(AssertionError) as failed:
        klaviyo_emulator.assert_contract()
    message = str(failed.value)
    assert "--json" not in message and "klaviyo_emulator.verify().violations has them all" in message
