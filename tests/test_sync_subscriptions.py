"""(Un)subscriptions batched across members (``sync.subscriptions``), against the in-process fake Klaviyo.

Consent changes of many members share Bulk Subscribe / Unsubscribe Profiles jobs; a member is in a job at most
once, its change goes out only after the request carrying its consent event was accepted, and its next event only
after its change was. A refused shared job is retried change by change, so only the bad change is dead-lettered.
Waits are injected (``sleep``), so nothing here depends on time; ``linger`` is long enough for every member's
change to find the open job even on a loaded machine.
"""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from contracts.traffic import RequestRecord
from contracts.verifier import verify
from emulator.klaviyo import Emulator, create_app
from emulator.klaviyo.store import account_id
from emulator.trifft import generate
from sync import Subscription, subscriptions
from sync.delivery import Syncer
from sync.summary import Summary

KEY = "pk_test_subscription_jobs"
JOBS = {
    "bulk_subscribe_profiles": "/api/profile-subscription-bulk-create-jobs",
    "bulk_unsubscribe_profiles": "/api/profile-subscription-bulk-delete-jobs",
}
#: A consent event of the fake TRIFFT, made over for each member below.
TEMPLATE = next(
    e
    for e in generate(400, seed=5, members=10, kinds=["profile_updated"])
    if e["data"]["reason"] == "consent_signed" and e["data"]["consent"]["type"] == "OUT_EMAIL"
)
PLAIN = next(e for e in generate(50, seed=5, members=10, kinds=["app_opened"]))


async def _no_wait(seconds: float) -> None:
    await asyncio.sleep(0)


def _member(event: dict[str, Any], n: int, sequence: int, email: str | None = None) -> dict[str, Any]:
    event = copy.deepcopy(event)
    event["event_id"] = str(uuid.UUID(int=n * 1000 + sequence))
    event["sequence"] = sequence
    event["occurred_at"] = f"2026-03-01T09:{sequence:02d}:00Z"
    member = event["member"]
    member["id"] = str(uuid.UUID(int=10**9 + n))
    member["email"] = email or f"member{n}@example.net"
    member["phone"] = None
    return event


def _consent(n: int, sequence: int, signed: bool, email: str | None = None) -> dict[str, Any]:
    """Member ``n`` signs (or revokes) the email marketing consent; its profile shows the consent as it now is."""
    event = _member(TEMPLATE, n, sequence, email)
    consent = dict(event["data"]["consent"], signed=signed, signed_at=1772355798 if signed else None)
    event["data"] = {
        "reason": "consent_signed" if signed else "consent_revoked",
        "changed": [consent["slug"]],
        "consent": consent,
    }
    event["member"]["consents"] = [
        consent if c["id"] == consent["id"] else c for c in event["member"]["consents"]
    ]
    return event


def _sync(
    events: list[dict[str, Any]],
    wrap: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport] = lambda t: t,
) -> tuple[Emulator, Summary]:
    emulator = Emulator(rate_limits="off", opt_in="single_opt_in")
    syncer = Syncer(
        "http://klaviyo.test",
        KEY,
        transport=wrap(httpx.ASGITransport(create_app(emulator))),
        rate_limits=None,
        linger=0.2,  # long enough for every member of a test to reach its change in process
        sleep=_no_wait,
        seed=1,
    )
    return emulator, asyncio.run(syncer.run(events))


def _requests(emulator: Emulator) -> list[RequestRecord]:
    return sorted(emulator.store.traffic(account_id(KEY)).requests, key=lambda r: r.seq)


def _jobs(emulator: Emulator) -> list[tuple[RequestRecord, list[str]]]:
    """Each (un)subscribe job Klaviyo accepted, with the emails it names, in the order they arrived."""
    return [
        (
            r,
            [
                row["attributes"]["email"]
                for row in json.loads(r.request_body or "")["data"]["attributes"]["profiles"]["data"]
            ],
        )
        for r in _requests(emulator)
        if r.operation in JOBS and r.accepted
    ]


def _consents(emulator: Emulator) -> dict[str, str]:
    state = emulator.store.export(account_id(KEY))
    return {
        row["email"]: json.loads(row["doc"]).get("subscriptions", {}).get("email", {}).get("consent", "NEVER")
        for row in state["profiles"]
    }


