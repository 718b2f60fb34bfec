"""Delivery against a scripted Klaviyo (``httpx.MockTransport``): dead letters, order, idempotency, what each kind
sends. Retries, waits and giving up are in ``test_delivery_retries.py``.

Every test injects a ``sleep`` that records the waits instead of sleeping, so nothing here depends on time.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import random
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import contracts
from emulator.klaviyo import Emulator, create_app
from emulator.klaviyo.store import account_id
from emulator.trifft import generate
from sync.delivery import Syncer
from sync.outbox import Outbox
from sync.summary import Summary

KEY = "pk_test_delivery"
PLAIN = ("app_opened", "wallet_credited", "coupon_assigned", "transaction_created")
ERROR_400 = {
    "errors": [
        {
            "id": "6b1c3e0e-7f7e-4c43-9f55-2f1d1d4f4d11",
            "status": 400,
            "code": "invalid",
            "title": "Invalid input.",
            "detail": "Event time must be after 1990 and at most one year in the future.",
            "source": {"pointer": "/data/attributes/time"},
            "links": {},
            "meta": {},
        }
    ]
}


class Waits(list[float]):
    """An injected ``sleep``: remembers each wait and returns at once."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@dataclass
class Call:
    method: str
    path: str
    headers: httpx.Headers
    content: bytes

    @property
    def body(self) -> Any:
        return json.loads(self.content) if self.content else None

    @property
    def unique_ids(self) -> list[str]:
        """The unique_ids this call carries, in the order it carries them."""
        if self.path == "/api/events":
            return [self.body["data"]["attributes"]["unique_id"]]
        if self.path == "/api/event-bulk-create-jobs":
            groups = self.body["data"]["attributes"]["events-bulk-create"]["data"]
            return [e["attributes"]["unique_id"] for g in groups for e in g["attributes"]["events"]["data"]]
        return []


Script = Callable[[Call], httpx.Response | Exception | None]


class FakeKlaviyo:
    """Records every request; answers as Klaviyo does unless ``script`` returns a response or raises."""

    def __init__(self, script: Script | None = None, latency: float = 0.0, seed: int = 0) -> None:
        self.calls: list[Call] = []
        self.accepted: list[Call] = []  # in the order Klaviyo answered 2xx
        self.script = script
        self.latency = latency
        self._random = random.Random(seed)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        call = Call(request.method, request.url.path, request.headers, request.content)
        self.calls.append(call)
        if self.latency:
            await asyncio.sleep(self._random.uniform(0, self.latency))
        response = self._answer(call)
        if response.status_code < 300:
            self.accepted.append(call)
        return response

    def _answer(self, call: Call) -> httpx.Response:
        scripted = self.script(call) if self.script else None
        if isinstance(scripted, Exception):
            raise scripted
        if scripted is not None:
            return scripted
        if call.path == "/api/profile-import":
            attributes = call.body["data"]["attributes"]
            profile = {"type": "profile", "id": f"K{attributes['external_id'][:8]}", "attributes": attributes}
            return httpx.Response(201, json={"data": {**profile, "links": {"self": "x"}}})
        if call.path == "/api/profiles":
            return httpx.Response(200, json={"data": [], "links": {"self": "x"}})
        return httpx.Response(202)

    def to(self, path: str) -> list[Call]:
        return [call for call in self.calls if call.path == path]


def _syncer(klaviyo: FakeKlaviyo, waits: Waits | None = None, **options: Any) -> Syncer:
    options.setdefault("rate_limits", None)
    options.setdefault("seed", 1)
    return Syncer(
        "http://klaviyo.test",
        KEY,
        transport=httpx.MockTransport(klaviyo),
        sleep=waits if waits is not None else Waits(),
        **options,
    )


def _run(syncer: Syncer, events: Sequence[dict[str, Any]]) -> Summary:
    return asyncio.run(syncer.run(events))


def _events(
    count: int, kinds: Sequence[str] = PLAIN, members: int = 3, seed: int = 7
) -> list[dict[str, Any]]:
    return list(generate(count, seed=seed, members=members, kinds=kinds))


def _first(
    kind: str, seed: int = 7, where: Callable[[dict[str, Any]], bool] = lambda e: True
) -> dict[str, Any]:
    return next(e for e in generate(400, seed=seed, members=4, kinds=[kind]) if where(e))


def _status(status: int, headers: dict[str, str] | None = None, body: Any = None) -> httpx.Response:
    return httpx.Response(status, headers=headers, json=body if body is not None else {"errors": []})


def test_every_request_names_the_revision_of_the_bundled_spec() -> None:
    klaviyo = FakeKlaviyo()
    _run(_syncer(klaviyo), _events(30, kinds=(*PLAIN, "profile_updated", "referral_invited")))
    assert klaviyo.calls
    assert {call.headers["revision"] for call in klaviyo.calls} == {contracts.KLAVIYO_REVISION}


