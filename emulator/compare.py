"""Re-send a recording to another Klaviyo and say, exchange by exchange, where the answers differ.

A recording is what ``GET /_emulator/export`` writes (JSON Lines of the request log: method, path, query, the
headers but credentials, the body, and the answer). Each recorded request is sent again, in order, to
``base_url`` under a fresh API key, and the new answer is compared with the recorded one on what a client
relies on: the status; for errors, each error's ``code`` and ``source.pointer``; for successes, the shape of the
JSON body (its keys and value types, not its values, since ids and timestamps differ by nature). Exchanges the
proxy answered itself (a blocked request, an injected fault, an unreachable upstream) were never Klaviyo's answer
and are skipped.

What this cannot compare: a recorded path that names an object of the recorded account (``/api/profiles/01J…``)
names nothing in the fresh account, so such reads differ for that reason alone.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from contracts.traffic import RequestRecord
from sync.summary import counted

#: Headers not re-sent: they belong to the recorded connection or are set anew.
_NOT_RESENT = frozenset({"host", "content-length", "connection", "transfer-encoding", "accept-encoding"})


@dataclass(frozen=True)
class Difference:
    """Where one exchange's new answer differs from the recorded one."""

    seq: int
    method: str
    path: str
    aspect: str  # status, error or shape
    recorded: Any
    here: Any

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Comparison:
    compared: int
    skipped: int
    differences: list[Difference]

    def to_dict(self) -> dict[str, Any]:
        return {
            "compared": self.compared,
            "skipped": self.skipped,
            "differences": [d.to_dict() for d in self.differences],
        }

    def table(self) -> str:
        lines = [f"{'#':>5}  {'request':<48} {'aspect':<7} recorded -> here"]
        for d in self.differences:
            request = f"{d.method} {d.path}"[:48]
            lines.append(f"{d.seq:>5}  {request:<48} {d.aspect:<7} {_short(d.recorded)} -> {_short(d.here)}")
        differing = len({d.seq for d in self.differences})
        verdict = (
            f"{differing} {'differs' if differing == 1 else 'differ'}" if differing else "no differences"
        )
        lines.append(
            f"{counted(self.compared, 'exchange')} compared ({self.skipped} answered by the proxy itself "
            f"skipped): {verdict}"
        )
        return "\n".join(lines)


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:59] + "…"


def load_recording(path: str) -> list[RequestRecord]:
    """The exchanges of a recording; ValueError names the file, line and what is wrong."""
    records = []
    with open(path, "rb") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = RequestRecord.from_dict(json.loads(line.decode("utf-8")))
            except UnicodeDecodeError as error:
                raise ValueError(f"{path}:{number}: not UTF-8 (byte 0x{line[error.start]:02X})") from None
            except (ValueError, TypeError, AttributeError, RecursionError) as error:
                raise ValueError(f"{path}:{number}: not an exchange of a recording ({error})") from None
            # Sent again as they are: a request line of another shape would fail far from the line it came from.
            if not (
                isinstance(record.method, str)
                and isinstance(record.path, str)
                and isinstance(record.status, int)
                and isinstance(record.request_body, str | None)
            ):
                raise ValueError(
                    f"{path}:{number}: not an exchange of a recording (method, path or body mistyped)"
                )
            records.append(record)
    return records


def _body(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def shape(value: Any) -> Any:
    """A JSON value's shape: objects keep their keys, arrays the shape of their first item, scalars their type."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, bool) or value is None:
        return "boolean" if isinstance(value, bool) else "null"
    return "number" if isinstance(value, int | float) else "string"


def _shape_differences(old: Any, new: Any, pointer: str = "") -> Iterator[tuple[str, Any, Any]]:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() | new.keys()):
            where = f"{pointer}/{key}"
            if key not in new:
                yield where, "present", "missing"
            elif key not in old:
                yield where, "missing", "present"
            else:
                yield from _shape_differences(old[key], new[key], where)
    elif isinstance(old, list) and isinstance(new, list):
        if old and new:
            yield from _shape_differences(old[0], new[0], f"{pointer}/0")
    elif old != new and "null" not in (
        old,
        new,
    ):  # a nullable field holds null in one answer, a value in the other
        yield pointer or "/", old, new


def _errors(body: Any) -> list[tuple[Any, Any]]:
    errors = body.get("errors") if isinstance(body, dict) else None
    return sorted(
        (
            (e.get("code"), (e.get("source") or {}).get("pointer"))
            for e in errors or []
            if isinstance(e, dict)
        ),
        key=str,
    )


def differences(record: RequestRecord, status: int, text: str) -> list[Difference]:
    """How a new answer (status, body text) differs from the recorded one."""

    def differ(aspect: str, recorded: Any, here: Any) -> Difference:
        return Difference(record.seq, record.method, record.path, aspect, recorded, here)

    if status != record.status:
        return [differ("status", record.status, status)]
    old, new = _body(record.response_body), _body(text)
    if status >= 400:
        return [differ("error", _errors(old), _errors(new))] if _errors(old) != _errors(new) else []
    return [
        differ("shape", f"{p}: {a}", f"{p}: {b}") for p, a, b in _shape_differences(shape(old), shape(new))
    ]


def compare(
    recording: list[RequestRecord],
    base_url: str,
    api_key: str | None = None,
    transport: httpx.BaseTransport | None = None,
    timeout: float = 30.0,
) -> Comparison:
    """Send the recording's requests to ``base_url`` (a fresh key unless one is given) and compare the answers.
    Raises httpx.TransportError when ``base_url`` cannot be reached."""
    key = api_key or f"pk_compare_{secrets.token_hex(8)}"
    found: list[Difference] = []
    compared = skipped = 0
    with httpx.Client(base_url=base_url.rstrip("/"), transport=transport, timeout=timeout) as http:
        for record in recording:
            if record.fault is not None:
                skipped += 1
                continue
            headers = {k: v for k, v in record.headers.items() if k.lower() not in _NOT_RESENT}
            headers["Authorization"] = f"Klaviyo-API-Key {key}"
            url = record.path + (f"?{record.query}" if record.query else "")
            content = record.request_body.encode("utf-8") if record.request_body is not None else None
            answer = http.request(record.method, url, headers=headers, content=content)
            compared += 1
            found += differences(record, answer.status_code, answer.text)
    return Comparison(compared, skipped, found)
