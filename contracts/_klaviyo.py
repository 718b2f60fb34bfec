"""Klaviyo's API as the bundled spec gives it: the one reader of the spec, the revisions, the path matcher.

Everything that needs Klaviyo's operations (the emulator's routing and limits, the sync's client-side limiter,
the verifier's endpoint names, the body schemas) reads them here, from
``contracts/schemas/klaviyo/<KLAVIYO_REVISION>/openapi.json`` (sliced from Klaviyo's published spec by
scripts/refresh_klaviyo_spec.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from functools import cache, lru_cache
from importlib import resources
from typing import Any

#: The revision of the bundled spec, and the one the sync and the fixtures send.
KLAVIYO_REVISION = "2026-07-15"
#: The revisions Klaviyo serves today (November 2026), oldest first: its quarterly release dates from the oldest
#: not yet retired to the official SDK's. "Revisions are formatted as ISO 8601 dates (representing release
#: dates)", and "the revision passed in must be a valid revision"
#: (https://developers.klaviyo.com/en/docs/api_versioning_and_deprecation_policy); a revision is retired two
#: years after its release, and as of October 2026 every 2024-* revision is retired
#: (https://developers.klaviyo.com/.well-known/skills/klaviyo-migrate-oauth/references/revision-changes.md).
REVISIONS = tuple(date(year, month, 15) for year in (2025, 2026) for month in (1, 4, 7, 10))
#: The newest revision the emulator accepts (the official SDK's), and the oldest (older ones are 410 ``gone``).
NEWEST_REVISION = REVISIONS[-1]
OLDEST_REVISION = REVISIONS[0]


@dataclass(frozen=True, slots=True)
class KlaviyoOperation:
    """One Klaviyo operation as the bundled spec gives it, with its published rate limits."""

    operation_id: str
    method: str
    path: str
    burst_per_second: int
    steady_per_minute: int
    summary: str = ""


def _folder() -> Any:
    return resources.files("contracts") / "schemas" / "klaviyo" / KLAVIYO_REVISION


@cache
def openapi() -> dict[str, Any]:
    """The bundled OpenAPI document (the operations TRIFFT's integration uses)."""
    loaded: dict[str, Any] = json.loads((_folder() / "openapi.json").read_text(encoding="utf-8"))
    return loaded


@cache
def _bodies() -> dict[str, str]:
    table: dict[str, str] = json.loads((_folder() / "index.json").read_text(encoding="utf-8"))[
        "request_bodies"
    ]
    return table


def _rate(text: str) -> int:
    return int(text.split("/")[0])


@cache
def klaviyo_operations() -> dict[str, KlaviyoOperation]:
    """The Klaviyo operations the integration uses, by operationId."""
    found = {}
    for path, item in openapi()["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict) or "operationId" not in op:
                continue
            limits = op.get("x-klaviyo-ratelimit", {"burst": "10/s", "steady": "150/m"})
            found[op["operationId"]] = KlaviyoOperation(
                op["operationId"],
                method.upper(),
                path,
                _rate(limits["burst"]),
                _rate(limits["steady"]),
                op.get("summary", ""),
            )
    return found


def _fits(template: str, path: str) -> bool:
    parts, wanted = template.strip("/").split("/"), path.strip("/").split("/")
    return len(parts) == len(wanted) and all(
        p == w or (p.startswith("{") and p.endswith("}") and w != "")
        for p, w in zip(parts, wanted, strict=True)
    )


@lru_cache(maxsize=4096)
def template(path: str) -> str | None:
    """The spec's path template a concrete path falls under (``/api/profiles/01J.../`` -> ``/api/profiles/{id}``);
    a trailing slash is ignored, as Klaviyo ignores it. None for a path the spec does not have."""
    for candidate in openapi()["paths"]:
        if _fits(candidate, path):
            return str(candidate)
    return None


def match_operation(method: str, path: str) -> KlaviyoOperation | None:
    """The operation that serves ``METHOD path``, or None."""
    found = template(path)
    if found is None:
        return None
    return next(
        (op for op in klaviyo_operations().values() if op.path == found and op.method == method.upper()), None
    )


def body_schema_file(method: str, path: str) -> str | None:
    """The bundled request-body schema file of ``METHOD path`` (concrete or templated), or None."""
    found = template(path) if "{" not in path else path.rstrip("/")
    return _bodies().get(f"{method.upper()} {found}") if found else None


def request_body_endpoints() -> list[str]:
    """``METHOD /path`` of every operation that takes a body, as listed for an unknown endpoint's error."""
    return sorted(_bodies())
