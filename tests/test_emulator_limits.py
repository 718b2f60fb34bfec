"""Rate limits on a fake clock: Klaviyo's fixed windows (burst per second, steady per minute), per account and
operation, with Klaviyo's real 429 body and an integer Retry-After."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from conftest import API_KEY, HEADERS

from emulator.client import InProcessTransport
from emulator.klaviyo import Emulator, create_app, spec
from emulator.klaviyo.errors import Throttled
from emulator.klaviyo.limits import RateLimiter, parse_mode
from emulator.klaviyo.store import account_id

OTHER_KEY = "pk_other_account_0000000000000000042"
MINUTE = 1_780_000_020.0  # a minute boundary: 29,666,667 whole minutes since the epoch
LIMITS_DOC = "https://developers.klaviyo.com/en/docs/rate_limits_and_error_handling#rate-limits"

#: Burst per second and steady per minute for every operation, from the notes' §0 table (Klaviyo's published
#: x-klaviyo-ratelimit), written out here so a parsing slip in spec.py cannot agree with itself.
PUBLISHED = {
    "create_event": (350, 3500),
    "get_events": (350, 3500),
    "get_event": (10, 150),
    "bulk_create_events": (10, 150),
    "get_metrics": (10, 150),
    "get_metric": (10, 150),
    "create_or_update_profile": (75, 750),
    "create_profile": (75, 750),
    "get_profiles": (75, 750),
    "get_profile": (75, 750),
    "update_profile": (75, 750),
    "bulk_import_profiles": (10, 150),
    "get_bulk_import_profiles_job": (10, 150),
    "bulk_subscribe_profiles": (75, 750),
    "bulk_unsubscribe_profiles": (75, 750),
    "get_bulk_import_profiles_jobs": (10, 150),
    "get_errors_for_bulk_import_profiles_job": (10, 150),
    "get_profiles_for_bulk_import_profiles_job": (10, 150),
    "get_list_for_bulk_import_profiles_job": (10, 150),
    "create_list": (10, 150),
    "get_list": (75, 750),
    "get_profiles_for_list": (75, 750),
}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(MINUTE + 0.25)


@pytest.fixture
def limited(clock: Clock) -> Iterator[tuple[httpx.Client, Emulator]]:
    """A client into an emulator with Klaviyo's limits, on ``clock``."""
    emulator = Emulator(rate_limits="klaviyo", clock=clock)
    transport = InProcessTransport(create_app(emulator))
    with httpx.Client(transport=transport, base_url="http://klaviyo.test", headers=HEADERS) as http:
        yield http, emulator


def keyed(key: str) -> dict[str, str]:
    return {**HEADERS, "Authorization": f"Klaviyo-API-Key {key}"}


def metrics(http: httpx.Client, times: int, key: str = API_KEY) -> list[httpx.Response]:
    return [http.get("/api/metrics", headers=keyed(key)) for _ in range(times)]


# -- burst: per second --------------------------------------------------------------------------------------------


def test_the_request_after_the_burst_in_one_second_is_throttled(
    limited: tuple[httpx.Client, Emulator],
) -> None:
    http, _ = limited
    passed = metrics(http, 10)
    throttled = http.get("/api/metrics")
    assert [r.status_code for r in passed] == [200] * 10
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "1"


def test_a_throttled_response_has_klaviyos_429_body(limited: tuple[httpx.Client, Emulator]) -> None:
    http, _ = limited
    metrics(http, 10)
    throttled = http.get("/api/metrics")
    [error] = throttled.json()["errors"]
    assert throttled.headers["content-type"] == "application/vnd.api+json"
    assert error["status"] == 429
    assert error["code"] == "throttled"
    assert error["title"] == "Request was throttled."
    assert error["detail"] == "Request was throttled. Expected available in 1 second."
    assert error["source"] == {"pointer": "/data/"}
    assert error["links"] == {"type": LIMITS_DOC}
    assert error["meta"] == {}
    assert len(error["id"]) == 36
    assert "RateLimit-Limit" not in throttled.headers


def test_retry_after_is_a_whole_second_even_a_millisecond_before_the_window_ends(
    limited: tuple[httpx.Client, Emulator], clock: Clock
) -> None:
    http, _ = limited
    clock.now = MINUTE + 0.999
    metrics(http, 10)
    assert http.get("/api/metrics").headers["Retry-After"] == "1"


def test_the_next_second_opens_a_new_burst_window(
    limited: tuple[httpx.Client, Emulator], clock: Clock
) -> None:
    http, _ = limited
    metrics(http, 11)
    clock.now += 1
    assert [r.status_code for r in metrics(http, 10)] == [200] * 10
    assert http.get("/api/metrics").status_code == 429


# -- steady: per minute -------------------------------------------------------------------------------------------


