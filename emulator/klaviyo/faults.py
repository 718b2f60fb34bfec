"""Seeded, reproducible fault injection: ``5xx=0.1,429=0.05,latency_ms=20,seed=1``.

Keys: ``5xx`` (a 500, 502, 503 or 504 before anything is written; the 502 has an HTML body, as a gateway sends),
``5xx_after`` (the request is processed and committed, then answered with a 500: what makes retries dangerous),
``429`` (throttled, ``Retry-After: 1``), ``latency_ms``. Prefix a key with an operation id to aim it at one
endpoint: ``create_event:5xx=0.5`` (its other keys stay the default's). The same seed and the same request order
give the same faults.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from starlette.responses import Response

from .errors import Problem, ServerError, Throttled
from .spec import operations

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
        """Parse the ``--faults`` syntax; ValueError names the item that is wrong.

        An operation's keys override the same keys of the default rule and inherit the rest:
        ``latency_ms=20,create_event:5xx=0.5`` slows every operation and fails half of the create_event calls.
        """
        faults = cls()
        defaults: dict[str, float] = {}
        overrides: dict[str, dict[str, float]] = {}
        known = {op.operation_id for op in operations()}
        for item in (part.strip() for part in text.split(",") if part.strip()):
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"fault {item!r} needs a value, like 5xx=0.1")
            if key.strip() == "seed":
                try:
                    faults.seed = int(value)
                except ValueError:
                    raise ValueError(f"fault {item!r}: seed must be a whole number, not {value!r}") from None
                continue
            target, _, name = key.strip().rpartition(":")
            if name not in KEYS:
                raise ValueError(f"fault {item!r}: unknown fault {name!r} (known: {', '.join(KEYS)}, seed)")
            if target and target not in known:
                raise ValueError(
                    f"fault {item!r}: no operation is called {target!r} (see /_emulator/endpoints)"
                )
            try:
                number = float(value)
            except ValueError:
                raise ValueError(f"fault {item!r}: {value!r} is not a number") from None
            if not math.isfinite(number) or number < 0:
                raise ValueError(f"fault {item!r}: must be a finite number, not negative")
            if name != "latency_ms" and number > 1:
                raise ValueError(f"fault {item!r}: a probability goes from 0 to 1")
            (overrides.setdefault(target, {}) if target else defaults)[KEYS[name]] = number
        faults.default = Rule(**defaults)
        faults.per_operation = {op: replace(faults.default, **keys) for op, keys in overrides.items()}
        for target, rule in [("", faults.default), *faults.per_operation.items()]:
            total = rule.server_error + rule.throttle + rule.server_error_after
            if total > 1:
                raise ValueError(
                    f"fault probabilities{' for ' + target if target else ''} add up to {total:g}, more than 1"
                )
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


def fault_response(status: int, limits: dict[str, str] | None = None) -> Response:
    """What an injected fault answers: a 502 from a gateway (HTML), a 429 with ``Retry-After``, or a JSON:API 5xx
    (with the ``limits`` headers, the RateLimit-* Klaviyo sends on every answer but a 429; a gateway's page carries
    none)."""
    if status == 502:
        return Response("<html><body><h1>502 Bad Gateway</h1></body></html>", 502, media_type="text/html")
    if status == 429:
        error: Throttled | ServerError = Throttled(
            Problem("Request was throttled. Expected available in 1 second.", pointer="/data/"),
            headers={"Retry-After": "1"},
        )
    else:
        error = ServerError(Problem("Injected fault: the emulator was told to fail this request."))
    body = error.body()
    body["errors"][0]["status"] = status
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    headers = error.headers if status == 429 else {**(limits or {}), **error.headers}
    return Response(content, status, headers=headers, media_type="application/vnd.api+json")
