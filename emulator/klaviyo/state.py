"""The state every front door of the fake Klaviyo serves from: the store, who may call, limits and faults."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from .faults import Faults
from .limits import RateLimiter
from .store import Store


@dataclass
class Emulator:
    """Everything the app serves from: the store, who may call, limits and faults. Shared by every front door."""

    store: Store = field(default_factory=Store)
    api_keys: frozenset[str] | None = None
    rate_limits: str | float = "klaviyo"
    faults: Faults = field(default_factory=Faults)
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep  # injected latency waits here; tests record it

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.rate_limits, self.clock)
        self.started = self.clock()
