"""Fault injection: reproducible with a seed, 5xx before any write, 5xx_after after it, per-operation rules,
latency, and run-time control through /_emulator/faults."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import HEADERS

from emulator.client import InProcessTransport
from emulator.klaviyo import Emulator, Faults, create_app


def event(n: int) -> dict[str, Any]:
    return {
        "data": {
            "type": "event",
            "attributes": {
                "properties": {"n": n},
                "unique_id": f"event-{n}",
                "metric": {"data": {"type": "metric", "attributes": {"name": "Points Earned"}}},
                "profile": {"data": {"type": "profile", "attributes": {"email": f"m{n}@example.com"}}},
            },
        }
    }


def profile(n: int) -> dict[str, Any]:
    return {"data": {"type": "profile", "attributes": {"email": f"p{n}@example.com"}}}


class Sleeps:
    """Stands in for asyncio.sleep: records each injected wait instead of waiting."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


def connect(emulator: Emulator) -> httpx.Client:
    transport = InProcessTransport(create_app(emulator))
    return httpx.Client(transport=transport, base_url="http://klaviyo.test", headers=HEADERS)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def faulty(sleeps: Sleeps) -> Iterator[httpx.Client]:
    """A client into an emulator with no faults yet (set them with PUT /_emulator/faults) and recorded sleeps."""
    with connect(Emulator(rate_limits="off", sleep=sleeps)) as http:
        yield http


def set_faults(http: httpx.Client, spec: str) -> None:
    response = http.put("/_emulator/faults", content=spec)
    assert response.status_code == 200, response.text


def stored(http: httpx.Client) -> tuple[int, int]:
    """How many events and profiles a client can read back (with faults off)."""
    set_faults(http, "")
    events = http.get("/api/events", params={"page[size]": 100}).json()["data"]
    profiles = http.get("/api/profiles", params={"page[size]": 100}).json()["data"]
    return len(events), len(profiles)


def statuses_for(spec: str, count: int = 60) -> list[int]:
    with connect(Emulator(rate_limits="off", faults=Faults.parse(spec))) as http:
        return [http.post("/api/events", json=event(n)).status_code for n in range(count)]


# -- reproducible -------------------------------------------------------------------------------------------------


def test_the_same_seed_and_requests_give_the_same_statuses() -> None:
    spec = "5xx=0.2,429=0.1,5xx_after=0.1,seed=11"
    first, second = statuses_for(spec), statuses_for(spec)
    assert first == second
    assert {202, 429, 500} <= set(first)


def test_another_seed_gives_other_statuses() -> None:
    assert statuses_for("5xx=0.3,seed=1") != statuses_for("5xx=0.3,seed=2")


def test_putting_the_same_faults_again_replays_the_same_statuses(faulty: httpx.Client) -> None:
    runs = []
    for _ in range(2):
        set_faults(faulty, "5xx=0.3,429=0.2,seed=5")
        runs.append([faulty.post("/api/events", json=event(n)).status_code for n in range(30)])
    assert runs[0] == runs[1]


# -- what each fault does -----------------------------------------------------------------------------------------


def test_a_5xx_fault_never_changes_state(faulty: httpx.Client) -> None:
    set_faults(faulty, "5xx=1,seed=3")
    answers = [faulty.post("/api/events", json=event(n)) for n in range(10)]
    answers += [faulty.post("/api/profile-import", json=profile(n)) for n in range(10)]
    assert all(r.status_code >= 500 for r in answers)
    assert stored(faulty) == (0, 0)


def test_a_5xx_after_fault_changes_state_then_answers_500(faulty: httpx.Client) -> None:
    set_faults(faulty, "5xx_after=1")
    event_answer = faulty.post("/api/events", json=event(1))
    profile_answer = faulty.post("/api/profile-import", json=profile(1))
    assert (event_answer.status_code, profile_answer.status_code) == (500, 500)
    assert event_answer.json()["errors"][0]["status"] == 500
    assert stored(faulty) == (1, 2)  # the event's profile and the imported one
    logged = faulty.get("/_emulator/requests", params={"status": 500}).json()["data"]
    assert [row["fault"] for row in logged] == ["500 after processing"] * 2


def test_a_retried_5xx_after_event_is_deduplicated_not_doubled(faulty: httpx.Client) -> None:
    set_faults(faulty, "5xx_after=1")
    assert faulty.post("/api/events", json=event(1)).status_code == 500
    set_faults(faulty, "")
    assert faulty.post("/api/events", json=event(1)).status_code == 202
    assert stored(faulty) == (1, 1)
    [note] = [n for n in faulty.get("/_emulator/ledger").json()["data"] if n["kind"] == "event_deduplicated"]
    assert note["details"]["unique_id"] == "event-1"


