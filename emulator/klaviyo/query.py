"""Query parameters, checked against what the spec allows for the operation; each error names the parameter."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from . import filters, support
from .errors import InvalidInput, NotEmulated, Problem
from .spec import Operation

T = TypeVar("T")


@dataclass
class Query:
    fields: dict[str, list[str]] = field(default_factory=dict)
    additional: dict[str, list[str]] = field(default_factory=dict)
    include: list[str] = field(default_factory=list)
    filter: list[filters.Node] = field(default_factory=list)
    sort: str | None = None
    page_size: int | None = None
    offset: int = 0


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"next::offset::{offset}".encode()).decode().rstrip("=")


def decode_cursor(raw: str) -> int:
    """The offset in a cursor, absorbing what the official SDK does to it.

    The SDK keeps the ``=`` after ``page[cursor]`` (so a cursor can arrive as ``=bmV4...``), and it passes a whole
    ``http://`` link as the cursor when it cannot parse it; both are accepted.
    """
    text = unquote(raw)
    for token in ("page[cursor]=", "page%5Bcursor%5D="):
        if token in text:
            text = text.split(token, 1)[1].split("&", 1)[0]
    text = unquote(text).lstrip("=")
    try:
        decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError("not a cursor this server issued") from None
    match = re.fullmatch(r"next::offset::(\d{1,18})", decoded)
    if not match:
        raise ValueError("not a cursor this server issued")
    return int(match.group(1))


_RANGES = ("less-than", "less-or-equal", "greater-than", "greater-or-equal")


def _range_value_problem(condition: filters.Condition) -> str | None:
    """Range filters compare datetimes, written unquoted (a quoted one is "invalid filter", notes §4.2), except
    Get Events' ``timestamp``, which is Unix seconds (§5.1)."""
    example = f"{condition.operator}({condition.field},"
    if condition.field == "timestamp":
        if isinstance(condition.value, int | float) and not isinstance(condition.value, bool):
            return None
        return f"'timestamp' compares Unix seconds, a number: {example}1714567890)"
    if isinstance(condition.value, datetime):
        return None
    return f"'{condition.field}' compares datetimes, written without quotes: {example}2024-01-01T00:00:00Z)"


def _values(raw: str) -> list[str]:
    return [v.strip() for v in raw.split(",") if v.strip()]


def parse(operation: Operation, items: Iterable[tuple[str, str]]) -> Query:
    """Parse and check every query parameter; raise one InvalidInput listing every problem, or, when the query is
    valid but asks for something this emulator does not model, one NotEmulated naming each such option."""
    allowed = operation.query()
    query = Query()
    problems: list[Problem] = []
    unmodelled: list[Problem] = []
    seen: set[str] = set()

    def problem(name: str, detail: str) -> None:
        problems.append(Problem(detail, parameter=name))

    def modelled(name: str, parameter: str, value: str) -> bool:
        why = support.refused(operation.operation_id, parameter, value)
        if why is not None:
            unmodelled.append(Problem(why, parameter=name))
        return why is None

    for name, raw in items:
        if name in seen:
            problem(name, f"'{name}' is given more than once.")
            continue
        seen.add(name)
        parameter = allowed.get(name)
        if parameter is None:
            known = ", ".join(sorted(allowed)) or "none"
            problem(name, f"'{name}' is not a valid query parameter for this endpoint (allowed: {known}).")
            continue
        if name.startswith(("fields[", "additional-fields[")) or name == "include":
            values = _values(raw)
            wrong = [v for v in values if parameter.enum and v not in parameter.enum]
            if wrong or not values:
                problem(
                    name,
                    f"Invalid value {', '.join(wrong) or repr(raw)} for '{name}'; "
                    f"allowed: {', '.join(parameter.enum)}.",
                )
                continue
            if name == "include":
                query.include = [v for v in values if modelled(name, "include", v)]
            else:
                kind = name[name.index("[") + 1 : -1]
                (query.fields if name.startswith("fields[") else query.additional)[kind] = values
        elif name == "sort":
            if parameter.enum and raw not in parameter.enum:
                problem(name, f"Invalid sort '{raw}'; allowed: {', '.join(parameter.enum)}.")
            elif modelled(name, "sort", raw):
                query.sort = raw
        elif name == "page[size]":
            low, high = parameter.schema.get("minimum", 1), parameter.schema.get("maximum", 100)
            if not re.fullmatch(r"\d{1,18}", raw) or not low <= int(raw) <= high:
                problem(name, f"page[size] must be an integer from {low} to {high}, not '{raw}'.")
            else:
                query.page_size = int(raw)
        elif name == "page[cursor]":
            try:
                query.offset = decode_cursor(raw)
            except ValueError as exc:
                problem(name, f"Invalid page cursor: {exc}.")
        elif name == "filter":
            try:
                query.filter = filters.parse(raw)
            except filters.FilterError as exc:
                problem(name, f"Invalid filter: {exc}.")
                continue
            for condition in filters.conditions(query.filter):
                operators = parameter.filters.get(condition.field)
                if operators is None:
                    problem(
                        name,
                        f"Invalid filter: '{condition.field}' cannot be filtered on; allowed fields: "
                        f"{', '.join(parameter.filters)}.",
                    )
                elif condition.operator not in operators:
                    problem(
                        name,
                        f"Invalid filter: operator '{condition.operator}' is not allowed on "
                        f"'{condition.field}'; allowed: {', '.join(operators)}.",
                    )
                elif condition.operator in _RANGES and (unfit := _range_value_problem(condition)):
                    problem(name, f"Invalid filter: {unfit}.")
                else:
                    modelled(name, "filter", condition.field)
    if problems:
        raise InvalidInput(*problems)
    if unmodelled:
        raise NotEmulated(*unmodelled)
    return query


def page(
    items: Sequence[T], query: Query, url: str, default_size: int
) -> tuple[list[T], dict[str, str | None]]:
    """One page of a collection and its ``links`` (``self``, ``next``, ``prev``), as Klaviyo gives them."""
    size = query.page_size or default_size
    start = min(query.offset, len(items))
    return list(items[start : start + size]), links(url, start, size, start + size < len(items))


def links(url: str, start: int, size: int, more: bool) -> dict[str, str | None]:
    """A page's ``links``: the page of ``size`` from ``start`` on, ``more`` when another page follows. For a
    collection paged in the store rather than in memory."""
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "page[cursor]"]

    def link(offset: int) -> str:
        return urlunsplit(parts._replace(query=urlencode([*kept, ("page[cursor]", encode_cursor(offset))])))

    return {
        "self": url,
        "next": link(start + size) if more else None,
        "prev": link(max(start - size, 0)) if start > 0 else None,
    }
