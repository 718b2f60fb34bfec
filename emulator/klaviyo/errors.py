"""Errors the fake Klaviyo answers with, rendered as Klaviyo's JSON:API ``errors[]``.

    KlaviyoError                       status  code
    ├── InvalidInput                   400     invalid
    ├── NotEmulated                    400     not_emulated        (valid for Klaviyo; this fake does not do it)
    ├── NotAuthenticated               401     not_authenticated
    ├── PermissionDenied               403     permission_denied
    ├── NotFound                       404     not_found
    ├── MethodNotAllowed               405     method_not_allowed
    ├── DuplicateProfile               409     duplicate_profile   (meta.duplicate_profile_id)
    ├── Gone                           410     gone
    ├── PayloadTooLarge                413     request_too_large
    ├── UnsupportedMediaType           415     unsupported_media_type
    ├── Throttled                      429     throttled           (Retry-After)
    └── ServerError                    500     error               (injected faults only)

Each error item carries ``id`` (a UUID), ``status`` (an integer, as Klaviyo sends it), ``code``, ``title``,
``detail``, ``source`` (``pointer`` into the request body or ``parameter`` naming a query parameter or header),
``links`` and ``meta``. One request can fail in several places: ``InvalidInput`` carries every item.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass
class Problem:
    """One item of ``errors[]``: what is wrong and where."""

    detail: str
    pointer: str | None = None
    parameter: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


class KlaviyoError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "invalid"
    title: ClassVar[str] = "Invalid input."
    links: ClassVar[dict[str, str]] = {}

    def __init__(self, *problems: Problem | str, headers: dict[str, str] | None = None) -> None:
        self.problems = [p if isinstance(p, Problem) else Problem(p) for p in problems] or [
            Problem(self.title)
        ]
        self.headers = headers or {}
        super().__init__("; ".join(p.detail for p in self.problems))

    def body(self) -> dict[str, Any]:
        items = []
        for problem in self.problems:
            source: dict[str, str] = {}
            if problem.pointer is not None:
                source["pointer"] = problem.pointer
            if problem.parameter is not None:
                source["parameter"] = problem.parameter
            item: dict[str, Any] = {
                "id": str(uuid.uuid4()),
                "status": self.status,
                "code": self.code,
                "title": self.title,
                "detail": problem.detail,
            }
            if source:
                item["source"] = source
            item["links"] = dict(self.links)
            item["meta"] = dict(problem.meta)
            items.append(item)
        return {"errors": items}


class InvalidInput(KlaviyoError):
    pass


class NotEmulated(KlaviyoError):
    """A request Klaviyo takes but this emulator does not model (WhatsApp or push consent, an ``include`` of a
    resource it has no notion of): refused by name rather than accepted and dropped. Not a Klaviyo answer."""

    status, code, title = 400, "not_emulated", "Not emulated by this fake Klaviyo."


class NotAuthenticated(KlaviyoError):
    status, code, title = 401, "not_authenticated", "Authentication credentials were not provided."


class PermissionDenied(KlaviyoError):
    status, code, title = 403, "permission_denied", "You do not have permission to perform this action."


class NotFound(KlaviyoError):
    status, code, title = 404, "not_found", "Not found."


class MethodNotAllowed(KlaviyoError):
    status, code, title = 405, "method_not_allowed", "Method not allowed."


class DuplicateProfile(KlaviyoError):
    status, code, title = 409, "duplicate_profile", "Conflict."


class Gone(KlaviyoError):
    status, code, title = 410, "gone", "Gone."


class PayloadTooLarge(KlaviyoError):
    status, code, title = 413, "request_too_large", "Request entity too large."


class UnsupportedMediaType(KlaviyoError):
    status, code, title = 415, "unsupported_media_type", "Unsupported media type."


class Throttled(KlaviyoError):
    status, code, title = 429, "throttled", "Request was throttled."
    links: ClassVar[dict[str, str]] = {
        "type": "https://developers.klaviyo.com/en/docs/rate_limits_and_error_handling#rate-limits"
    }


class ServerError(KlaviyoError):
    status, code, title = 500, "error", "A server error occurred."
