"""Request bodies as JSON documents the emulator can hold: read strictly, so odd JSON is a 400, never a 500.

Python's ``json`` module reads more than RFC 8259 allows and less than a server must survive: it accepts
``NaN``/``Infinity``, turns ``1e999`` into infinity, refuses integers of more than 4,300 digits with a
``ValueError``, raises ``RecursionError`` on deep nesting, and passes ``"\\ud800"`` through as a lone surrogate
that SQLite and UTF-8 encoders then refuse. ``read`` turns each of these into one ``Problem``.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

from contracts import Violation

from .errors import InvalidInput, Problem

#: Deepest nesting of objects and arrays a body may have. Klaviyo documents 10 levels for event properties; the
#: JSON:API envelope adds up to 11 more (bulk jobs). 64 leaves room for profile properties, whose limit is not
#: documented, while keeping every walk over a body shallow. An emulator choice, not a Klaviyo figure.
MAX_NESTING = 64
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONG_DIGITS = re.compile(rb"[0-9]{19}")


class _Unreadable(ValueError):
    pass


def _constant(name: str) -> Any:
    raise _Unreadable(f"{name} is not a JSON value")


def _float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _Unreadable(f"the number {text[:40]} is out of range")
    return number


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
        raise _Unreadable(f"a number with {len(text):,} digits is out of range") from None


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _unencodable(text: str) -> bool:
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _shape_problem(document: Any) -> Problem | None:
    """The first place nested too deeply or holding a lone surrogate, walked without recursion."""
    stack: list[tuple[Any, str, int]] = [(document, "", 0)]
    while stack:
        value, pointer, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth >= MAX_NESTING:
                return Problem(
                    f"The body nests objects and arrays more than {MAX_NESTING} levels deep.",
                    pointer=pointer or "/",
                )
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and _unencodable(key):
                    return Problem(
                        "A key is not valid Unicode: it holds a lone UTF-16 surrogate escape (\\ud800-\\udfff).",
                        pointer=pointer or "/",
                    )
                stack.append((item, f"{pointer}/{_escape(str(key))}", depth + 1))
        elif isinstance(value, str) and _unencodable(value):
            return Problem(
                "A string is not valid Unicode: it holds a lone UTF-16 surrogate escape (\\ud800-\\udfff).",
                pointer=pointer or "/",
            )
    return None


def read(raw: bytes) -> Any:
    """The JSON document in a request body; InvalidInput (pointer ``/``) when it is not one the emulator holds.

    orjson reads the common body several times faster; whatever it refuses, and any body with an integer it
    would turn into a float (19 digits or more), is read by ``json`` with the checks above, which also word the
    error."""
    if _LONG_DIGITS.search(raw) is None:
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # read again below, for the error's wording
        else:
            # orjson refuses lone surrogates itself; only nesting is left to check.
            if raw.count(b"{") + raw.count(b"[") >= MAX_NESTING:
                problem = _shape_problem(document)
                if problem is not None:
                    raise InvalidInput(problem)
            return document
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            Problem(f"The request body is not UTF-8 (invalid byte at offset {exc.start}).", pointer="/")
        ) from None
    try:
        document = json.loads(text, parse_constant=_constant, parse_float=_float, parse_int=_integer)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            Problem(f"Malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).", pointer="/")
        ) from None
    except _Unreadable as exc:
        raise InvalidInput(Problem(f"Malformed JSON: {exc}.", pointer="/")) from None
    except RecursionError:
        raise InvalidInput(
            Problem(f"The body nests objects and arrays more than {MAX_NESTING} levels deep.", pointer="/")
        ) from None
    # Only a text with as many brackets as the limit can nest that deep, and only a \ud800-\udfff escape can
    # make a lone surrogate: most bodies need no walk at all.
    if text.count("{") + text.count("[") >= MAX_NESTING or _SURROGATE_ESCAPE.search(text):
        problem = _shape_problem(document)
        if problem is not None:
            raise InvalidInput(problem)
    return document


def _unescape(segment: str) -> str:
    return segment.replace("~1", "/").replace("~0", "~")


def _resource_type(document: Any, pointer: str) -> str | None:
    """The ``type`` of the innermost resource object around the place ``pointer`` names."""
    found, here = None, document
    for segment in [_unescape(s) for s in pointer.split("/")[1:-1]]:
        if isinstance(here, dict):
            here = here.get(segment)
        elif isinstance(here, list) and segment.isdigit() and int(segment) < len(here):
            here = here[int(segment)]
        else:
            break
        if isinstance(here, dict) and isinstance(here.get("type"), str):
            found = here["type"]
    return found


def explain(violation: Violation, document: Any) -> Problem:
    """A schema violation as Klaviyo words it, pointing where it points."""
    pointer = violation.pointer or "/"
    if violation.rule == "additionalProperties":
        name = _unescape(pointer.rsplit("/", 1)[-1])
        resource = _resource_type(document, pointer)
        where = f" for the resource '{resource}'" if resource else ""
        return Problem(f"'{name}' is not a valid field{where}.", pointer=pointer)
    return Problem(f"{violation.message} ({violation.rule}).", pointer=pointer)
