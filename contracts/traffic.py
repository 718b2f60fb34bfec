"""Klaviyo traffic, understood once: the request log's records and what each request carried.

``observe(method, path, body)`` is the one decoder of Klaviyo request bodies. It turns a request into
``Observation``\\ s, one per thing Klaviyo acts on, in the order Klaviyo applies them: a profile block (the
profile of an event, a profile import, a row of a bulk job, a (un)subscription), then the events sent with it.
The fake Klaviyo calls it when it records a request and fills in what it did with each observation (the
``outcome``: which profile a block resolved to, which event was stored or deduplicated and why); the verifier,
replay and the dashboard read observations and never a body again. Traffic captured elsewhere (a proxy, a
file) is decoded the same way, without outcomes.

The decoder is tolerant: a body Klaviyo would refuse still yields what can be read of it (a refused request is
shown with the identifiers it named), and a body that cannot be read at all yields ``Unreadable``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

from ._klaviyo import match_operation

Kind = Literal["profile", "event", "subscription"]
#: What Klaviyo did with an observation. Profiles: created, updated, unchanged (nothing new; identifiers that
#: belong to another profile are listed in ``dropped``); events: stored, deduplicated; subscriptions:
#: subscribed, pending (a double opt-in confirmation was requested; subscribed once confirmed), unsubscribed,
#: ignored (no such profile); any: rejected (the whole request was refused), failed (a row of a bulk job failed
#: on its own).
Outcome = Literal[
    "created",
    "updated",
    "unchanged",
    "stored",
    "deduplicated",
    "subscribed",
    "pending",
    "unsubscribed",
    "ignored",
    "rejected",
    "failed",
]
IDENTIFIERS = ("email", "phone_number", "external_id", "anonymous_id", "_kx")


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request as the emulator (or a proxy) logged it: who sent what, and what was answered."""

    seq: int
    id: str
    method: str
    path: str
    status: int
    received: float
    operation: str | None = None
    query: str = ""
    account: str | None = None
    masked_key: str | None = None
    duration_ms: float = 0.0
    fault: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    request_body: str | None = None
    response_body: str | None = None
    #: The request's headers as sent, but for credentials (``Authorization``, ``Cookie``), which are never kept.
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        """Klaviyo took it: a 2xx, not an injected fault."""
        return 200 <= self.status < 300 and self.fault is None

    @property
    def throttled(self) -> bool:
        return self.status == 429

    @property
    def invalid(self) -> bool:
        """Refused by Klaviyo (a 4xx other than 429, no injected fault): what "rejected" counts, apart from
        throttled requests and injected faults."""
        return 400 <= self.status < 500 and self.status != 429 and self.fault is None

    def to_dict(self) -> dict[str, Any]:
        # Shallow: the values are JSON already, and a deep copy per logged request costs more than the request.
        return {name: getattr(self, name) for name in _REQUEST_FIELDS}

    def __getitem__(self, name: str) -> Any:
        """``record["status"]``: the request log was a list of dicts before it was typed; code that reads it so
        keeps working."""
        if name not in self.__dataclass_fields__:
            raise KeyError(name)
        return getattr(self, name)

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> RequestRecord:
        values = {k: v for k, v in row.items() if k in _REQUEST_NAMES}
        values["errors"] = list(values.get("errors") or [])
        values["headers"] = dict(values.get("headers") or {})
        values["query"] = values.get("query") or ""
        return cls(**values)