# -- dead letters -----------------------------------------------------------------------------------------------


def test_a_permanent_400_is_dead_lettered_with_the_full_error_and_the_event_and_the_rest_is_delivered() -> (
    None
):
    events = _events(6)
    bad = events[2]

    def script(call: Call) -> httpx.Response | None:
        return _status(400, body=ERROR_400) if bad["event_id"] in call.unique_ids else None

    klaviyo = FakeKlaviyo(script)
    outbox = Outbox()
    summary = _run(_syncer(klaviyo, outbox=outbox, batch=False), events)
    assert not summary.ok and summary.pending == 0
    [dead] = summary.dead
    assert dead.event_id == bad["event_id"] and dead.kind == bad["kind"]
    assert dead.response == ERROR_400
    assert "Event time must be after 1990" in dead.reason and "/data/attributes/time" in dead.reason
    assert dead.request["path"] == "/api/events"
    assert dead.event == bad
    assert len(klaviyo.to("/api/events")) == 6, "a 400 is not retried"
    assert outbox.counts() == {"done": 5, "dead": 1}


def test_a_rejected_bulk_job_falls_back_to_single_calls_and_only_the_bad_event_is_dead_lettered() -> None:
    events = _events(12, members=3)
    bad = events[5]

    def script(call: Call) -> httpx.Response | None:
        if call.path == "/api/event-bulk-create-jobs":
            return _status(400, body=ERROR_400)
        return _status(400, body=ERROR_400) if bad["event_id"] in call.unique_ids else None

    klaviyo = FakeKlaviyo(script)
    summary = _run(_syncer(klaviyo), events)
    assert len(klaviyo.to("/api/event-bulk-create-jobs")) == 1
    singles = klaviyo.to("/api/events")
    assert sorted(uid for call in singles for uid in call.unique_ids) == sorted(e["event_id"] for e in events)
    assert [dead.event_id for dead in summary.dead] == [bad["event_id"]]
    assert summary.events_sent == 11 and summary.pending == 0


def test_a_wrong_api_key_stops_the_run_and_dead_letters_nothing() -> None:
    events = _events(9, members=3)
    klaviyo = FakeKlaviyo(lambda call: _status(401, body={"errors": [{"code": "not_authenticated"}]}))
    outbox = Outbox()
    summary = _run(_syncer(klaviyo, outbox=outbox, batch=False, concurrency=1), events)
    assert summary.dead == [] and summary.pending == 9 and not summary.ok
    assert summary.stopped is not None and "401" in summary.stopped
    assert len(klaviyo.calls) == 1


def test_a_cancelled_run_leaves_the_rest_pending_and_no_coroutine_unawaited() -> None:
    events = _events(60, kinds=["profile_updated"], members=20)
    outbox = Outbox()
    syncer = _syncer(FakeKlaviyo(latency=0.01), outbox=outbox, concurrency=2)

    async def cancel_soon() -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(syncer.run(events), 0.05)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(cancel_soon())
        gc.collect()
    assert [str(w.message) for w in caught] == []
    counts = outbox.counts()
    assert counts.get("pending", 0) > 0 and "dead" not in counts


# -- order and idempotency --------------------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [True, False], ids=["bulk", "single"])
def test_each_members_events_reach_klaviyo_in_trifft_order_while_members_run_in_parallel(batch: bool) -> None:
    events = _events(
        400, kinds=(*PLAIN, "profile_updated", "custom_webhook", "referral_invited"), members=12, seed=11
    )
    flaky = random.Random(3)
    klaviyo = FakeKlaviyo(lambda call: _status(503) if flaky.random() < 0.2 else None, latency=0.002, seed=5)
    summary = _run(_syncer(klaviyo, concurrency=6, batch=batch), events)
    assert summary.pending == 0
    member_of = {e["event_id"]: e["member"]["id"] for e in events}
    seen: dict[str, list[str]] = {}
    for call in klaviyo.accepted:
        for uid in call.unique_ids:
            seen.setdefault(member_of[uid], []).append(uid)
    dead = {d.event_id for d in summary.dead}
    for member in {e["member"]["id"] for e in events}:
        expected = [
            e["event_id"]
            for e in sorted(events, key=lambda e: e["sequence"])
            if e["member"]["id"] == member and e["event_id"] not in dead
        ]
        assert seen[member] == expected
    overlap = max(len({member_of[u] for u in call.unique_ids}) for call in klaviyo.calls)
    assert overlap > 1 or not batch, "bulk jobs carry several members"


