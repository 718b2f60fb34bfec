"""The outbox hands out what it stored: events just added are not decoded again, but never differ from the table."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path

from emulator.trifft import generate
from sync.outbox import GroupCommit, Outbox, encode


def test_pending_hands_out_the_stored_event_whether_or_not_this_add_wrote_it(tmp_path: Path) -> None:
    path = str(tmp_path / "state.sqlite")
    first, second, third = generate(3, seed=2, members=1)
    outbox = Outbox(path)
    outbox.add([first])
    changed = copy.deepcopy(first)
    changed["data"]["note"] = "sent again, different"
    repeated = copy.deepcopy(second)
    repeated["data"]["note"] = "the second of one event id in one input"
    assert outbox.add([changed, second, repeated, third]) == 2
    assert outbox.add([]) == 0  # as a run given nothing new does

    pending = [p.event for items in outbox.pending().values() for p in items]

    assert pending == [first, second, third], "the stored ones: the first add's, and the first of a repeat"
    assert pending[0] is first and pending[1] is second, "added since the last pending: handed out as given"
    again = [p.event for items in outbox.pending().values() for p in items]
    assert again == pending and again[1] is not second, "later, decoded from the table"
    assert [p.event for items in Outbox(path).pending().values() for p in items] == pending


def test_an_integer_past_64_bits_and_text_outside_ascii_survive_the_outbox(tmp_path: Path) -> None:
    path = str(tmp_path / "state.sqlite")
    event = next(iter(generate(1, seed=2, members=1)))
    event["data"]["huge"] = 2**70
    event["data"]["name"] = "Jürgen 🍺"
    Outbox(path).add([event])
    stored = [p.event for items in Outbox(path).pending().values() for p in items]
    assert stored == [event] and stored[0]["data"]["huge"] == 2**70
    assert encode({"n": 2**70, "s": "ü"}) == '{"n":1180591620717411303424,"s":"ü"}'.encode()


def test_marks_of_many_workers_share_writes_and_each_returns_once_its_mark_is_durable(tmp_path: Path) -> None:
    path = str(tmp_path / "state.sqlite")
    events = list(generate(200, seed=4, members=20))
    outbox = Outbox(path)
    outbox.add(events)
    marks = GroupCommit(outbox)
    elsewhere = Outbox(path)  # another connection: sees only what was committed

    async def worker(event_id: str) -> None:
        await marks.finish([event_id], "done")
        assert elsewhere.status(event_id) == "done", "returned before its mark was committed"

    async def run() -> None:
        await asyncio.gather(*(worker(e["event_id"]) for e in events))

    asyncio.run(run())
    assert elsewhere.counts() == {"done": 200}
    assert 1 <= marks.writes < 20


def test_a_worker_cancelled_while_its_mark_is_written_leaves_it_written(tmp_path: Path) -> None:
    path = str(tmp_path / "state.sqlite")
    events = list(generate(10, seed=4, members=2))
    outbox = Outbox(path)
    outbox.add(events)
    marks = GroupCommit(outbox)

    async def run() -> None:
        task = asyncio.create_task(marks.finish([e["event_id"] for e in events], "skipped"))
        await asyncio.sleep(0)
        task.cancel()
        await marks.drain()

    asyncio.run(run())
    assert Outbox(path).counts() == {"skipped": 10}