@dataclass(slots=True)
class Observation:
    """One thing a request carried, and (from the emulator) what Klaviyo did with it. Filled in where the request
    is understood (``observe``, then the emulator's outcome); read-only for everyone after that.

    ``pointer`` is where it sits in the request body: a profile block's ``data`` object, an event's
    ``attributes``. An event points at its profile block with ``block``. ``member`` is the profile's
    ``external_id`` as sent (TRIFFT's member UUID); ``identifiers`` the profile identifiers sent.
    """

    kind: Kind
    pointer: str
    request: int = 0  # the request's seq in its log; 0 before it is logged
    request_id: str = ""
    index: int = 0  # order within the request, as Klaviyo applies it
    block: str = ""  # an event's profile block
    member: str | None = None
    identifiers: dict[str, Any] = field(default_factory=dict)
    profile_ref: str | None = None  # a Klaviyo profile id sent (data.id, the path's id)
    attributes: dict[str, Any] = field(default_factory=dict)  # profile attributes sent
    meta: dict[str, Any] | None = None
    refresh: bool = False  # sent to a profile endpoint, not riding along with an event
    metric: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    unique_id: str | None = None
    time: Any = None
    value: Any = None
    consent: str | None = None  # SUBSCRIBED or UNSUBSCRIBED
    channels: dict[str, Any] = field(default_factory=dict)
    outcome: Outcome | None = None
    profile_id: str | None = None  # the profile Klaviyo applied it to
    event_id: str | None = None  # the event stored, or the earlier one it duplicates
    reason: str | None = None
    dropped: list[str] = field(default_factory=list)  # identifiers not applied: another profile holds them

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _OBSERVATION_FIELDS}

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> Observation:
        return cls(**{k: v for k, v in row.items() if k in _OBSERVATION_NAMES})


_REQUEST_FIELDS = tuple(f.name for f in fields(RequestRecord))
_OBSERVATION_FIELDS = tuple(f.name for f in fields(Observation))
_REQUEST_NAMES = frozenset(_REQUEST_FIELDS)
_OBSERVATION_NAMES = frozenset(_OBSERVATION_FIELDS)


@dataclass(frozen=True, slots=True)
class Traffic:
    """What one account sent: its request log, and the observations of every request in it; ``unreadable``
    holds the accepted requests of a captured log whose body could not be read, and why."""

    requests: list[RequestRecord]
    observations: list[Observation]
    unreadable: list[tuple[RequestRecord, str]] = field(default_factory=list)


#: Request headers never kept in a log.
SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A request's headers as a log keeps them: lower-case names, credentials left out."""
    return {name.lower(): value for name, value in headers.items() if name.lower() not in SECRET_HEADERS}


def value_at(document: Any, pointer: str, missing: Any = None) -> Any:
    """The value an RFC 6901 JSON pointer names in a document, or ``missing`` where there is none."""
    for part in pointer.split("/")[1:] if pointer else []:
        key = part.replace("~1", "/").replace("~0", "~")
        if isinstance(document, dict) and key in document:
            document = document[key]
        elif isinstance(document, list) and key.isdigit() and int(key) < len(document):
            document = document[int(key)]
        else:
            return missing
    return document


class Unreadable(ValueError):
    """A body in no shape Klaviyo takes for its endpoint; the message says what is wrong."""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _block(data: Any, pointer: str, kind: Kind = "profile", **extra: Any) -> Observation:
    data = _dict(data)
    attributes = dict(_dict(data.get("attributes")))
    # Create Event's profile carries its meta inside its attributes (2026-07-15), or beside them (2026-10-15).
    meta = _dict(data.get("meta")) or _dict(attributes.pop("meta", None)) or None
    return Observation(
        kind,
        pointer,
        member=_text(attributes.get("external_id")),
        identifiers={k: attributes[k] for k in IDENTIFIERS if attributes.get(k) is not None},
        profile_ref=_text(data.get("id")),
        attributes=attributes,
        meta=meta,
        **extra,
    )


def _event(attributes: Any, pointer: str, block: Observation) -> Observation:
    attributes = _dict(attributes)
    metric = _dict(_dict(_dict(attributes.get("metric")).get("data")).get("attributes")).get("name")
    return Observation(
        "event",
        pointer,
        block=block.pointer,
        member=block.member,
        identifiers=block.identifiers,
        profile_ref=block.profile_ref,
        metric=_text(metric),
        properties=_dict(attributes.get("properties")),
        unique_id=_text(attributes.get("unique_id")),
        time=attributes.get("time"),
        value=attributes.get("value"),
    )