def test_no_member_waits_for_another_members_slow_calls() -> None:
    stream = _events(300, kinds=(*PLAIN, "custom_webhook"), members=2, seed=5)
    slow = stream[0]["member"]["id"]
    quick = [e for e in stream if e["member"]["id"] != slow]
    updated = _first("profile_updated", seed=5, where=lambda e: e["member"]["id"] == slow)
    assert {e["kind"] == "custom_webhook" for e in quick} == {True, False}, "plain runs between single calls"
    outstanding = {e["event_id"] for e in quick}
    klaviyo = FakeKlaviyo()
    left_when_slow_answered: list[int] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/profile-import":
            for _ in range(5000):  # yields, not time: plenty for the quick member, finite if it is held back
                if not outstanding:
                    break
                await asyncio.sleep(0)
            left_when_slow_answered.append(len(outstanding))
        response = await klaviyo(request)
        outstanding.difference_update(klaviyo.calls[-1].unique_ids)
        return response

    transport = httpx.MockTransport(handler)
    syncer = Syncer(
        "http://klaviyo.test", KEY, transport=transport, rate_limits=None, sleep=Waits(), linger=0
    )
    assert _run(syncer, [updated, *quick]).ok
    assert left_when_slow_answered == [0], "the quick member went on while the slow one waited"


def test_the_same_trifft_event_twice_in_one_input_is_sent_once() -> None:
    events = _events(3)
    klaviyo = FakeKlaviyo()
    summary = _run(_syncer(klaviyo, batch=False), [*events, events[1]])
    assert summary.repeated == 1 and summary.known == 0
    assert sorted(uid for call in klaviyo.calls for uid in call.unique_ids) == sorted(
        e["event_id"] for e in events
    )


def test_delivering_the_same_trifft_events_in_two_runs_makes_one_klaviyo_event_each(
    emulator: Emulator,
) -> None:
    events = _events(30, members=4)
    transport = httpx.ASGITransport(create_app(emulator))
    for _ in range(2):  # a fresh outbox each time: the second run really sends everything again
        syncer = Syncer("http://klaviyo.test", KEY, transport=transport, rate_limits=None, sleep=Waits())
        assert _run(syncer, events).ok
    stored = Counter(row["unique_id"] for row in emulator.store.rows("events", account_id(KEY)))
    assert stored == {e["event_id"]: 1 for e in events}


def test_a_second_run_over_the_same_outbox_sends_nothing() -> None:
    outbox, events = Outbox(), _events(5)
    _run(_syncer(FakeKlaviyo(), outbox=outbox), events)
    klaviyo = FakeKlaviyo()
    summary = _run(_syncer(klaviyo, outbox=outbox), events)
    assert summary.known == 5 and summary.resumed == 0 and klaviyo.calls == [] and summary.ok


def test_at_most_two_bulk_jobs_are_on_the_wire_and_the_next_fills_meanwhile() -> None:
    events = _events(1500, kinds=(*PLAIN, "custom_webhook"), members=300, seed=13)
    klaviyo = FakeKlaviyo(latency=0.002)
    on_the_wire = [0]
    most = [0]

    async def handler(request: httpx.Request) -> httpx.Response:
        bulk = request.url.path == "/api/event-bulk-create-jobs"
        on_the_wire[0] += bulk
        most[0] = max(most[0], on_the_wire[0])
        try:
            return await klaviyo(request)
        finally:
            on_the_wire[0] -= bulk

    transport = httpx.MockTransport(handler)
    syncer = Syncer(
        "http://klaviyo.test", KEY, transport=transport, rate_limits=None, sleep=Waits(), linger=0
    )
    summary = _run(syncer, events)
    assert summary.ok and most[0] == 2
    jobs = klaviyo.to("/api/event-bulk-create-jobs")
    assert sum(len(job.unique_ids) for job in jobs) / len(jobs) > 10, "jobs carry many members' runs"


def test_bulk_jobs_stay_under_klaviyos_5_mb_so_large_events_still_go_in_bulk() -> None:
    events = _events(200, kinds=["wallet_credited"], members=4)
    for event in events:
        event["data"]["note"] = "x" * 30_000  # 200 events of 30 KB: 6 MB, more than one job may carry

    def script(call: Call) -> httpx.Response | None:
        too_large = call.path == "/api/event-bulk-create-jobs" and len(call.content) > 5 * 1024 * 1024
        return _status(413) if too_large else None

    klaviyo = FakeKlaviyo(script)
    summary = _run(_syncer(klaviyo), events)
    assert summary.ok and summary.events_sent == 200
    jobs = klaviyo.to("/api/event-bulk-create-jobs")
    assert len(jobs) >= 2 and all(len(job.content) <= 5 * 1024 * 1024 for job in jobs)
    assert klaviyo.to("/api/events") == []