def _carries(record: RequestRecord, event_id: str) -> bool:
    return record.operation in ("bulk_create_events", "create_event") and event_id in (
        record.request_body or ""
    )


def test_consent_changes_of_many_members_share_a_few_jobs_each_after_its_event_and_before_the_next() -> None:
    members = range(30)
    events = [e for n in members for e in (_consent(n, 1, True), _member(PLAIN, n, 2))]
    emulator, summary = _sync(events)
    assert summary.ok and summary.subscriptions == len(members), summary

    jobs = _jobs(emulator)
    assert sum(len(emails) for _, emails in jobs) == len(members)
    assert len(jobs) <= len(members) / 3, [len(emails) for _, emails in jobs]  # one a member before
    assert all(len(set(emails)) == len(emails) for _, emails in jobs), "a profile twice in one job"
    assert set(_consents(emulator).values()) == {"SUBSCRIBED"}

    requests = _requests(emulator)
    for n in members:
        job = next(r for r, emails in jobs if f"member{n}@example.net" in emails)
        consent_event = next(
            r for r in requests if r.accepted and _carries(r, _consent(n, 1, True)["event_id"])
        )
        next_event = next(r for r in requests if r.accepted and _carries(r, _member(PLAIN, n, 2)["event_id"]))
        assert consent_event.seq < job.seq < next_event.seq, n
    report = verify(emulator.store.traffic(account_id(KEY)))
    assert report.ok, report.text()


def test_a_member_who_subscribes_then_unsubscribes_is_in_two_jobs_in_that_order() -> None:
    flip = 0
    events = [
        _consent(flip, 1, True),
        _consent(flip, 2, False),
        _consent(flip, 3, True),
        _consent(flip, 4, False),
    ]
    events += [
        _consent(n, 1, n % 2 == 0) for n in range(1, 20)
    ]  # others subscribing and unsubscribing alongside
    emulator, summary = _sync(events)
    assert summary.ok, summary

    jobs = _jobs(emulator)
    mine = [r.operation for r, emails in jobs if "member0@example.net" in emails]
    assert mine == [
        "bulk_subscribe_profiles",
        "bulk_unsubscribe_profiles",
        "bulk_subscribe_profiles",
        "bulk_unsubscribe_profiles",
    ]
    assert len(jobs) < 4 + 19, "the others share jobs"
    consents = _consents(emulator)
    assert consents["member0@example.net"] == "UNSUBSCRIBED"
    assert all(
        consents[f"member{n}@example.net"] == ("SUBSCRIBED" if n % 2 == 0 else "UNSUBSCRIBED")
        for n in range(1, 20)
    )
    report = verify(emulator.store.traffic(account_id(KEY)))
    assert report.ok, report.text()


def test_two_members_sharing_an_email_never_share_a_job() -> None:
    shared = "family@example.net"
    events = [_consent(n, 1, True, shared if n < 2 else None) for n in range(10)]
    emulator, summary = _sync(events)
    assert summary.ok, summary
    jobs = _jobs(emulator)
    assert [emails.count(shared) for _, emails in jobs if shared in emails] == [1, 1]
    assert len(jobs) < 10


