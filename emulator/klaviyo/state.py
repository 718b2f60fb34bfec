"""The state every front door of the fake Klaviyo serves from: the store, who may call, limits and faults."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from .faults import Faults
from .limits import RateLimiter
from .lists import OPT_IN_PROCESSES
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
    #: The account-level default opt-in process (``double_opt_in`` or ``single_opt_in``) for every account that
    #: has not set its own (``PUT /_emulator/opt-in``): it decides a subscription without a list, and a list
    #: created without ``opt_in_process``. Klaviyo's lists default to double opt-in (docs/emulator.md).
    opt_in: str = "double_opt_in"

    def __post_init__(self) -> None:
        if self.opt_in not in OPT_IN_PROCESSES:
            raise ValueError(f"opt_in must be one of {', '.join(OPT_IN_PROCESSES)}, not {self.opt_in!r}")
        self.limiter = RateLimiter(self.rate_limits, self.clock)
        self.started = self.clock()
