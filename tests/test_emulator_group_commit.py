"""Group commit: requests that arrive together share one transaction, each under its own savepoint. With
``--db`` each answer waits for the commit that holds its writes and its log line; in memory nothing waits."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import API_KEY, HEADERS

from contracts.traffic import RequestRecord
from emulator.klaviyo import Emulator, Store, create_app
from emulator.klaviyo.errors import NotFound
from emulator.klaviyo.store import account_id

ACCOUNT = account_id(API_KEY)


def committed_lists(path: Path) -> list[str]:
    """What another process would read from the file: committed rows only."""
    other = sqlite3.connect(path)
    try:
        return sorted(row[0] for row in other.execute("SELECT id FROM lists WHERE account = ?", (ACCOUNT,)))
    finally:
        other.close()


def logged(path: Path) -> list[tuple[str, int]]:
    other = sqlite3.connect(path)
    try:
        return sorted(other.execute("SELECT path, status FROM requests"))
    finally:
        other.close()


def test_a_failed_request_in_a_shared_commit_undoes_only_its_own_writes_and_is_still_logged(
    tmp_path: Path,
) -> None:
    path = tmp_path / "klaviyo.db"
    store = Store(str(path))

    async def burst() -> list[str]:
        with store.serving() as tx:
            tx.insert_list(ACCOUNT, "kept", "Kept", "single_opt_in", 1.0)
        with pytest.raises(NotFound), store.serving() as tx:
            tx.insert_list(ACCOUNT, "undone", "Undone", "single_opt_in", 1.0)
            raise NotFound("the handler refuses after writing")
        failed = RequestRecord(
            seq=0, id="r-failed", method="POST", path="/api/lists", status=404, received=1.0
        )
        store.log(failed, grouped=True)
        with store.serving() as tx:
            tx.insert_list(ACCOUNT, "kept too", "Kept too", "single_opt_in", 1.0)
        before = committed_lists(path)  # still one open transaction: nothing is committed yet
        await store.durable()
        return before

    before = asyncio.run(burst())
    assert before == []
    assert committed_lists(path) == ["kept", "kept too"]
    assert logged(path) == [("/api/lists", 404)]
    store.close()


def event(n: int, profile_id: str | None = None) -> dict[str, Any]:
    profile: dict[str, Any] = {"type": "profile", "attributes": {"email": f"m{n}@example.com"}}
    if profile_id is not None:
        profile["id"] = profile_id
    return {
        "data": {
            "type": "event",
            "attributes": {
                "properties": {"points": n},
                "unique_id": f"event-{n}",
                "metric": {"data": {"type": "metric", "attributes": {"name": "Points Earned"}}},
                "profile": {"data": profile},
            },
        }
    }


def test_concurrent_requests_are_each_answered_after_a_commit_that_holds_them(tmp_path: Path) -> None:
    path = tmp_path / "klaviyo.db"
    store = Store(str(path))
    app = create_app(Emulator(store=store, rate_limits="off"))

    async def send() -> list[tuple[int, int, list[str]]]:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://klaviyo.test", headers=HEADERS
        ) as http:

            async def one(n: int) -> tuple[int, int, list[str]]:
                # Every fourth names a profile id that does not exist: its handler answers 400.
                body = event(n, "01NOSUCHPROFILE0000000000" if n % 4 == 0 else None)
                response = await http.post("/api/events", json=body)
                return n, response.status_code, events_committed(path)

            return await asyncio.gather(*(one(n) for n in range(40)))

    answers = asyncio.run(send())
    for n, status, committed in answers:
        if n % 4 == 0:
            assert status == 400
            assert f"event-{n}" not in committed
        else:
            assert status == 202
            assert f"event-{n}" in committed  # durable when answered
    assert sorted(events_committed(path)) == sorted(f"event-{n}" for n in range(40) if n % 4)
    assert sorted(s for p, s in logged(path)) == [202] * 30 + [400] * 10
    store.close()


def events_committed(path: Path) -> list[str]:
    other = sqlite3.connect(path)
    try:
        return [row[0] for row in other.execute("SELECT unique_id FROM events")]
    finally:
        other.close()


def test_in_memory_the_requests_of_a_turn_share_one_transaction_and_a_read_sees_what_was_answered() -> None:
    store = Store()
    ran: list[str] = []
    store._conn.set_trace_callback(ran.append)

    async def burst() -> list[str | None]:
        with store.serving() as tx:
            tx.insert_list(ACCOUNT, "kept", "Kept", "single_opt_in", 1.0)
        with pytest.raises(NotFound), store.serving() as tx:
            tx.insert_list(ACCOUNT, "undone", "Undone", "single_opt_in", 1.0)
            raise NotFound("the handler refuses after writing")
        with store.serving() as tx:
            tx.insert_list(ACCOUNT, "kept too", "Kept too", "single_opt_in", 1.0)
        await store.durable()  # nothing to wait for in memory: still the same turn, still one transaction
        assert ran.count("BEGIN IMMEDIATE") == 1 and "COMMIT" not in ran
        with store.writing() as tx:  # any other transaction starts from committed state
            found = [tx.list_(ACCOUNT, name) for name in ("kept", "undone", "kept too")]
        return [None if row is None else row["id"] for row in found]

    assert asyncio.run(burst()) == ["kept", None, "kept too"]
    assert ran.count("COMMIT") == 2  # the turn's shared transaction, then the read's own


def test_in_memory_the_shared_transaction_is_committed_at_the_loops_next_turn() -> None:
    store = Store()
    ran: list[str] = []
    store._conn.set_trace_callback(ran.append)

    async def two_turns() -> None:
        with store.serving() as tx:
            tx.insert_list(ACCOUNT, "first", "First", "single_opt_in", 1.0)
        await asyncio.sleep(0)  # the loop turns
        assert ran.count("COMMIT") == 1
        with store.serving() as tx:
            tx.insert_list(ACCOUNT, "second", "Second", "single_opt_in", 1.0)
        await asyncio.sleep(0)

    asyncio.run(two_turns())
    assert ran.count("BEGIN IMMEDIATE") == 2 and ran.count("COMMIT") == 2
