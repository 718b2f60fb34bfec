"""Where the sync's input comes from: TRIFFT member events saved to a file, checked against the event contract.

``read_events`` is how ``trifft-klaviyo sync`` reads JSON Lines: a bad line is skipped and named, the rest go on.
``load_events`` is how ``trifft-klaviyo replay`` reads a saved event, a JSON list of them, or JSON Lines: the
whole file or nothing, the first problem named.
"""

from __future__ import annotations

import sys
from typing import Any

from contracts import MalformedPayload, event_schema, parse_json


def read_events(path: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Valid events from JSON Lines (``-``: standard input), and one message per bad line.

    A message names the file, the line and the field, and ends ``; line skipped``. OSError if the file cannot be
    opened.
    """
    schema = event_schema()
    name = "<stdin>" if path == "-" else path
    stream = sys.stdin if path == "-" else open(path, encoding="utf-8")  # noqa: SIM115
    events: list[dict[str, Any]] = []
    problems: list[str] = []
    with stream:
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                event = parse_json(line, source=f"{name}:{number}")
            except MalformedPayload as error:
                problems.append(f"{name}:{number}:{error.column}: not JSON: {error.reason}; line skipped")
                continue
            violations = schema.validate(event)
            if violations:
                first = violations[0]
                more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
                problems.append(
                    f"{name}:{number}: {first.pointer or '/'}: {first.message}{more}; line skipped"
                )
                continue
            events.append(event)
    return events, problems


def load_events(path: str) -> list[dict[str, Any]]:
    """Every event of a saved event (.json), a JSON list of events, or JSON Lines, each valid against the contract.

    ValueError names the file and the first bad line or event; OSError if the file cannot be read.
    """
    with open(path, encoding="utf-8") as source:
        text = source.read()
    try:
        document = parse_json(text, source=path)
    except MalformedPayload:
        # Not one JSON document: JSON Lines, where the first bad line (not JSON, or not an event) is the error.
        events, problems = read_events(path)
        if problems:
            raise ValueError(problems[0].removesuffix("; line skipped")) from None
        return events
    items = document if isinstance(document, list) else [document]
    if not all(isinstance(item, dict) for item in items):
        raise ValueError(f"{path}: expected a TRIFFT event, a list of them, or JSON Lines")
    schema = event_schema()
    for index, event in enumerate(items, 1):
        violations = schema.validate(event)
        if violations:
            raise ValueError(f"{path}: event {index}: {violations[0]}")
    return items
