"""Where the sync's input comes from: TRIFFT member events saved to a file, checked against the event contract.

``read_events`` is how ``trifft-klaviyo sync`` reads JSON Lines: a bad line is skipped and named, the rest go on.
``load_events`` is how ``trifft-klaviyo replay`` reads a saved event, a JSON list of them, or JSON Lines: the
whole file or nothing, the first problem named.

Both read bytes, whatever they are: gzip (told by its magic bytes, so standard input works too) is read
transparently, a UTF-8 byte order mark is accepted, and a line that is not UTF-8 or not JSON is named by
``file:line``, never raised as a decoding error.
"""

from __future__ import annotations

import contextlib
import json
import sys
import zlib
from typing import Any

from contracts import MalformedPayload, event_schema, parse_json

GZIP_MAGIC = b"\x1f\x8b"
BOM = b"\xef\xbb\xbf"
#: Decompressed in pieces, so a gzip stream corrupt in the middle still gives the lines before the damage.
_PIECE = 1 << 16


def input_name(path: str) -> str:
    """How an input is named in messages: the path, or ``<stdin>`` for ``-``."""
    return "<stdin>" if path == "-" else path


def _read(path: str) -> tuple[bytes, str | None]:
    """The input's bytes (decompressed when gzip), and why the gzip stream ended early (None when it did not).

    OSError if the file cannot be opened or read.
    """
    if path == "-":
        data = sys.stdin.buffer.read()
    else:
        with open(path, "rb") as source:
            data = source.read()
    if not data.startswith(GZIP_MAGIC):
        return data, None
    out: list[bytes] = []
    rest = data
    while rest:
        # One decompressor per gzip member: ``cat a.gz b.gz`` is a valid gzip stream, as gzip(1) reads it.
        decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            for start in range(0, len(rest), _PIECE):
                out.append(decompressor.decompress(rest[start : start + _PIECE]))
                if decompressor.eof:
                    break
        except zlib.error as error:
            return b"".join(out), f"gzip data is corrupt here ({error})"
        if not decompressor.eof:
            return b"".join(out), "gzip data is truncated here"
        rest = decompressor.unused_data
        if rest and not rest.startswith(GZIP_MAGIC):
            return b"".join(out), "the bytes after the gzip data here are not gzip"
    return b"".join(out), None


def _not_utf8(name: str, number: int, byte: int, position: int) -> str:
    """A line that is not UTF-8: the first byte that is not, and where (1-based, in bytes)."""
    return f"{name}:{number}: not UTF-8: byte 0x{byte:02X} at byte {position} of the line (save it as UTF-8)"


def _event(name: str, number: int, text: str) -> tuple[dict[str, Any] | None, str | None]:
    """A line's event, or the problem with it (without the ``; line skipped`` a reader adds)."""
    try:
        event = parse_json(text, source=f"{name}:{number}")
    except MalformedPayload as error:
        return None, f"{name}:{number}:{error.column}: not JSON: {error.reason}"
    except RecursionError:
        return None, f"{name}:{number}: not JSON this reader takes: nested too deeply"
    return _checked(f"{name}:{number}", event)


def _checked(where: str, event: Any) -> tuple[dict[str, Any] | None, str | None]:
    try:
        violations = event_schema().validate(event)
    except RecursionError:
        return None, f"{where}: /: nested too deeply to be a TRIFFT event"
    if violations:
        first = violations[0]
        more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
        return None, f"{where}: {first.pointer or '/'}: {first.message}{more}"
    try:
        # A \ud800 escape parses to half a character, which cannot be stored or sent as UTF-8.
        json.dumps(event, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as error:
        return (
            None,
            f"{where}: a \\u{ord(error.object[error.start]):04x} escape is half a character (a lone surrogate)",
        )
    return event, None


def _lines(name: str, data: bytes, cut: str | None) -> tuple[list[dict[str, Any]], list[str]]:
    """Events and problems of JSON Lines in ``data``; ``cut`` says why the input ended early, if it did."""
    events: list[dict[str, Any]] = []
    problems: list[str] = []
    lines = data.removeprefix(BOM).split(b"\n")
    if cut is not None:
        # The last line is where the damage starts: whatever part of it arrived is not a whole line.
        problems_at = len(lines)
        lines = lines[:-1]
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as error:
            problems.append(_not_utf8(name, number, line[error.start], error.start + 1) + "; line skipped")
            continue
        event, problem = _event(name, number, text)
        if problem is not None:
            problems.append(problem + "; line skipped")
        elif event is not None:
            events.append(event)
    if cut is not None:
        problems.append(f"{name}:{problems_at}: {cut}; the rest of the input is lost")
    return events, problems


def read_events(path: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Valid events from JSON Lines (``-``: standard input; gzip or not), and one message per bad line.

    A message names the file and the line (and the column or the field), and ends ``; line skipped``; a gzip
    stream that ends early is named at the line where it ends. OSError if the file cannot be opened.
    """
    data, cut = _read(path)
    return _lines(input_name(path), data, cut)


def load_events(path: str) -> list[dict[str, Any]]:
    """Every event of a saved event (.json), a JSON list of events, or JSON Lines, each valid against the contract.

    Gzip and a byte order mark are read as ``read_events`` reads them. ValueError names the file and the first
    bad line or event; OSError if the file cannot be read.
    """
    name = input_name(path)
    data, cut = _read(path)
    body = data.removeprefix(BOM)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        number = body.count(b"\n", 0, error.start) + 1
        position = error.start - body.rfind(b"\n", 0, error.start)
        raise ValueError(_not_utf8(name, number, body[error.start], position)) from None
    document: Any = None
    with contextlib.suppress(MalformedPayload, RecursionError):
        document = None if cut is not None else parse_json(text, source=name)
    if document is None:
        # Not one JSON document: JSON Lines, where the first bad line (not JSON, or not an event) is the error.
        events, problems = _lines(name, data, cut)
        if problems:
            raise ValueError(problems[0].removesuffix("; line skipped"))
        return events
    items = document if isinstance(document, list) else [document]
    if not all(isinstance(item, dict) for item in items):
        raise ValueError(f"{name}: expected a TRIFFT event, a list of them, or JSON Lines")
    for index, item in enumerate(items, 1):
        _, problem = _checked(f"{name}: event {index}", item)
        if problem is not None:
            raise ValueError(problem)
    return items