def test_the_request_after_the_steady_limit_in_one_minute_waits_for_the_minute_to_end(
    limited: tuple[httpx.Client, Emulator], clock: Clock
) -> None:
    http, _ = limited
    statuses = []
    for second in range(15):  # 15 x 10 = 150, get_metrics' steady limit, never more than 10 in a second
        clock.now = MINUTE + second + 0.5
        statuses += [r.status_code for r in metrics(http, 10)]
    assert statuses == [200] * 150
    clock.now = MINUTE + 15.5
    throttled = http.get("/api/metrics")
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "45"
    assert (
        throttled.json()["errors"][0]["detail"] == "Request was throttled. Expected available in 45 seconds."
    )
    clock.now = MINUTE + 60
    assert http.get("/api/metrics").status_code == 200


def test_success_carries_the_steady_window_in_ratelimit_headers(
    limited: tuple[httpx.Client, Emulator], clock: Clock
) -> None:
    http, _ = limited
    clock.now = MINUTE + 20.4
    first, second = metrics(http, 2)
    assert first.headers["RateLimit-Limit"] == "150"
    assert first.headers["RateLimit-Remaining"] == "149"
    assert second.headers["RateLimit-Remaining"] == "148"
    assert first.headers["RateLimit-Reset"] == "40"  # seconds until the minute window resets


def test_a_rejected_request_counts_and_carries_the_headers_too(
    limited: tuple[httpx.Client, Emulator],
) -> None:
    http, _ = limited
    invalid = http.get("/api/metrics", params={"page[cursor]": "nonsense"})
    assert invalid.status_code == 400
    assert invalid.headers["RateLimit-Remaining"] == "149"


# -- scope: per account, per operation ----------------------------------------------------------------------------


def test_another_key_has_its_own_windows(limited: tuple[httpx.Client, Emulator]) -> None:
    http, _ = limited
    metrics(http, 11)
    assert http.get("/api/metrics").status_code == 429
    assert [r.status_code for r in metrics(http, 10, key=OTHER_KEY)] == [200] * 10


def test_another_operation_has_its_own_windows(limited: tuple[httpx.Client, Emulator]) -> None:
    http, _ = limited
    metrics(http, 11)
    assert http.get("/api/metrics").status_code == 429
    assert http.get("/api/events").status_code == 200
    assert http.get("/api/profiles").status_code == 200


def test_resetting_one_account_restores_its_windows_only(limited: tuple[httpx.Client, Emulator]) -> None:
    http, _ = limited
    metrics(http, 11)
    metrics(http, 11, key=OTHER_KEY)
    http.post("/_emulator/reset", params={"account": account_id(OTHER_KEY)})
    assert http.get("/api/metrics", headers=keyed(OTHER_KEY)).status_code == 200
    assert http.get("/api/metrics").status_code == 429


def test_throttled_requests_are_logged_and_counted(limited: tuple[httpx.Client, Emulator]) -> None:
    http, _ = limited
    metrics(http, 12)
    logged = http.get("/_emulator/requests", params={"status": 429}).json()["data"]
    assert len(logged) == 2
    assert logged[0]["errors"][0]["code"] == "throttled"
    assert logged[0]["fault"] is None  # Klaviyo's limit, not an injected fault
    assert http.get("/_emulator/rate-limits").json() == {"mode": "klaviyo", "throttled": 2}


# -- modes --------------------------------------------------------------------------------------------------------


def test_mode_off_never_throttles() -> None:
    emulator = Emulator(rate_limits="off", clock=Clock(MINUTE))
    with httpx.Client(
        transport=InProcessTransport(create_app(emulator)), base_url="http://klaviyo.test", headers=HEADERS
    ) as http:
        responses = metrics(http, 200)
    assert {r.status_code for r in responses} == {200}
    assert "RateLimit-Limit" not in responses[0].headers


def test_a_factor_scales_burst_and_steady() -> None:
    emulator = Emulator(rate_limits="0.1", clock=Clock(MINUTE))
    with httpx.Client(
        transport=InProcessTransport(create_app(emulator)), base_url="http://klaviyo.test", headers=HEADERS
    ) as http:
        passed = [http.get("/api/events") for _ in range(35)]
        throttled = http.get("/api/events")
    assert {r.status_code for r in passed} == {200}
    assert passed[0].headers["RateLimit-Limit"] == "350"
    assert throttled.status_code == 429


def test_the_mode_changes_at_run_time(limited: tuple[httpx.Client, Emulator]) -> None:
    http, _ = limited
    metrics(http, 11)
    assert http.put("/_emulator/rate-limits", content="off").json()["mode"] == "off"
    assert http.get("/api/metrics").status_code == 200
    assert http.put("/_emulator/rate-limits", content="klaviyo").json()["mode"] == "klaviyo"
    assert http.get("/api/metrics").status_code == 429


@pytest.mark.parametrize(
    ("mode", "factor"), [("klaviyo", 1.0), ("off", None), ("0.1", 0.1), ("10", 10.0), ("10x", 10.0), (2, 2.0)]
)
def test_a_mode_reads_as_a_factor(mode: str | float, factor: float | None) -> None:
    assert parse_mode(mode) == factor


