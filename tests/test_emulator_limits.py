"""Rate limits on a fake clock: Klaviyo's fixed windows (burst per second, steady per minute), per account and
operation, with Klaviyo's real 429 body and an integer Retry-After."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from conftest import API_KEY, HEADERS

from emulator.klaviyo import Emulator, create_app
from emulator.klaviyo.server import InProcessTransport
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


# -- steady: per minute -------------------------------------------------------------------------------------------


# -- scope: per account, per operation ----------------------------------------------------------------------------


def test_resetting_one_account_restores_its_windows_only(limited: tuple[httpx.Client, Emulator]) -> None:
    http, _ = limited
    metrics(http, 11)
    metrics(http, 11, key=OTHER_KEY)
    http.post("/_emulator/reset", params={"account": account_id(OTHER_KEY)})
    assert http.get("/api/metrics", headers=keyed(OTHER_KEY)).status_code == 200
    assert http.get("/api/metrics").status_code == 429


# -- modes --------------------------------------------------------------------------------------------------------


# -- the published figures ----------------------------------------------------------------------------------------