def test_a_bulk_jobs_events_are_marked_done_in_one_durable_write(tmp_path: Path) -> None:
    outbox = Outbox(str(tmp_path / "state.sqlite"))
    events = _events(60, members=4)
    commits: list[str] = []
    outbox._conn.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    klaviyo = FakeKlaviyo()
    assert _run(_syncer(klaviyo, outbox=outbox), events).ok
    assert [call.path for call in klaviyo.calls] == ["/api/event-bulk-create-jobs"]
    assert outbox.counts() == {"done": 60}
    assert len(commits) < 10, "a handful of transactions for the run, not one per event"


# -- what each kind sends ---------------------------------------------------------------------------------------


def _klaviyo_ids(call: Call) -> list[Any]:
    if call.path == "/api/events":
        return [call.body["data"]["attributes"]["properties"]["klaviyoID"]]
    groups = call.body["data"]["attributes"]["events-bulk-create"]["data"]
    return [
        e["attributes"]["properties"]["klaviyoID"] for g in groups for e in g["attributes"]["events"]["data"]
    ]


@pytest.mark.parametrize("batch", [False, True])
def test_profile_updated_learns_the_klaviyo_id_by_profile_import_once_and_every_one_carries_it(
    batch: bool,
) -> None:
    stream = list(generate(400, seed=7, members=4, kinds=["profile_updated"]))
    member = stream[0]["member"]["id"]
    both = [e for e in stream if e["member"]["id"] == member and e["data"]["reason"] == "params_changed"]
    klaviyo = FakeKlaviyo()
    summary = _run(_syncer(klaviyo, batch=batch), both[:2])
    assert summary.ok
    if batch:  # looked up first (not found), then imported; the second rides in a bulk job
        paths = ["/api/profiles", "/api/profile-import", "/api/events", "/api/event-bulk-create-jobs"]
    else:
        paths = ["/api/profile-import", "/api/events", "/api/events"]
    assert [call.path for call in klaviyo.calls] == paths
    assert klaviyo.to("/api/profile-import")[0].body["data"]["attributes"]["external_id"] == member
    sent = [k for call in klaviyo.calls if call.unique_ids for k in _klaviyo_ids(call)]
    assert sent == [f"K{member[:8]}"] * 2


def test_a_409_on_the_refresh_is_retried_without_the_shared_email() -> None:
    event = _first("profile_updated", where=lambda e: e["member"]["email"] is not None)

    def script(call: Call) -> httpx.Response | None:
        if call.path == "/api/profile-import" and "email" in call.body["data"]["attributes"]:
            return _status(
                409, body={"errors": [{"code": "duplicate_profile", "meta": {"duplicate_profile_id": "X"}}]}
            )
        return None

    klaviyo = FakeKlaviyo(script)
    summary = _run(_syncer(klaviyo), [event])
    assert summary.ok
    imports = klaviyo.to("/api/profile-import")
    assert len(imports) == 2
    assert "email" in imports[0].body["data"]["attributes"]
    retried = imports[1].body["data"]["attributes"]
    assert "email" not in retried and retried["external_id"] == event["member"]["id"]
    assert len(klaviyo.to("/api/events")) == 1


def test_a_custom_webhook_goes_to_its_path_as_rendered_without_its_own_authorization_and_no_refresh() -> None:
    event = _first("custom_webhook", where=lambda e: e["data"]["rendered_body"].lstrip().startswith("{"))
    hook = event["data"]["webhook"]
    assert hook["authorization"] is not None
    klaviyo = FakeKlaviyo()
    summary = _run(_syncer(klaviyo), [event])
    assert summary.ok and summary.webhooks_sent == 1 and summary.refreshes == 0
    [call] = klaviyo.calls
    assert call.method == hook["method"] and call.path == httpx.URL(hook["endpoint"]).path
    assert call.body == json.loads(event["data"]["rendered_body"])
    assert call.headers["authorization"] == f"Klaviyo-API-Key {KEY}"
    assert hook["authorization"].get("value") not in call.headers.values()


def test_a_system_segment_event_makes_no_request() -> None:
    event = _first("added_to_segment", where=lambda e: e["data"]["is_internal"])
    klaviyo = FakeKlaviyo()
    outbox = Outbox()
    summary = _run(_syncer(klaviyo, outbox=outbox), [event])
    assert klaviyo.calls == [] and summary.skipped == 1 and summary.ok
    assert outbox.counts() == {"skipped": 1}


def test_a_referral_looks_up_the_referrer_with_a_bodiless_get() -> None:
    event = _first("referral_code_provided")
    klaviyo = FakeKlaviyo()
    assert _run(_syncer(klaviyo), [event]).ok
    [look_up] = klaviyo.to("/api/profiles")
    assert look_up.method == "GET" and look_up.content == b""
    assert "content-type" not in look_up.headers