class Refusing(httpx.AsyncBaseTransport):
    """Klaviyo, but it refuses (400) every (un)subscribe job naming ``bad`` and answers the first (un)subscribe
    job with ``first`` (a 429 with Retry-After, a 503) before taking it."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, bad: str | None = None, first: int | None = None
    ) -> None:
        self.inner, self.bad, self.first = inner, bad, first
        self.answered: list[tuple[str, int, int]] = []  # (path, profiles, status)
        self._tried = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path not in JOBS.values():
            return await self.inner.handle_async_request(request)
        profiles = len(json.loads(request.content)["data"]["attributes"]["profiles"]["data"])
        status = 202
        if self.bad is not None and self.bad in request.content.decode():
            status = 400
        elif self.first is not None and not self._tried:
            self._tried = True
            status = self.first
        self.answered.append((path, profiles, status))
        if status == 400:
            pointer = "/data/attributes/profiles/data/0/attributes/email"
            error = {
                "status": 400,
                "code": "invalid",
                "title": "Invalid input.",
                "detail": "Invalid email address.",
                "source": {"pointer": pointer},
            }
            return httpx.Response(400, json={"errors": [error]})
        if status != 202:
            return httpx.Response(status, headers={"Retry-After": "1"} if status == 429 else {})
        return await self.inner.handle_async_request(request)


def test_a_refused_shared_job_is_retried_change_by_change_and_only_the_bad_change_is_dead_lettered() -> None:
    bad = "member3@example.net"
    transport: list[Refusing] = []

    def wrap(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        transport.append(Refusing(inner, bad=bad))
        return transport[0]

    events = [_consent(n, 1, True) for n in range(12)]
    emulator, summary = _sync(events, wrap)
    assert [dead.event_id for dead in summary.dead] == [_consent(3, 1, True)["event_id"]]
    assert "Invalid email address" in summary.dead[0].reason
    assert not summary.pending and summary.subscriptions == 11
    answered = transport[0].answered
    assert answered[0][1] > 1 and answered[0][2] == 400, "the shared job was tried first"
    assert sum(1 for _, profiles, status in answered if status == 400) == 2, (
        "the shared job, then the bad alone"
    )
    consents = _consents(emulator)
    assert consents.pop(bad) == "NEVER" and set(consents.values()) == {"SUBSCRIBED"}


@pytest.mark.parametrize("first", [429, 503])
def test_a_shared_job_answered_429_or_503_is_sent_again_and_every_change_made_once(first: int) -> None:
    transport: list[Refusing] = []

    def wrap(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        transport.append(Refusing(inner, first=first))
        return transport[0]

    events = [_consent(n, 1, n < 6) for n in range(12)]
    emulator, summary = _sync(events, wrap)
    assert summary.ok and summary.subscriptions == 12, summary
    assert (summary.throttled_waits, summary.retries) == ((1, 0) if first == 429 else (0, 1)), summary
    answered = transport[0].answered
    assert answered[0][1] > 1 and [status for _, _, status in answered].count(first) == 1
    assert sum(profiles for _, profiles, status in answered if status == 202) == 12, "each change once"
    consents = _consents(emulator)
    assert all(
        consents[f"member{n}@example.net"] == ("SUBSCRIBED" if n < 6 else "UNSUBSCRIBED") for n in range(12)
    )


def _change(n: int, subscribed: bool) -> Subscription:
    return Subscription("email", subscribed, f"member{n}@example.net", None)


def test_a_job_holds_at_most_1000_profiles_to_subscribe_and_100_to_unsubscribe() -> None:
    sent: list[tuple[str, int]] = []

    async def send(changes: list[Subscription]) -> None:
        operation, _, body = subscriptions.job(changes)
        rows = body["data"]["attributes"]["profiles"]["data"]
        assert len({row["attributes"]["email"] for row in rows}) == len(changes)
        sent.append((operation, len(changes)))
        await asyncio.sleep(0)

    async def ready(operation: str) -> None:
        return None

    async def run(deliver: Callable[[Subscription], Awaitable[None]]) -> None:
        await asyncio.gather(*(deliver(_change(n, n % 10 != 0)) for n in range(2500)))

    batcher = subscriptions.Batcher(send, ready, linger=0.5)
    asyncio.run(run(batcher.deliver))
    unsubscribes = [n for op, n in sent if op == "bulk_unsubscribe_profiles"]
    subscribes = [n for op, n in sent if op == "bulk_subscribe_profiles"]
    assert sum(unsubscribes) == 250 and max(unsubscribes) == 100 and len(unsubscribes) == 3
    assert sum(subscribes) == 2250 and max(subscribes) == 1000 and len(subscribes) == 3


def test_changes_share_a_job_only_when_their_bodies_differ_in_nothing_but_the_profile() -> None:
    email, sms = _change(1, True), Subscription("sms", True, None, "+4915112345678")
    assert subscriptions.key(email) == subscriptions.key(sms)  # one job may subscribe rows on either channel
    assert subscriptions.key(email) != subscriptions.key(_change(1, False))
    operation, path, body = subscriptions.job([email, sms])
    assert (operation, path) == ("bulk_subscribe_profiles", JOBS["bulk_subscribe_profiles"])
    assert body["data"]["attributes"]["custom_source"] == "TRIFFT"
    rows = body["data"]["attributes"]["profiles"]["data"]
    assert [row["attributes"] for row in rows] == [
        email.job()[2]["data"]["attributes"]["profiles"]["data"][0]["attributes"],
        sms.job()[2]["data"]["attributes"]["profiles"]["data"][0]["attributes"],
    ]
