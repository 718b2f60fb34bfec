"""The hot path's shortcuts give exactly what the long way gives (issue 14).

Reading a body with orjson, writing a profile without reading it back, looking every identifier up in one
statement and deduplicating by the insert's own conflict: each is checked here against the way it replaced.
"""

from __future__ import annotations

import json
import math
import uuid
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import Request

from contracts.traffic import Observation
from emulator.klaviyo import documents, events, ids, profiles
from emulator.klaviyo.app import _path
from emulator.klaviyo.errors import InvalidInput
from emulator.klaviyo.store import Store, dumps, read_doc
from emulator.klaviyo.store._log import observation_doc

ACCOUNT = "acct"

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def _long_way(raw: bytes) -> Any:
    """What ``documents.read`` returned before orjson: the standard library, numbers kept as written."""
    return json.loads(raw.decode("utf-8"), parse_int=int, parse_float=float)


def _same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (1 and 1.0 compare equal but are not the same value)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return bool(a == b)


@given(json_values)
def test_a_body_reads_as_the_standard_library_reads_it(value: Any) -> None:
    raw = json.dumps({"data": value}, ensure_ascii=False).encode()
    assert _same(documents.read(raw), _long_way(raw))


@pytest.mark.parametrize(
    "raw",
    [
        b'{"n": 123456789012345678901234567890}',  # orjson would make a float of it
        b'{"n": -9223372036854775809}',
        b'{"n": 18446744073709551615}',
        b'{"n": 0.12345678901234567890123}',
    ],
)
def test_integers_past_64_bits_stay_integers(raw: bytes) -> None:
    assert _same(documents.read(raw), _long_way(raw))


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b'{"a": "\\ud800"}', "lone UTF-16 surrogate"),
        (b"[" * 70 + b"]" * 70, "more than 64 levels deep"),
        (b'{"a": 1e999}', "out of range"),
        (b"\xef\xbb\xbf{}", "Malformed JSON"),
        (b'{"a": \xff}', "not UTF-8"),
    ],
)
def test_what_orjson_refuses_or_lets_through_is_still_refused_with_its_reason(raw: bytes, says: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        documents.read(raw)
    assert says in refused.value.problems[0].detail


@given(json_values)
def test_a_stored_document_reads_back_as_it_was_stored(value: Any) -> None:
    assert _same(read_doc(dumps({"doc": value})), {"doc": value})


def _stored(store: Store, profile_id: str) -> dict[str, Any]:
    with store.writing() as tx:
        row = tx.profile(ACCOUNT, profile_id)
        assert row is not None
        return dict(row)


def test_a_profile_written_is_returned_as_the_row_stored() -> None:
    store = Store()
    with store.writing() as tx:
        inserted = tx.insert_profile(ACCOUNT, "p1", {"email": "a@example.com", "external_id": "m1"}, 10.0)
    assert inserted == _stored(store, "p1")
    with store.writing() as tx:
        tx.bump_last_event_date(ACCOUNT, "p1", 99)
        before = tx.profile(ACCOUNT, "p1")
        updated = tx.update_profile(
            ACCOUNT, "p1", {"email": "b@example.com", "phone_number": "+15005550006"}, 20.0, before
        )
    assert updated == _stored(store, "p1")
    assert updated["last_event_date"] == 99 and updated["email"] == "b@example.com"


def test_a_profile_updated_with_another_profiles_row_is_read_back() -> None:
    store = Store()
    with store.writing() as tx:
        other = tx.insert_profile(ACCOUNT, "p0", {"email": "z@example.com"}, 5.0)
        tx.insert_profile(ACCOUNT, "p1", {"email": "a@example.com"}, 10.0)
        updated = tx.update_profile(ACCOUNT, "p1", {"email": "c@example.com"}, 20.0, other)
    assert dict(updated) == _stored(store, "p1")


def test_one_statement_finds_what_one_look_up_per_identifier_finds() -> None:
    store = Store()
    with store.writing() as tx:
        tx.insert_profile(ACCOUNT, "p1", {"email": "a@example.com"}, 1.0)
        tx.insert_profile(ACCOUNT, "p2", {"external_id": "m2", "phone_number": "+15005550006"}, 2.0)
        tx.insert_profile(
            ACCOUNT, "p3", {"email": "a@example.com", "anonymous_id": "anon"}, 3.0
        )  # later holder
        tx.insert_profile("other", "q1", {"external_id": "m9"}, 0.5)  # another account's
        sent = {
            "external_id": "m9",
            "email": "a@example.com",
            "phone_number": "+15005550006",
            "anonymous_id": "anon",
        }
        found = tx.profiles_holding(ACCOUNT, sent)
        one_by_one = {name: tx.profile_holding(ACCOUNT, name, value) for name, value in sent.items()}
    assert {name: row["id"] for name, row in found.items()} == {
        name: row["id"] for name, row in one_by_one.items() if row is not None
    }
    assert {name: row["id"] for name, row in found.items()} == {
        "email": "p1",
        "phone_number": "p2",
        "anonymous_id": "p3",
    }


def test_an_event_with_a_stored_events_key_is_not_written_and_says_so() -> None:
    store = Store()
    fields: dict[str, Any] = {
        "uuid": "u",
        "metric_id": "m",
        "profile_id": "p",
        "timestamp": 1,
        "properties": {},
        "value": None,
        "value_currency": None,
        "unique_id": "x",
        "dedupe_key": "u:x",
        "request_id": "r1",
        "received": 1.0,
    }
    with store.writing() as tx:
        assert tx.insert_event(ACCOUNT, "e1", **fields) is True
        assert tx.insert_event(ACCOUNT, "e2", **{**fields, "request_id": "r2"}) is False
        assert tx.insert_event("other", "e3", **fields) is True  # keys are per account
        duplicate = tx.duplicate_event(ACCOUNT, "p", "m", "u:x")
        assert duplicate is not None and duplicate["id"] == "e1" and duplicate["request_id"] == "r1"
        assert tx.count_events(ACCOUNT) == 1


def test_request_ids_are_uuids_that_sort_in_the_order_they_were_made() -> None:
    made = [ids.request_id(1_764_000_000 + n / 1000) for n in range(50)]
    assert all(uuid.UUID(made_id).version == 7 for made_id in made)
    assert made == sorted(made) and len(set(made)) == 50


def test_a_page_of_events_is_read_in_order_from_an_index_not_sorted_whole() -> None:
    store = Store()
    ran: list[str] = []
    with store.writing() as tx:
        tx._conn.set_trace_callback(ran.append)
        tx.events_window(ACCOUNT, 0, 100)
        tx._conn.set_trace_callback(None)
        (statement,) = ran  # with its values in place
        plan = [row["detail"] for row in tx._conn.execute(f"EXPLAIN QUERY PLAN {statement}")]
    assert plan and not any("TEMP B-TREE" in step for step in plan), plan


@pytest.mark.parametrize(
    "properties",
    [{"points": 5, "venue": "Rooftop", "ok": True, "none": None, "x": 1.5}, {"huge": 10**30}],
)
def test_an_observations_row_is_its_fields_in_order_with_its_request(properties: dict[str, Any]) -> None:
    seen = Observation(
        "event", "/data/attributes", index=1, member="m1", properties=properties, dropped=["email"]
    )
    doc = observation_doc(seen, "r-1")
    assert doc == dumps(seen.to_dict())
    assert json.loads(doc)["request_id"] == "r-1" and list(json.loads(doc)) == list(seen.to_dict())


@pytest.mark.parametrize("path", ["/api/events", "/api/profiles/a?b#c\\d/", "/api/profiles/é/"])
def test_the_logged_path_is_the_one_starlettes_url_gives(path: str) -> None:
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": b"",
        "headers": [(b"host", b"klaviyo.test")],
        "scheme": "http",
        "server": ("klaviyo.test", 80),
    }
    request = Request(scope)
    assert _path(request) == request.url.path


