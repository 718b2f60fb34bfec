"""The dashboard's charts as JSON, on a fake clock: requests by status class and events by metric in buckets of
arrival time, and each endpoint's use of its rate limits in the current windows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import HEADERS

import contracts
from emulator.client import InProcessTransport
from emulator.dashboard import _charts
from emulator.klaviyo import Emulator
from emulator.klaviyo.store import account_id
from emulator.server import create_app

KEY = "pk_test_charts_000000000001"
OTHER_KEY = "pk_test_charts_000000000002"
START = 1_780_000_020.0  # a minute boundary


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _event(metric: str, email: str, time: str | None = None) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "properties": {},
        "metric": {"data": {"type": "metric", "attributes": {"name": metric}}},
        "profile": {"data": {"type": "profile", "attributes": {"email": email}}},
    }
    if time:
        attributes["time"] = time
    return {"data": {"type": "event", "attributes": attributes}}


def _keyed(key: str) -> dict[str, str]:
    return {**HEADERS, "Authorization": f"Klaviyo-API-Key {key}"}


@pytest.fixture
def clock() -> Clock:
    return Clock(START + 0.5)


@pytest.fixture
def served(clock: Clock) -> Iterator[tuple[Emulator, httpx.Client]]:
    emulator = Emulator(rate_limits="klaviyo", clock=clock)
    with httpx.Client(transport=InProcessTransport(create_app(emulator)), base_url="http://k.test") as http:
        yield emulator, http


def _charts_of(http: httpx.Client, **params: str) -> dict[str, Any]:
    answer = http.get("/_emulator/dashboard/charts", params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_requests_are_counted_by_status_class_in_the_second_they_arrived(
    served: tuple[Emulator, httpx.Client], clock: Clock
) -> None:
    emulator, http = served
    assert (
        http.post("/api/events", json=_event("App opened", "a@x.io"), headers=_keyed(KEY)).status_code == 202
    )
    clock.now += 2
    assert http.post("/api/events", json={"data": {}}, headers=_keyed(KEY)).status_code == 400
    assert http.get("/api/metrics", headers={**_keyed(KEY), "revision": "1999-01-01"}).status_code == 410
    emulator.limiter.set_mode("0.001")  # one request a second, one a minute
    statuses = [http.get("/api/metrics", headers=_keyed(KEY)).status_code for _ in range(3)]
    assert statuses == [200, 429, 429]
    emulator.limiter.set_mode("off")
    assert http.put("/_emulator/faults", content="5xx=1,seed=1").status_code == 200
    clock.now += 5
    assert http.get("/api/metrics", headers=_keyed(KEY)).status_code >= 500
    charts = _charts_of(http, key=KEY)
    span = charts["range"]
    assert (span["name"], span["width"], span["count"]) == ("1m", 1, 60)
    assert span["start"] <= START < span["start"] + 60 and span["start"] + 60 > clock.now
    at = int(START - span["start"])  # the bucket of the first request
    series = charts["requests"]
    assert {name: sum(counts) for name, counts in series.items()} == {
        "2xx": 2,
        "4xx": 2,
        "429": 2,
        "5xx": 0,
        "fault": 1,
    }
    assert (series["2xx"][at], series["4xx"][at + 2], series["429"][at + 2], series["fault"][at + 7]) == (
        1,
        2,
        2,
        1,
    )


def test_events_are_counted_by_account_and_metric_when_they_arrived(
    served: tuple[Emulator, httpx.Client], clock: Clock
) -> None:
    _, http = served
    emulator_time = "2020-01-01T00:00:00Z"  # the event's own time does not place it: its arrival does
    for email in ("a@x.io", "b@x.io"):
        http.post("/api/events", json=_event("App opened", email, emulator_time), headers=_keyed(KEY))
    clock.now += 30
    http.post("/api/events", json=_event("App opened", "a@x.io"), headers=_keyed(OTHER_KEY))
    http.post("/api/events", json=_event("Wallet credited", "a@x.io"), headers=_keyed(KEY))
    everyone = _charts_of(http)["events"]
    assert [(s["account"], s["metric"], s["total"]) for s in everyone] == [
        (account_id(KEY), "App opened", 2),
        (account_id(OTHER_KEY), "App opened", 1),
        (account_id(KEY), "Wallet credited", 1),
    ]
    mine = _charts_of(http, key=KEY)
    [opened, credited] = mine["events"]
    start = mine["range"]["start"]
    assert opened["counts"][int(START - start)] == 2 and credited["counts"][int(START + 30 - start)] == 1


def test_the_range_is_the_shortest_that_holds_the_first_request_or_all_of_it(
    served: tuple[Emulator, httpx.Client], clock: Clock
) -> None:
    _, http = served
    assert _charts_of(http)["range"]["name"] == "1m"  # no traffic yet
    http.get("/api/metrics", headers=_keyed(KEY))
    clock.now += 400
    assert _charts_of(http)["range"]["name"] == "15m"
    assert _charts_of(http, range="5m")["requests"]["2xx"] == [0] * 60  # asked for less: outside it
    clock.now += 3 * 86400
    whole = _charts_of(http)["range"]
    assert (whole["name"], whole["width"]) == ("all", 7200)
    assert whole["start"] <= START and whole["count"] * whole["width"] >= clock.now - START
    assert sum(_charts_of(http, range="all")["requests"]["2xx"]) == 1


def test_each_endpoint_shows_its_limits_and_their_use_in_the_current_windows(
    served: tuple[Emulator, httpx.Client], clock: Clock
) -> None:
    _, http = served
    for _ in range(3):
        http.get("/api/metrics", headers=_keyed(KEY))
    clock.now += 1
    http.get("/api/metrics", headers=_keyed(KEY))
    for _ in range(5):
        http.get("/api/metrics", headers=_keyed(OTHER_KEY))
    limits = _charts_of(http, key=KEY)["limits"]
    assert limits["mode"] == "klaviyo" and len(limits["rows"]) == len(contracts.klaviyo_operations())
    rows = {row["operation"]: row for row in limits["rows"]}
    assert rows["get_metrics"]["burst"] == {"limit": 10, "now": 1, "peak": 3}
    assert rows["get_metrics"]["steady"] == {"limit": 150, "used": 4}
    assert rows["create_event"]["steady"] == {"limit": 3500, "used": 0}
    # every account at once: the one nearest a limit stands for the endpoint, and says so
    busiest = {row["operation"]: row for row in _charts_of(http)["limits"]["rows"]}["get_metrics"]
    assert (busiest["account"], busiest["burst"]["peak"], busiest["steady"]["used"]) == (
        account_id(OTHER_KEY),
        5,
        5,
    )
    clock.now += 60
    assert {row["operation"]: row for row in _charts_of(http)["limits"]["rows"]}["get_metrics"][
        "account"
    ] is None


@pytest.mark.parametrize("asked", ["7m", "ALL", "%ED%A0%80", "1m;drop"])
def test_a_range_that_is_not_one_is_a_400_naming_it(
    served: tuple[Emulator, httpx.Client], asked: str
) -> None:
    _, http = served
    answer = http.get(f"/_emulator/dashboard/charts?range={asked}")
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["detail"].startswith("range")


def test_every_named_range_is_sixty_buckets_ending_after_now() -> None:
    for name, (seconds, _) in _charts.RANGES.items():
        span = _charts.window(name, START + 1234.5, None)
        assert span["count"] * span["width"] == seconds
        assert (
            span["start"] <= START + 1234.5 - seconds + span["width"] and span["start"] % span["width"] == 0
        )
