"""Fuzzing the fake Klaviyo: whatever a client sends, the answer is never a 5xx, and every 4xx is JSON:API.

Bodies start valid and are then broken (keys dropped, types changed, garbage inserted, huge strings, deep
nesting, random JSON, invalid UTF-8); query strings and headers are drawn from near-valid and garbage values.
One emulator serves the whole module, so later examples also meet the state earlier ones left behind.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from _emulator_bodies import assert_jsonapi_error, event_body, profile_attributes, valid_bodies
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.client import InProcessTransport
from emulator.klaviyo import Emulator, create_app, spec

API_KEY = "pk_test_trifft_fuzz"
HEADERS = {
    "Authorization": f"Klaviyo-API-Key {API_KEY}",
    "revision": "2026-07-15",
    "Content-Type": "application/vnd.api+json",
    "Accept": "application/vnd.api+json",
}
FUZZ = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
WRITES = [op for op in spec.operations() if op.method in ("POST", "PATCH")]
READS = [op for op in spec.operations() if op.method == "GET"]


class Fuzzed:
    """One emulator with a profile, an event, a metric and an import job in it, and a client into it."""

    def __init__(self) -> None:
        self.http = httpx.Client(
            transport=InProcessTransport(create_app(Emulator(rate_limits="off"))),
            base_url="http://klaviyo.test",
            headers=HEADERS,
        )
        profile = self.http.post("/api/profile-import", json=profile_attributes(email="seed@example.com"))
        self.http.post("/api/events", json=event_body(profile={"email": "seed@example.com"}))
        job = self.http.post("/api/profile-bulk-import-jobs", json=valid_bodies("x")["bulk_import_profiles"])
        self.ids = {
            "profile": profile.json()["data"]["id"],
            "event": self.http.get("/api/events").json()["data"][0]["id"],
            "metric": self.http.get("/api/metrics").json()["data"][0]["id"],
            "job": job.json()["data"]["id"],
        }
        self.bodies = valid_bodies(self.ids["profile"])

    def url(self, operation: spec.Operation) -> str:
        """The operation's path, with the id of a resource that exists."""
        kind = {"get_event": "event", "get_metric": "metric", "get_bulk_import_profiles_job": "job"}
        existing = self.ids[kind.get(operation.operation_id, "profile")]
        return operation.path.replace("{id}", existing).replace("{job_id}", existing)


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[Fuzzed]:
    target = Fuzzed()
    yield target
    target.http.close()


