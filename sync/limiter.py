"""A client-side rate limiter that keeps under Klaviyo's published limits without a single 429.

A token bucket per operation refilled at 97% of the steady rate, holding one second's worth: in any minute it
lets through at most ~99% of the steady limit and never more than the burst limit in a second, whatever the
alignment of Klaviyo's fixed windows, so the sync runs at the ceiling those limits allow.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable

import contracts

HEADROOM = 0.97


def parse_rate_limits(text: str) -> float | None:
    """The factor ``--rate-limits`` asks for: ``klaviyo`` (1.0), ``off`` (None), or a positive factor (``0.5``).

    The sync's own reading of the flag, so the sync does not depend on the emulator; it reads modes as the
    emulator's ``--rate-limits`` does, so one value means the same on both sides. ValueError names a bad value.
    """
    if text == "klaviyo":
        return 1.0
    if text == "off":
        return None
    try:
        factor = float(text.removesuffix("x"))
    except ValueError:
        raise ValueError(
            f"rate-limit mode must be klaviyo, off or a positive factor like 0.5, not {text!r}"
        ) from None
    if factor <= 0 or not math.isfinite(factor):
        raise ValueError(f"rate-limit factor must be positive, not {text!r}")
    return factor


class _Bucket:
    def __init__(self, per_second: float, capacity: float, clock: Callable[[], float]) -> None:
        self.rate, self.capacity, self.clock = per_second, capacity, clock
        self.tokens, self.stamp = capacity, clock()

    def wait_time(self, take: bool = True) -> float:
        """Seconds until a token is free (0: free now, and taken unless ``take`` is False)."""
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        # Within rounding of a whole token counts as one: else a wait of 1e-14 s may not move the clock at all
        # and the caller spins.
        if self.tokens >= 1 - 1e-9:
            if take:
                self.tokens = max(0.0, self.tokens - 1)
            return 0.0
        return (1 - self.tokens) / self.rate


class Limiter:
    """``await limiter.acquire("create_event")`` before each request. ``factor`` scales (None: no limits)."""

    def __init__(
        self,
        factor: float | None = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.factor, self.clock, self.sleep = factor, clock, sleep
        self._buckets: dict[str, _Bucket] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def rate(self, operation_id: str) -> float:
        """Requests per second this limiter allows for an operation."""
        op = contracts.klaviyo_operations()[operation_id]
        return HEADROOM * op.steady_per_minute / 60 * (self.factor or 1.0)

    async def acquire(self, operation_id: str) -> None:
        await self._wait(operation_id, take=True)

    async def ready(self, operation_id: str) -> None:
        """Wait until a request of this operation could go out, without taking its token."""
        await self._wait(operation_id, take=False)

    async def _wait(self, operation_id: str, take: bool) -> None:
        if self.factor is None:
            return
        bucket = self._buckets.get(operation_id)
        if bucket is None:
            rate = self.rate(operation_id)
            bucket = self._buckets[operation_id] = _Bucket(rate, max(1.0, rate / HEADROOM), self.clock)
            self._locks[operation_id] = asyncio.Lock()
        async with self._locks[operation_id]:
            wait = bucket.wait_time(take)
            while wait > 0:
                await self.sleep(wait)
                wait = bucket.wait_time(take)