def test_every_5xx_status_occurs_and_only_the_502_is_html(faulty: httpx.Client) -> None:
    set_faults(faulty, "5xx=1,seed=8")
    answers = [faulty.post("/api/events", json=event(n)) for n in range(40)]
    assert {r.status_code for r in answers} == {500, 502, 503, 504}
    for answer in answers:
        if answer.status_code == 502:
            assert answer.headers["content-type"].startswith("text/html")
            assert answer.text.startswith("<html>")
        else:
            assert answer.headers["content-type"] == "application/vnd.api+json"
            assert answer.json()["errors"][0]["status"] == answer.status_code


def test_a_429_fault_carries_retry_after_and_the_throttled_body(faulty: httpx.Client) -> None:
    set_faults(faulty, "429=1")
    answer = faulty.post("/api/events", json=event(1))
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "1"
    assert answer.json()["errors"][0]["code"] == "throttled"
    assert faulty.get("/_emulator/requests").json()["data"][0]["fault"] == "429"
    assert stored(faulty) == (0, 0)


def test_latency_is_applied_to_every_request(faulty: httpx.Client, sleeps: Sleeps) -> None:
    set_faults(faulty, "latency_ms=20")
    assert faulty.post("/api/events", json=event(1)).status_code == 202
    assert faulty.get("/api/events").status_code == 200
    assert sleeps.seconds == [0.02, 0.02]


def test_a_rule_for_one_operation_hits_that_operation_only(faulty: httpx.Client) -> None:
    set_faults(faulty, "create_event:5xx=1")
    events = [faulty.post("/api/events", json=event(n)).status_code for n in range(10)]
    imports = [faulty.post("/api/profile-import", json=profile(n)).status_code for n in range(10)]
    reads = [faulty.get("/api/events").status_code for _ in range(10)]
    assert all(status >= 500 for status in events)
    assert set(imports) == {201}
    assert set(reads) == {200}


def test_a_rule_for_one_operation_keeps_the_other_default_keys(faulty: httpx.Client, sleeps: Sleeps) -> None:
    set_faults(faulty, "latency_ms=7,create_event:5xx=1,5xx=0")
    assert faulty.post("/api/events", json=event(1)).status_code >= 500
    assert faulty.post("/api/profile-import", json=profile(1)).status_code == 201
    assert sleeps.seconds == [0.007, 0.007]


def test_the_injected_count_is_reported(faulty: httpx.Client) -> None:
    set_faults(faulty, "5xx=1")
    for n in range(3):
        faulty.post("/api/events", json=event(n))
    assert faulty.get("/_emulator/faults").json()["injected"] == 3


# -- control ------------------------------------------------------------------------------------------------------


def test_get_faults_shows_what_was_put(faulty: httpx.Client) -> None:
    set_faults(faulty, "5xx=0.1,429=0.05,latency_ms=20,seed=1,create_event:5xx=0.5")
    shown = faulty.get("/_emulator/faults").json()
    assert shown["seed"] == 1
    assert shown["default"] == {
        "server_error": 0.1,
        "server_error_after": 0.0,
        "throttle": 0.05,
        "latency_ms": 20,
    }
    assert shown["per_operation"] == {
        "create_event": {"server_error": 0.5, "server_error_after": 0.0, "throttle": 0.05, "latency_ms": 20}
    }


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("5xx", "fault '5xx' needs a value"),
        ("5xx=abc", "fault '5xx=abc'"),
        ("5xx=1.5", "fault '5xx=1.5': a probability goes from 0 to 1"),
        ("boom=0.1", "fault 'boom=0.1': unknown fault 'boom'"),
        ("latency_ms=-1", "fault 'latency_ms=-1'"),
        ("latency_ms=nan", "fault 'latency_ms=nan'"),
        ("latency_ms=inf", "fault 'latency_ms=inf'"),
        ("create_evnt:5xx=0.5", "fault 'create_evnt:5xx=0.5': no operation is called 'create_evnt'"),
        ("seed=x", "fault 'seed=x'"),
        ("5xx=0.7,429=0.7", "add up to 1.4"),
        ("5xx=0.5,create_event:5xx_after=0.6", "for create_event add up to 1.1"),
    ],
)
def test_a_bad_fault_spec_is_a_400_naming_the_item(faulty: httpx.Client, spec: str, says: str) -> None:
    set_faults(faulty, "5xx=0.25")
    refused = faulty.put("/_emulator/faults", content=spec)
    assert refused.status_code == 400
    assert says in refused.json()["errors"][0]["detail"]
    assert faulty.get("/_emulator/faults").json()["default"]["server_error"] == 0.25


def test_an_empty_spec_turns_faults_off(faulty: httpx.Client) -> None:
    set_faults(faulty, "5xx=1")
    set_faults(faulty, "")
    assert faulty.post("/api/events", json=event(1)).status_code == 202
