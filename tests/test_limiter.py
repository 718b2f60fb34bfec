"""The client-side limiter on a fake clock: under Klaviyo's limits in every window, whatever its alignment."""

from __future__ import annotations

import asyncio
from bisect import bisect_left

import pytest

import contracts
from sync.limiter import Limiter, parse_rate_limits


class Clock:
    """A clock that only moves when the limiter sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        assert self.now + seconds > self.now, (
            f"a wait of {seconds} s does not move the clock: the limiter spins"
        )
        self.slept.append(seconds)
        self.now += seconds


def _most_in_any_window(stamps: list[float], width: float) -> int:
    return max(bisect_left(stamps, start + width) - i for i, start in enumerate(stamps))


@pytest.mark.parametrize("operation", ["bulk_create_events", "create_event", "create_or_update_profile"])
def test_requests_stay_under_the_steady_and_burst_limits_in_every_window(operation: str) -> None:
    clock = Clock()
    limiter = Limiter(1.0, clock=clock, sleep=clock.sleep)
    limits = contracts.klaviyo_operations()[operation]
    stamps = []

    async def hammer() -> None:
        for _ in range(3 * limits.steady_per_minute):
            await limiter.acquire(operation)
            stamps.append(clock.now)

    asyncio.run(hammer())
    assert _most_in_any_window(stamps, 60.0) <= limits.steady_per_minute
    assert _most_in_any_window(stamps, 1.0) <= limits.burst_per_second
    rate = len(stamps) / (stamps[-1] - stamps[0])
    assert rate >= 0.95 * limits.steady_per_minute / 60, "and not far below them"


def test_ready_waits_for_a_token_without_taking_it() -> None:
    clock = Clock()
    limiter = Limiter(1.0, clock=clock, sleep=clock.sleep)

    async def use() -> None:
        for _ in range(3):  # the bucket holds 2.5 bulk jobs: the third waits, and leaves it empty
            await limiter.acquire("bulk_create_events")
        empty = clock.now
        await limiter.ready("bulk_create_events")
        assert clock.now > empty, "ready waits for the next token"
        ready = clock.now
        await limiter.acquire("bulk_create_events")
        assert clock.now == ready, "and leaves it for the request"
        await limiter.acquire("bulk_create_events")
        assert clock.now > ready, "which took it"

    asyncio.run(use())


def test_no_limits_means_no_waits() -> None:
    clock = Clock()
    limiter = Limiter(None, clock=clock, sleep=clock.sleep)

    async def use() -> None:
        for _ in range(10_000):
            await limiter.acquire("bulk_create_events")
        await limiter.ready("bulk_create_events")

    asyncio.run(use())
    assert clock.slept == []


@pytest.mark.parametrize(
    ("mode", "factor"), [("klaviyo", 1.0), ("off", None), ("0.5", 0.5), ("10", 10.0), ("10x", 10.0)]
)
def test_a_rate_limit_mode_reads_as_a_factor(mode: str, factor: float | None) -> None:
    assert parse_rate_limits(mode) == factor


@pytest.mark.parametrize("mode", ["fast", "", "0", "-1", "nan", "inf", "Klaviyo"])
def test_a_rate_limit_mode_that_is_not_one_is_refused_by_name(mode: str) -> None:
    with pytest.raises(ValueError, match=repr(mode)):
        parse_rate_limits(mode)


@pytest.mark.parametrize("mode", ["klaviyo", "off", "0.1", "10x", "fast", "0", "nan"])
def test_the_sync_reads_a_mode_as_the_emulator_does(mode: str) -> None:
    from emulator.klaviyo.limits import parse_mode

    try:
        expected: float | str | None = parse_mode(mode)
    except ValueError as refused:
        expected = str(refused)
    try:
        got: float | str | None = parse_rate_limits(mode)
    except ValueError as refused:
        got = str(refused)
    assert got == expected
