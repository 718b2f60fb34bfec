"""Errors of the sync core. An HTTP status becomes one of these at one place (``delivery._classify``).

SyncError
├── Rejected     Klaviyo refused the request for good (4xx other than 401/403/408/429): dead-letter, go on
├── Unauthorized 401/403: the key is wrong or lacks a scope, whatever the event: stop, everything stays pending
├── Transient    5xx, 408 or a network error: retry with backoff
│   └── Throttled  429: wait Retry-After (integer seconds), then retry
└── Exhausted    still transient after every attempt: the event stays pending for the next run
"""

from __future__ import annotations

from typing import Any


class SyncError(Exception):
    """Base of the sync's errors; carries what a person needs to act."""


class _Refusal(SyncError):
    """A 4xx answer: the status, the request line and Klaviyo's first error, with where it points."""

    def __init__(self, status: int, method: str, path: str, body: Any) -> None:
        self.status, self.method, self.path, self.body = status, method, path, body
        errors = body.get("errors") if isinstance(body, dict) else None
        first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
        where = (first.get("source") or {}).get("pointer") or (first.get("source") or {}).get("parameter")
        self.detail = f"{status} {first.get('code', '')}: {first.get('detail', str(body)[:200])}".strip()
        if where:
            self.detail += f" (at {where})"
        super().__init__(f"{method} {path} -> {self.detail}")


class Rejected(_Refusal):
    pass


class Unauthorized(_Refusal):
    pass


class Transient(SyncError):
    pass


class Throttled(Transient):
    def __init__(self, retry_after: float | None) -> None:
        self.retry_after = retry_after
        super().__init__(f"throttled; Retry-After {retry_after}")


class Exhausted(SyncError):
    pass
