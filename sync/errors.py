"""Errors of the sync core. An HTTP status becomes one of these at one place (``classify``).

SyncError
├── Rejected     Klaviyo refused the request for good (4xx other than 401/403/408/429): dead-letter, go on
├── Unauthorized 401/403: the key is wrong or lacks a scope, whatever the event: stop, everything stays pending
├── Transient    5xx, 408 or a network error: retry with backoff
│   └── Throttled  429: wait Retry-After (integer seconds, no attempt used up), then retry
├── Exhausted    still transient after every attempt: the event stays pending for the next run
├── Unreachable  nothing could even connect for the connect timeout (refused, DNS, TLS): stop, nothing sent
├── DeadlineReached  the run's total deadline passed: stop, the rest stays pending
└── TargetMismatch   the outbox was filled for another base URL or account

``connect_failure`` says in a few words why a connection could not be made.
"""

from __future__ import annotations

import socket
import ssl
from typing import Any

import httpx


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


class Unreachable(SyncError):
    pass


class DeadlineReached(SyncError):
    pass


def target_change(kept: tuple[str, str], asked: tuple[str, str]) -> str:
    """How two targets (base URL, account) differ: ``was used with X, not Y`` and/or another key's account."""
    (kept_url, kept_account), (url, account) = kept, asked
    keys = f"another API key (account {kept_account}, not {account})"
    if kept_url == url:
        return f"was used with {keys}"
    return f"was used with {kept_url}, not {url}" + (f", and {keys}" if kept_account != account else "")


class TargetMismatch(SyncError):
    """An outbox that belongs to another target: what it was used with, and what this run asks for."""

    def __init__(self, path: str, kept: tuple[str, str], asked: tuple[str, str]) -> None:
        self.path, self.kept, self.asked = path, kept, asked
        super().__init__(f"the outbox {path} {target_change(kept, asked)}")


def _causes(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    at: BaseException | None = error
    while at is not None and at not in chain:
        chain.append(at)
        at = at.__cause__ or at.__context__
    return chain


def connect_failure(error: httpx.TransportError) -> tuple[str, bool]:
    """Why a connection could not be made, in a few words, and whether trying again cannot help (TLS).

    httpx wraps the socket's own error (``All connection attempts failed``); the reason is further down.
    """
    for cause in _causes(error):
        if isinstance(cause, ssl.SSLCertVerificationError):
            # verify_message and reason are set by the ssl module when it raises, not by the constructor.
            why = getattr(cause, "verify_message", None) or cause.strerror or "not trusted"
            return f"TLS certificate not accepted ({why})", True
        if isinstance(cause, ssl.SSLError):
            reason = getattr(cause, "reason", None)
            if reason == "WRONG_VERSION_NUMBER":  # what a plain-HTTP server answers a TLS hello with
                return "TLS handshake failed (the server does not speak TLS: is it http://?)", True
            return f"TLS handshake failed ({reason or cause})", True
        if isinstance(cause, socket.gaierror):
            return f"DNS lookup failed ({cause.strerror})", False
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused", False
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror[:1].lower() + cause.strerror[1:], False
    if isinstance(error, httpx.ConnectTimeout):
        return "no answer to the connection attempt", False
    return str(error) or type(error).__name__, False


def classify(response: httpx.Response, method: str, path: str) -> None:
    """The one place an HTTP status becomes an outcome."""
    status = response.status_code
    if status < 400:
        return
    if status == 429:
        raw = response.headers.get("Retry-After")
        raise Throttled(float(raw) if raw and raw.strip().isdigit() else None)
    if status >= 500 or status == 408:
        raise Transient(f"{method} {path} -> {status}")
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text[:2000]
    if status in (401, 403):
        raise Unauthorized(status, method, path, body)
    raise Rejected(status, method, path, body)
