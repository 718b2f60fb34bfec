"""The ``revision`` header: which revisions the fake Klaviyo serves, and what it answers for the others.

"Revisions are formatted as ISO 8601 dates (representing release dates) ... Note that the revision passed in must
be a valid revision" (https://developers.klaviyo.com/en/docs/api_versioning_and_deprecation_policy): the release
dates are in ``contracts.REVISIONS``. A retired revision "returns 410 errors"
(https://developers.klaviyo.com/.well-known/skills/klaviyo-migrate-oauth/references/revision-changes.md). What a
missing or malformed header, a date between releases, a future date or an unknown suffix get is not published;
the emulator's answers (400 ``invalid`` naming the header) are listed in docs/emulator.md "Where Klaviyo is silent".
"""

from __future__ import annotations

import re
from datetime import date

from contracts import NEWEST_REVISION, OLDEST_REVISION, REVISIONS

from .errors import Gone, InvalidInput, Problem

_REVISION = re.compile(r"^(\d{4}-\d{2}-\d{2})(\.[A-Za-z0-9]+)?$")
#: The one revision suffix Klaviyo publishes: its beta spec is ``2026-07-15.pre`` (notes §7.2).
_SUFFIXES = (None, ".pre")


def check(revision: str | None) -> None:
    """Refuse a ``revision`` header Klaviyo would not serve; return quietly for one it serves."""
    if revision is None:
        raise InvalidInput(
            Problem(
                "Missing required header 'revision' (format: YYYY-MM-DD[.suffix], e.g. 2026-07-15).",
                parameter="revision",
            )
        )
    match = _REVISION.match(revision.strip())
    try:
        day = date.fromisoformat(match.group(1)) if match else None
    except ValueError:
        day = None
    if day is None or match is None or match.group(2) not in _SUFFIXES:
        raise InvalidInput(
            Problem(f"Invalid revision '{revision}'; expected YYYY-MM-DD[.suffix].", parameter="revision")
        )
    if day > NEWEST_REVISION:
        raise InvalidInput(
            Problem(
                f"Revision {revision} does not exist yet; the newest is {NEWEST_REVISION.isoformat()}.",
                parameter="revision",
            )
        )
    if day < OLDEST_REVISION:
        raise Gone(
            Problem(
                f"Revision {revision} has been retired; use {OLDEST_REVISION.isoformat()} or newer.",
                parameter="revision",
            )
        )
    if day not in REVISIONS:
        # Revisions are release dates, not any date: a day between two releases names no revision.
        raise InvalidInput(
            Problem(
                f"Revision {revision} is not a valid revision; valid revisions are the release dates "
                f"{', '.join(r.isoformat() for r in REVISIONS)}.",
                parameter="revision",
            )
        )
