"""Seeded, reproducible fault injection: ``5xx=0.1,429=0.05,latency_ms=20,seed=1``.

Keys: ``5xx`` (a 500, 502, 503 or 504 before anything is written; the 502 has an HTML body, as a gateway sends),
``5xx_after`` (the request is processed and committed, then answered with a 500: what makes retries dangerous),
``429`` (throttled, ``Retry-After: 1``), ``latency_ms``. Prefix a key with an operation id to aim it at one
endpoint: ``create_event:5xx=0.5``. The same seed and the same request order give the same faults.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any

KEYS = {
    "5xx": "server_error",
    "5xx_after": "server_error_after",
    "429": "throttle",
    "latency_ms": "latency_ms",
}


@dataclass
class Rule:
    server_error: float = 0.0
    server_error_after: float = 0.0
    throttle: float = 0.0
    latency_ms: float = 0.0


@dataclass
class Decision:
    status: int | None = None  # answer with this instead of processing
    after: bool = False  # process, then answer 500
    latency_ms: float = 0.0


@dataclass
class Faults:
    default: Rule = field(default_factory=Rule)
    per_operation: dict[str, Rule] = field(default_factory=dict)
    seed: int | None = None
    injected: int = 0

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    @classmethod
    def parse(cls, text: str) -> Faults:
        """Parse the ``--faults`` syntax; ValueError names the item that is wrong."""
        faults = cls()
        for item in (part.strip() for part in text.split(",") if part.strip()):
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"fault {item!r} needs a value, like 5xx=0.1")
            if key.strip() == "seed":
                try:
                    faults.seed = int(value)
                except ValueError:
                    raise ValueError(f"seed must be a whole number, not {value!r}") from None
                continue
            target, _, name = key.strip().rpartition(":")
            if name not in KEYS:
                raise ValueError(f"unknown fault {name!r} (known: {', '.join(KEYS)}, seed)")
            try:
                number = float(value)
            except ValueError:
                raise ValueError(f"fault {item!r}: {value!r} is not a number") from None
            if name != "latency_ms" and not 0 <= number <= 1:
                raise ValueError(f"fault {item!r}: a probability goes from 0 to 1")
            if number < 0:
                raise ValueError(f"fault {item!r}: must not be negative")
            rule = faults.per_operation.setdefault(target, Rule()) if target else faults.default
            setattr(rule, KEYS[name], number)
        faults.__post_init__()
        return faults

    def to_dict(self) -> dict[str, Any]:
        return {
            "default": asdict(self.default),
            "per_operation": {k: asdict(v) for k, v in self.per_operation.items()},
            "seed": self.seed,
            "injected": self.injected,
        }

    def decide(self, operation_id: str) -> Decision:
        rule = self.per_operation.get(operation_id, self.default)
        decision = Decision(latency_ms=rule.latency_ms)
        roll = self._random.random()
        if roll < rule.server_error:
            decision.status = self._random.choice((500, 502, 503, 504))
        elif roll < rule.server_error + rule.throttle:
            decision.status = 429
        elif roll < rule.server_error + rule.throttle + rule.server_error_after:
            decision.after = True
        if decision.status is not None or decision.after:
            self.injected += 1
        return decision