def _decode(operation: str, path: str, body: Any) -> Iterator[Observation]:
    data = _dict(_dict(body).get("data"))
    attributes = _dict(data.get("attributes"))
    if operation == "create_event":
        block = _block(_dict(attributes.get("profile")).get("data"), "/data/attributes/profile/data")
        yield block
        yield _event(attributes, "/data/attributes", block)
    elif operation == "bulk_create_events":
        base = "/data/attributes/events-bulk-create/data"
        for g, group in enumerate(_list(_dict(attributes.get("events-bulk-create")).get("data"))):
            group_attributes = _dict(_dict(group).get("attributes"))
            block = _block(
                _dict(group_attributes.get("profile")).get("data"), f"{base}/{g}/attributes/profile/data"
            )
            yield block
            for e, event in enumerate(_list(_dict(group_attributes.get("events")).get("data"))):
                pointer = f"{base}/{g}/attributes/events/data/{e}/attributes"
                yield _event(_dict(event).get("attributes"), pointer, block)
    elif operation in ("create_or_update_profile", "create_profile"):
        yield _block(data, "/data", refresh=True)
    elif operation == "update_profile":
        block = _block(data, "/data", refresh=True)
        yield replace(block, profile_ref=path.rstrip("/").rsplit("/", 1)[-1])
    elif operation == "bulk_import_profiles":
        for i, row in enumerate(_list(_dict(attributes.get("profiles")).get("data"))):
            yield _block(row, f"/data/attributes/profiles/data/{i}", refresh=True)
    elif operation in ("bulk_subscribe_profiles", "bulk_unsubscribe_profiles"):
        consent = "SUBSCRIBED" if operation == "bulk_subscribe_profiles" else "UNSUBSCRIBED"
        for i, row in enumerate(_list(_dict(attributes.get("profiles")).get("data"))):
            block = _block(row, f"/data/attributes/profiles/data/{i}", "subscription", consent=consent)
            channels = _dict(block.attributes.get("subscriptions"))
            yield replace(block, channels=channels)


#: The shape each endpoint's body must have for its observations to mean anything: (pointer, type) pairs.
_REQUIRED: dict[str, tuple[tuple[tuple[str, ...], type], ...]] = {
    "create_event": (
        (("data", "attributes", "profile", "data"), dict),
        (("data", "attributes", "metric", "data", "attributes", "name"), str),
    ),
    "bulk_create_events": ((("data", "attributes", "events-bulk-create", "data"), list),),
    "create_or_update_profile": ((("data",), dict),),
    "create_profile": ((("data",), dict),),
    "update_profile": ((("data",), dict),),
    "bulk_import_profiles": ((("data", "attributes", "profiles", "data"), list),),
    "bulk_subscribe_profiles": ((("data", "attributes", "profiles", "data"), list),),
    "bulk_unsubscribe_profiles": ((("data", "attributes", "profiles", "data"), list),),
}


def _check(operation: str, body: Any) -> None:
    for names, wanted in _REQUIRED.get(operation, ()):
        value = body
        for name in names:
            value = value.get(name) if isinstance(value, dict) else None
        if not isinstance(value, wanted):
            pointer = "/" + "/".join(names)
            raise Unreadable(f"{pointer} is not {'an object' if wanted is dict else 'a ' + wanted.__name__}")


def observe(
    method: str, path: str, body: Any, strict: bool = False, operation_id: str | None = None
) -> list[Observation]:
    """What a Klaviyo request carried, in the order Klaviyo applies it; nothing for reads or other endpoints.

    ``body`` is the parsed JSON. With ``strict``, a body that is not the endpoint's shape raises ``Unreadable``
    (the verifier judges only what it can read); otherwise whatever can be read is returned. A caller that has
    routed the request already passes its ``operation_id`` and saves matching the path again.
    """
    if method.upper() == "GET":
        return []
    if operation_id is None:
        operation = match_operation(method, path)
        if operation is None:
            return []
        operation_id = operation.operation_id
    if strict:
        _check(operation_id, body)
    found = list(_decode(operation_id, path, body))
    for index, seen in enumerate(found):
        seen.index = index
    return found


def decode_log(records: list[RequestRecord]) -> Traffic:
    """Traffic from a request log captured elsewhere (bodies kept as text, no outcomes known)."""
    observations: list[Observation] = []
    unreadable: list[tuple[RequestRecord, str]] = []
    for record in records:
        if not record.accepted or record.method.upper() == "GET":
            continue
        try:
            body = json.loads(record.request_body or "null")
            found = observe(record.method, record.path, body, strict=True)
        except ValueError as error:  # json's errors and Unreadable
            unreadable.append((record, f"its body is not the shape Klaviyo accepts ({error})"))
            continue
        observations += [replace(o, request=record.seq, request_id=record.id) for o in found]
    return Traffic(records, observations, unreadable)