def assert_never_a_server_error(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text[:2000]
    if response.status_code >= 400:
        assert_jsonapi_error(response)
    elif response.content:
        json.loads(response.content)


# -- strategies ------------------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
"""Any JSON value; shrinks towards null and small scalars."""


def _nested(depth: int, leaf: Any) -> Any:
    for level in range(depth):
        leaf = [leaf] if level % 2 else {"k": leaf}
    return leaf


special_values = st.sampled_from(
    [
        "x" * 120_000,  # over Klaviyo's 100 KB per string
        "not-an-email",
        "+1",
        "\u0000",
        "1989-12-31T23:59:59Z",
        "2999-01-01T00:00:00Z",
        "\ud800",  # a lone surrogate: valid JSON escape, not valid Unicode
        10**30,
        -(2**63) - 1,
        1e308,
        "",
        [],
        {},
        _nested(80, None),  # deeper than the emulator's 64 levels
    ]
)


def _pointers(value: Any, here: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield here
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _pointers(item, (*here, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _pointers(item, (*here, index))


@st.composite
def broken(draw: st.DrawFn, valid: dict[str, Any]) -> Any:
    """``valid`` with one to three places broken; shrinks towards fewer breaks at shallower places."""
    document: Any = json.loads(json.dumps(valid))
    for _ in range(draw(st.integers(1, 3))):
        places = list(_pointers(document))
        place = draw(st.sampled_from(places))
        how = draw(st.sampled_from(["drop", "replace", "special", "insert", "nest"]))
        if place == ():
            document = copy.deepcopy(draw(json_values)) if how in ("replace", "drop") else document
            continue
        parent = document
        for step in place[:-1]:
            parent = parent[step]
        last = place[-1]
        if how == "drop":
            del parent[last]
        elif how == "replace":
            parent[last] = copy.deepcopy(draw(json_values))
        elif how == "special":
            parent[last] = copy.deepcopy(draw(special_values))  # the samples are shared: never mutate them
        elif how == "insert" and isinstance(parent[last], dict):
            parent[last][draw(st.text(max_size=12))] = copy.deepcopy(draw(json_values))
        elif how == "nest":
            parent[last] = _nested(draw(st.integers(1, 200)), parent[last])
    return document


@st.composite
def raw_bodies(draw: st.DrawFn, valid: dict[str, Any]) -> bytes:
    """A broken body serialised, sometimes with its bytes corrupted or replaced by random bytes."""
    text = json.dumps(draw(broken(valid)), ensure_ascii=draw(st.booleans()))
    data = text.encode("utf-8", "surrogatepass")
    how = draw(st.sampled_from(["as is", "as is", "truncate", "bad utf-8", "bytes"]))
    if how == "truncate" and data:
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif how == "bad utf-8":
        at = draw(st.integers(0, len(data)))
        data = (
            data[:at]
            + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"]))
            + data[at:]
        )
    elif how == "bytes":
        data = draw(st.binary(max_size=64))
    return data


header_values = st.one_of(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40).map(str.encode),
    st.binary(max_size=20).map(lambda b: bytes(c for c in b if c >= 0x20 and c != 0x7F)),
)
"""Header values a socket could deliver: printable ASCII or latin-1 bytes, no control characters."""


@st.composite
def header_sets(draw: st.DrawFn) -> dict[str, bytes]:
    """Valid headers with some replaced by near-misses or garbage, or left out."""
    headers = {name: value.encode() for name, value in HEADERS.items()}
    choices = {
        "Authorization": [
            b"",
            b"Klaviyo-API-Key",
            b"Bearer ",
            b"Basic abc",
            b"Klaviyo-API-Key pk_other_account",
        ],
        "revision": [
            b"",
            b"2026-07-15.pre",
            b"2026-10-15",
            b"2023-01-01",
            b"2099-01-01",
            b"2026-13-45",
            b"latest",
        ],
        "Content-Type": [b"", b"application/json", b"text/plain", b"application/vnd.api+json; charset=utf-8"],
        "Accept": [b"*/*", b"text/html"],
    }
    for name, near in choices.items():
        how = draw(st.sampled_from(["keep", "keep", "near", "garbage", "drop"]))
        if how == "near":
            headers[name] = draw(st.sampled_from(near))
        elif how == "garbage":
            headers[name] = draw(header_values)
        elif how == "drop":
            del headers[name]
    return headers


def _parameter_values(operation: spec.Operation) -> st.SearchStrategy[tuple[str, str]]:
    parameters = operation.query()
    names = st.sampled_from([*sorted(parameters), "bogus", "page[size]", "fields[nothing]", "include"])
    near = st.sampled_from(
        [
            *[value for p in parameters.values() for value in p.enum],
            'equals(email,"a@b.com")',
            'any(email,["a@b.com","c@d.com"])',
            "greater-than(updated,2024-01-01T00:00:00Z)",
            'equals(metric_id,"abc"),greater-or-equal(datetime,2024-01-01T00:00:00Z)',
            'and(or(equals(id,"x"),not(equals(id,"y"))))',
            'any(email,"x")',
            "equals(email,",
            "not(" * 300,
            "-datetime",
            "0",
            "1000",
            "99999999999999999999999",
            "=bmV4dDo6b2Zmc2V0Ojoy",
            "http://klaviyo.test/api/profiles?page%5Bcursor%5D=bmV4dDo6b2Zmc2V0Ojoy",
        ]
    )
    return st.tuples(names, near | st.text(max_size=30))


@st.composite
def query_strings(draw: st.DrawFn, operation: spec.Operation) -> str:
    """Zero to four parameters (names repeat sometimes), percent-encoded as a client would, or raw garbage."""
    pairs = draw(st.lists(_parameter_values(operation), max_size=4))
    if draw(st.integers(0, 9)) == 0:
        return draw(st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40))
    return "&".join(f"{quote(name, safe='[]')}={quote(value, safe='')}" for name, value in pairs)


# -- properties ------------------------------------------------------------------------------------------------------


def test_every_write_operation_has_a_valid_body_to_break(fuzzed: Fuzzed) -> None:
    assert sorted(fuzzed.bodies) == sorted(op.operation_id for op in WRITES)
    for operation in WRITES:
        response = fuzzed.http.request(
            operation.method, fuzzed.url(operation), json=fuzzed.bodies[operation.operation_id]
        )
        assert response.status_code == operation.success, (operation.operation_id, response.text)


@pytest.mark.parametrize("operation", WRITES, ids=lambda op: op.operation_id)
@FUZZ
@given(data=st.data())
def test_a_broken_body_is_never_a_server_error(
    fuzzed: Fuzzed, operation: spec.Operation, data: st.DataObject
) -> None:
    body = data.draw(raw_bodies(fuzzed.bodies[operation.operation_id]), label="body")
    response = fuzzed.http.request(operation.method, fuzzed.url(operation), content=body)
    assert_never_a_server_error(response)


@pytest.mark.parametrize("operation", WRITES, ids=lambda op: op.operation_id)
@FUZZ
@given(data=st.data())
def test_a_body_of_random_json_is_never_a_server_error(
    fuzzed: Fuzzed, operation: spec.Operation, data: st.DataObject
) -> None:
    body = data.draw(json_values, label="body")
    response = fuzzed.http.request(operation.method, fuzzed.url(operation), json=body)
    assert_jsonapi_error(response, 400, "invalid")


@pytest.mark.parametrize("operation", READS, ids=lambda op: op.operation_id)
@FUZZ
@given(data=st.data())
def test_a_garbled_query_string_is_never_a_server_error(
    fuzzed: Fuzzed, operation: spec.Operation, data: st.DataObject
) -> None:
    query = data.draw(query_strings(operation), label="query")
    response = fuzzed.http.get(f"{fuzzed.url(operation)}?{query}")
    assert_never_a_server_error(response)


@pytest.mark.parametrize("operation", [*READS, *WRITES], ids=lambda op: op.operation_id)
@FUZZ
@given(data=st.data())
def test_garbled_headers_are_never_a_server_error(
    fuzzed: Fuzzed, operation: spec.Operation, data: st.DataObject
) -> None:
    headers = data.draw(header_sets(), label="headers")
    body = fuzzed.bodies.get(operation.operation_id)
    request = httpx.Request(
        operation.method,
        f"http://klaviyo.test{fuzzed.url(operation)}",
        headers=[(name.encode(), value) for name, value in headers.items()],
        content=None if body is None else json.dumps(body).encode(),
    )
    response = fuzzed.http.send(request)
    assert_never_a_server_error(response)
    if "Authorization" not in headers:
        assert response.status_code == 401
