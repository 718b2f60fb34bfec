"""Klaviyo's ``filter`` query language: ``equals(email,"a@b.com"),greater-than(updated,2024-01-01T00:00:00Z)``.

Expressions separated by top-level commas are AND-ed; ``and(...)``, ``or(...)`` and ``not(...)`` nest. Values are
double- or single-quoted strings, numbers, ``true``/``false``/``null``, unquoted ISO datetimes, and ``[...]``
lists for ``any``. ``parse`` raises ``FilterError`` with the character position of what it could not read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

COMPARISONS = (
    "equals",
    "less-than",
    "less-or-equal",
    "greater-than",
    "greater-or-equal",
    "any",
    "has",
    "contains",
    "contains-any",
    "contains-all",
    "starts-with",
    "ends-with",
)
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
_NAME = re.compile(r"[A-Za-z_$][\w.$-]*")


class FilterError(ValueError):
    def __init__(self, message: str, position: int) -> None:
        self.position = position
        super().__init__(f"{message} (at character {position + 1})")


@dataclass(frozen=True)
class Condition:
    operator: str
    field: str
    value: Any


@dataclass(frozen=True)
class Combination:
    operator: str  # and, or, not
    parts: tuple[Node, ...]


Node = Condition | Combination


#: How deeply and(), or() and not() may nest: an emulator guard (Klaviyo publishes no figure) that keeps the
#: recursive parser far from Python's recursion limit.
MAX_NESTING = 20
_LISTS = ("any", "contains-any", "contains-all")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text, self.at, self.depth = text, 0, 0

    def fail(self, message: str) -> FilterError:
        return FilterError(message, self.at)

    def skip(self) -> None:
        while self.at < len(self.text) and self.text[self.at] == " ":
            self.at += 1

    def expect(self, char: str) -> None:
        self.skip()
        if not self.text.startswith(char, self.at):
            found = repr(self.text[self.at]) if self.at < len(self.text) else "the end"
            raise self.fail(f"expected {char!r}, found {found}")
        self.at += 1

    def name(self) -> str:
        self.skip()
        match = _NAME.match(self.text, self.at)
        if not match:
            raise self.fail("expected a name")
        self.at = match.end()
        return match.group()

    def expressions(self) -> list[Node]:
        nodes = [self.expression()]
        self.skip()
        while self.text.startswith(",", self.at):
            self.at += 1
            nodes.append(self.expression())
            self.skip()
        return nodes

    def expression(self) -> Node:
        start = self.at
        operator = self.name()
        self.expect("(")
        if operator in ("and", "or", "not"):
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise FilterError(f"and(), or() and not() nest at most {MAX_NESTING} levels deep", start)
            parts = tuple(self.expressions())
            self.expect(")")
            self.depth -= 1
            if operator == "not" and len(parts) != 1:
                raise FilterError("not() takes one expression", start)
            return Combination(operator, parts)
        if operator not in COMPARISONS:
            raise FilterError(f"unknown operator {operator!r}", start)
        field = self.name()
        if operator == "has":
            self.expect(")")
            return Condition(operator, field, None)
        self.expect(",")
        at = self.at
        value = self.value()
        if operator in _LISTS and not isinstance(value, list):
            raise FilterError(f'{operator}() takes a list of values, like ["a","b"]', at)
        self.expect(")")
        return Condition(operator, field, value)

    def value(self, in_list: bool = False) -> Any:
        self.skip()
        text, at = self.text, self.at
        if at >= len(text):
            raise self.fail("expected a value")
        if text[at] in "\"'":
            end = text.find(text[at], at + 1)
            if end < 0:
                raise self.fail("unterminated string")
            self.at = end + 1
            return text[at + 1 : end]
        if text[at] == "[":
            if in_list:
                raise self.fail("a list holds plain values, not lists")
            self.at += 1
            items: list[Any] = []
            self.skip()
            if self.text.startswith("]", self.at):
                self.at += 1
                return items
            while True:
                items.append(self.value(in_list=True))
                self.skip()
                if self.text.startswith("]", self.at):
                    self.at += 1
                    return items
                self.expect(",")
        for word, meaning in (("true", True), ("false", False), ("null", None)):
            if text.startswith(word, at):
                self.at += len(word)
                return meaning
        match = _DATETIME.match(text, at)
        if match:
            self.at = match.end()
            try:
                moment = datetime.fromisoformat(match.group().replace("Z", "+00:00"))
            except ValueError:
                raise FilterError(f"{match.group()!r} is not a valid datetime", at) from None
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        match = _NUMBER.match(text, at)
        if match:
            self.at = match.end()
            number = match.group()
            return float(number) if any(c in number for c in ".eE") else int(number)
        raise self.fail("expected a value (quoted string, number, boolean, null, datetime or list)")


def parse(text: str) -> list[Node]:
    """The AND-ed expressions of a filter."""
    parser = _Parser(text)
    nodes = parser.expressions()
    parser.skip()
    if parser.at != len(text):
        raise parser.fail("unexpected text after the filter")
    return nodes


def conditions(nodes: list[Node] | tuple[Node, ...]) -> list[Condition]:
    """Every comparison in the tree, for checking fields and operators against what an endpoint allows."""
    found: list[Condition] = []
    for node in nodes:
        if isinstance(node, Condition):
            found.append(node)
        else:
            found += conditions(node.parts)
    return found


def _compare(operator: str, actual: Any, expected: Any) -> bool:
    try:
        return _compare_values(operator, actual, expected)
    except TypeError:  # a value of another type than the field's (e.g. a number for a string) matches nothing
        return False


def _compare_values(operator: str, actual: Any, expected: Any) -> bool:
    if isinstance(expected, datetime) and isinstance(actual, str):
        try:
            actual = datetime.fromisoformat(actual.replace("Z", "+00:00"))
        except ValueError:
            return False
        if actual.tzinfo is None:
            actual = actual.replace(tzinfo=UTC)
    if operator == "equals":
        return bool(actual == expected)
    if operator == "any":
        return actual in expected
    if operator == "has":
        return actual is not None
    if actual is None:
        return False
    if operator == "less-than":
        return bool(actual < expected)
    if operator == "less-or-equal":
        return bool(actual <= expected)
    if operator == "greater-than":
        return bool(actual > expected)
    if operator == "greater-or-equal":
        return bool(actual >= expected)
    if operator == "contains":
        return expected in actual
    if operator == "contains-any":
        return any(v in actual for v in expected)
    if operator == "contains-all":
        return all(v in actual for v in expected)
    if operator == "starts-with":
        return str(actual).startswith(str(expected))
    if operator == "ends-with":
        return str(actual).endswith(str(expected))
    return False


def matches(nodes: list[Node] | tuple[Node, ...], fields: dict[str, Any]) -> bool:
    """Whether a resource, given as its filterable fields, passes every expression.

    ``fields`` must hold every field the operation lets a client filter on: a field missing from it is a bug in
    the handler (a filter silently matching nothing), so it raises KeyError rather than answer wrongly.
    """
    for node in nodes:
        if isinstance(node, Condition):
            if not _compare(node.operator, fields[node.field], node.value):
                return False
        elif node.operator == "and":
            if not matches(node.parts, fields):
                return False
        elif node.operator == "or":
            if not any(matches((part,), fields) for part in node.parts):
                return False
        elif matches(node.parts, fields):  # not
            return False
    return True