def _event_body(n: int, member: int, metric: str) -> dict[str, Any]:
    return {
        "data": {
            "type": "event",
            "attributes": {
                "properties": {"n": n},
                "unique_id": f"e{n}",
                "time": f"2026-11-0{1 + n % 5}T10:00:00Z",
                "metric": {"data": {"type": "metric", "attributes": {"name": metric}}},
                "profile": {"data": {"type": "profile", "attributes": {"external_id": f"m{member}"}}},
            },
        }
    }


def test_filtered_event_pages_are_the_same_whether_the_store_narrows_them_or_not(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(36):
        sent = client.post(
            "/api/events", json=_event_body(n, n % 3, ("Points Earned", "Tier Changed")[n % 2])
        )
        assert sent.status_code == 202, sent.text
    everything = client.get("/api/events", params={"page[size]": 100}).json()["data"]
    profiles = sorted({e["relationships"]["profile"]["data"]["id"] for e in everything})
    metrics = sorted({e["relationships"]["metric"]["data"]["id"] for e in everything})
    assert len(profiles) == 3 and len(metrics) == 2
    p, q, m = profiles[0], profiles[1], metrics[0]
    asked = [
        f'equals(profile_id,"{p}")',
        f'equals(metric_id,"{m}"),equals(profile_id,"{p}")',
        f'equals(profile_id,"{p}"),equals(profile_id,"{q}")',
        f'or(equals(profile_id,"{p}"),equals(profile_id,"{q}"))',
        f'equals(profile_id,"{p}"),greater-than(datetime,2026-11-03T00:00:00Z)',
        f'not(equals(profile_id,"{p}"))',
    ]

    def pages(sort: str | None) -> list[list[str]]:
        found = []
        for expression in asked:
            params = {"filter": expression, "page[size]": 100, **({"sort": sort} if sort else {})}
            answer = client.get("/api/events", params=params)
            assert answer.status_code == 200, answer.text
            found.append([e["id"] for e in answer.json()["data"]])
        return found

    narrowed = pages(None), pages("-datetime")
    monkeypatch.setattr(
        events, "_named_ids", lambda nodes: {}
    )  # the long way: every event, filtered in Python
    assert (pages(None), pages("-datetime")) == narrowed
    counts = [len(ids) for ids in narrowed[0]]
    # 36 events of 3 members, alternating 2 metrics; the datetime bound keeps some of one member's events only
    assert counts[:4] == [12, 6, 0, 24] and 0 < counts[4] < 12 and counts[5] == 24


def test_filtered_profile_pages_are_the_same_whether_the_store_narrows_them_or_not(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(12):
        attributes = {"external_id": f"m{n}", "email": f"p{n}@example.com"}
        made = client.post(
            "/api/profile-import", json={"data": {"type": "profile", "attributes": attributes}}
        )
        assert made.status_code in (200, 201), made.text
    some_id = client.get("/api/profiles", params={"filter": 'equals(external_id,"m3")'}).json()["data"][0][
        "id"
    ]
    asked = [
        'equals(email,"p2@example.com")',
        'any(external_id,["m1","m5","nobody"])',
        'equals(external_id,"m1"),equals(email,"p2@example.com")',
        'or(equals(external_id,"m1"),equals(external_id,"m2"))',
        f'equals(id,"{some_id}")',
        'any(external_id,["m1","m2","m3"]),greater-than(created,2020-01-01T00:00:00Z)',
    ]

    def pages() -> list[list[str]]:
        found = []
        for expression in asked:
            answer = client.get("/api/profiles", params={"filter": expression, "page[size]": 100})
            assert answer.status_code == 200, answer.text
            found.append(sorted(p["attributes"]["external_id"] for p in answer.json()["data"]))
        return found

    narrowed = pages()
    monkeypatch.setattr(profiles, "_holding", lambda nodes: None)  # the long way: every profile, in Python
    assert pages() == narrowed
    assert narrowed == [["m2"], ["m1", "m5"], [], ["m1", "m2"], ["m3"], ["m1", "m2", "m3"]]


def test_a_ulid_spells_its_milliseconds_first_in_crockford_base32() -> None:
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    for now in (0.0, 1_764_000_000.123, 2**47 / 1000):
        made = ids.ulid(now)
        assert ids.ULID.match(made)
        value = 0
        for char in made:
            value = value * 32 + alphabet.index(char)
        assert value >> 80 == int(now * 1000) and value < 2**128
    in_turn = [ids.ulid(1_764_000_000 + n) for n in range(20)]
    assert in_turn == sorted(in_turn)