@pytest.mark.parametrize("mode", ["fast", "", "0", "-1", "nan", "inf", "Klaviyo"])
def test_a_mode_that_is_not_one_is_refused_by_name(mode: str) -> None:
    with pytest.raises(ValueError, match=repr(mode)):
        parse_mode(mode)


# -- the published figures ----------------------------------------------------------------------------------------


def test_every_operation_has_published_figures() -> None:
    assert {op.operation_id for op in spec.operations()} == set(PUBLISHED)


@pytest.mark.parametrize(("operation_id", "figures"), PUBLISHED.items())
def test_each_operation_allows_its_published_burst_and_steady_rate(
    operation_id: str, figures: tuple[int, int]
) -> None:
    burst, steady = figures
    clock = Clock(MINUTE)
    limiter = RateLimiter("klaviyo", clock)
    operation = spec.operation(operation_id)
    passed = 0
    for second in range(60):
        clock.now = MINUTE + second
        for _ in range(burst):
            try:
                headers = limiter.check("account", operation)
            except Throttled:
                break
            passed += 1
            assert headers["RateLimit-Limit"] == str(steady)
        else:
            with pytest.raises(Throttled):  # one more in this second: over the burst
                limiter.check("account", operation)
        if passed == steady:
            break
    assert passed == steady
    with pytest.raises(Throttled) as over:
        limiter.check("account", operation)
    assert int(over.value.headers["Retry-After"]) == 60 - second


@pytest.mark.parametrize(
    ("path", "body", "burst"),
    [
        ("/api/events", {}, 350),
        ("/api/event-bulk-create-jobs", {}, 10),
        ("/api/profile-import", {}, 75),
    ],
)
def test_the_burst_over_http_matches_the_published_figure(
    limited: tuple[httpx.Client, Emulator], path: str, body: object, burst: int
) -> None:
    http, _ = limited
    statuses = [http.post(path, json=body).status_code for _ in range(burst + 1)]
    assert statuses[:burst] == [400] * burst  # invalid bodies, but counted, as every authenticated request is
    assert statuses[burst] == 429


# -- what the dashboard reads: the use of the current windows ----------------------------------------------------


def test_usage_is_the_current_second_its_busiest_of_the_minute_and_the_minute(
    limited: tuple[httpx.Client, Emulator], clock: Clock
) -> None:
    http, emulator = limited
    metrics(http, 12)  # 10 let through, 2 throttled (not counted)
    clock.now += 1
    metrics(http, 3)
    metrics(http, 1, key=OTHER_KEY)
    [mine] = emulator.limiter.usage(account_id(API_KEY))
    assert (mine.operation, mine.in_second, mine.peak_second, mine.in_minute) == ("get_metrics", 3, 10, 13)
    assert {u.account for u in emulator.limiter.usage()} == {account_id(API_KEY), account_id(OTHER_KEY)}
    clock.now += 1  # a new second: nothing used in it yet, the minute goes on
    [mine] = emulator.limiter.usage(account_id(API_KEY))
    assert (mine.in_second, mine.peak_second, mine.in_minute) == (0, 10, 13)
    clock.now += 60  # a new minute: the old windows are not current
    assert emulator.limiter.usage() == []


# -- RateLimit-* headers ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", "/api/profiles", {"Authorization": ""}, 401),
        ("GET", "/api/profiles", {"revision": "2024-10-15"}, 410),
        ("GET", "/api/profiles", {"revision": "2026-07-14"}, 400),
        ("GET", "/api/profiles", {"revision": ""}, 400),
        ("GET", "/api/profiles/01HZZZZZZZZZZZZZZZZZZZZZZZ", {}, 404),
        ("GET", "/api/no-such-thing", {}, 404),
        ("DELETE", "/api/profiles", {}, 405),
        ("GET", "/api/profiles", {}, 200),
    ],
    ids=[
        "401",
        "retired-revision",
        "no-such-revision",
        "empty-revision",
        "unknown-id",
        "unknown-path",
        "405",
        "200",
    ],
)
def test_every_answer_but_a_429_carries_the_rate_limit_headers(
    limited: tuple[httpx.Client, Emulator], method: str, path: str, headers: dict[str, str], status: int
) -> None:
    # LIMITS_DOC: non-429 responses carry RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset.
    http, _ = limited
    response = http.request(method, path, headers=headers)
    assert response.status_code == status, response.text
    for name in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"):
        assert response.headers[name].isdigit(), (name, response.headers)


def test_an_uncounted_answer_reports_the_window_without_taking_from_it(
    limited: tuple[httpx.Client, Emulator],
) -> None:
    http, _ = limited
    counted = http.get("/api/profiles")
    refused = http.get("/api/profiles", headers={"revision": "2024-10-15"})
    again = http.get("/api/profiles")
    assert counted.headers["RateLimit-Limit"] == refused.headers["RateLimit-Limit"] == "750"
    assert int(refused.headers["RateLimit-Remaining"]) == int(counted.headers["RateLimit-Remaining"])
    assert int(again.headers["RateLimit-Remaining"]) == int(counted.headers["RateLimit-Remaining"]) - 1
