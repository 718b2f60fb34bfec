"""A small Twig-style renderer for TRIFFT custom webhook bodies.

TRIFFT renders a webhook body from a user-written template (``{{ member.email }}``,
``{{ member.param.birth_date | date('U') }}``) without JSON-escaping the output, so a null parameter left
unquoted, or a name containing a double quote, yields a body that is not JSON. This renderer reproduces that on
purpose. Supported filters: ``date('U')`` (unix seconds), ``date('c')`` (ISO 8601), ``json_encode``,
``upper``, ``lower``, ``default('x')``.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from typing import Any

_TAG = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*(?:\|\s*(\w+)\s*(?:\(\s*'([^']*)'\s*\))?)?\s*\}\}")


def _lookup(context: dict[str, Any], path: str) -> Any:
    value: Any = context
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            try:
                parsed = datetime.combine(date.fromisoformat(value), datetime.min.time())
            except ValueError:
                return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _print(value: Any) -> str:
    # Twig prints null as nothing, true as 1 and false as nothing.
    if value is None or value is False:
        return ""
    if value is True:
        return "1"
    if isinstance(value, dict | list):
        return "Array"
    return str(value)


def _apply(value: Any, name: str | None, argument: str | None) -> str:
    if name is None:
        return _print(value)
    if name == "date":
        moment = _as_datetime(value)
        if moment is None:
            return ""
        return str(int(moment.timestamp())) if argument == "U" else moment.isoformat()
    if name == "json_encode":
        return json.dumps(value, ensure_ascii=False)
    if name == "upper":
        return _print(value).upper()
    if name == "lower":
        return _print(value).lower()
    if name == "default":
        return _print(value) if value not in (None, "", False) else (argument or "")
    raise ValueError(f"unknown filter {name!r}")


def render(template: str, context: dict[str, Any]) -> str:
    """Render ``template`` with ``context`` as TRIFFT would: raw text substitution, no escaping."""
    return _TAG.sub(lambda m: _apply(_lookup(context, m.group(1)), m.group(2), m.group(3)), template)
