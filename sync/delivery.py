"""Delivery: the outbox's events to Klaviyo, ordered per member, idempotent, and nothing lost.

Each member has a worker that sends its events in TRIFFT order; members never wait for one another. Runs of
standard events go into Bulk Create Events jobs shared across members (``bulk.Packer``: up to 1,000 events, under
5 MB, one group per member whose profile carries the refresh as of the run's last event). The Klaviyo ids Profile
updated and referrals carry are looked up first, batched across members (``ids.Resolver``); a consent change ends
its run, its (un)subscription sent once the job is accepted, in a job shared across members
(``subscriptions.Batcher``: one change per member a job, a refused job retried change by change). Sent one by one
between runs: custom webhooks and a member's first Profile updated when Klaviyo does not know the member yet (a
profile-import learns its id). A job Klaviyo refuses is retried event by event, so only the bad event is
dead-lettered.

Waiting and giving up: a 429 with ``Retry-After`` waits that long and uses up no attempt (Klaviyo said when to
come back; ``deadline`` bounds the whole run instead). 5xx, 408 and requests sent but never answered back off
exponentially with jitter, ``max_attempts`` per request. A connection that cannot be made at all sends nothing
and counts as no request: after ``connect_timeout`` seconds of nothing connecting (at once for a TLS failure) the
run stops as unreachable. A 401/403 stops it too. Whatever stops a run leaves the rest pending, in order.
``concurrency`` bounds requests on the wire, never waits.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpx

import contracts

from . import bulk, ids, subscriptions
from . import summary as stops
from .errors import (
    DeadlineReached,
    Exhausted,
    Rejected,
    Throttled,
    Transient,
    Unauthorized,
    Unreachable,
    classify,
    connect_failure,
)
from .limiter import Limiter
from .mapping import Mapped, Subscription, map_event
from .outbox import DeadLetter, GroupCommit, Outbox, account_of, encode
from .summary import Summary
from .work import NEEDS_IDS, Work, bulkable, other_member

_Stop = Exhausted | Unauthorized | Unreachable | DeadlineReached
_STOPS = {Unreachable: stops.UNREACHABLE, Unauthorized: stops.REFUSED, DeadlineReached: stops.DEADLINE}

BULK = "bulk_create_events"


class Syncer:
    """Send TRIFFT events to Klaviyo (or the emulator). The transport is injected; the outbox may be a file.

    The outbox is bound to this base URL and key's account (TargetMismatch if it belongs to another, unless
    ``retarget``). ``progress(done, total)`` is called as events finish. ``clock`` and ``sleep`` are injected
    together in tests, so waits and deadlines need no real time.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        outbox: Outbox | None = None,
        rate_limits: float | None = 1.0,
        concurrency: int = 8,
        max_attempts: int = 8,
        backoff: float = 0.5,
        backoff_cap: float = 30.0,
        batch: bool = True,
        linger: float = 0.02,
        timeout: float = 30.0,
        connect_timeout: float = 5.0,
        deadline: float | None = None,
        retarget: bool = False,
        seed: int | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.base_url, self.api_key = base_url.rstrip("/"), api_key
        self.transport = transport
        self.timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self.connect_timeout, self.deadline = connect_timeout, deadline
        self.outbox = outbox or Outbox()
        #: The target the outbox had before this Syncer re-targeted it (None: it was this one, or new).
        self.retargeted = self.outbox.bind(self.base_url, account_of(api_key), retarget)
        self.limiter = Limiter(rate_limits, clock=clock, sleep=sleep)
        self.concurrency, self.max_attempts = concurrency, max_attempts
        self.backoff, self.backoff_cap, self.batch, self.linger = backoff, backoff_cap, batch, linger
        self.sleep, self.clock, self.progress = sleep, clock, progress
        self._random = random.Random(seed)
        self._stop: _Stop | None = None
        self._down_since: float | None = None  # when connections began to fail, none succeeding since
        self._deadline_at: float | None = None
        self._done_count = self._total = 0
        self.summary = Summary()

    # -- the run ------------------------------------------------------------------------------------------------

    async def run(self, events: Iterable[dict[str, Any]] = ()) -> Summary:
        """Store ``events`` in the outbox, then deliver everything pending (including a previous run's)."""
        started = time.perf_counter()
        self._stop, self._down_since = None, None
        self._deadline_at = None if self.deadline is None else self.clock() + self.deadline
        self.summary = summary = Summary()
        batch = list(events)
        summary.received = len(batch)
        summary.resumed = self.outbox.counts().get("pending", 0)
        distinct = len({event["event_id"] for event in batch})
        summary.repeated = len(batch) - distinct
        summary.known = distinct - self.outbox.add(batch)
        headers = {
            "Authorization": f"Klaviyo-API-Key {self.api_key}",
            "revision": contracts.KLAVIYO_REVISION,
            "Accept": "application/vnd.api+json",
        }
        async with httpx.AsyncClient(
            base_url=self.base_url, transport=self.transport, headers=headers, timeout=self.timeout
        ) as self.http:
            queues = [
                [Work(p, self.outbox.klaviyo_id) for p in items] for items in self.outbox.pending().values()
            ]
            self._done_count, self._total = 0, sum(len(work) for work in queues)
            if self.progress:
                self.progress(0, self._total)
            self._gate = asyncio.Semaphore(self.concurrency)
            self._packer = bulk.Packer(
                self._send_job, functools.partial(self.limiter.ready, BULK), self.linger
            )
            self._resolver = ids.Resolver(self._look_up_many, self.linger)
            self._marks = GroupCommit(self.outbox)
            self._consents = subscriptions.Batcher(self._send_changes, self.limiter.ready, self.linger)
            try:
                # The deadline in real time as well: the checks in _request read the injected clock, and a
                # limiter's pacing or a slow answer could outlast the deadline between two checks.
                async with asyncio.timeout(self.deadline):
                    async with asyncio.TaskGroup() as group:
                        for work in queues:
                            group.create_task(self._member(work))
            except* (Exhausted, Unauthorized, Unreachable, DeadlineReached) as stop:
                # Every member's worker is cancelled; a cancelled request is resent harmlessly next time. What
                # is not done stays pending in the outbox, in order, for the next run.
                first = stop.exceptions[0]
                summary.stopped = str(first)
                summary.stop = _STOPS.get(type(first), stops.EXHAUSTED)
            except* TimeoutError:
                if self.deadline is None:  # not the deadline's: nothing here expects it
                    raise
                summary.stopped = f"the deadline of {self.deadline:g}s passed"
                summary.stop = stops.DEADLINE
            await self._marks.drain()  # the marks of events accepted before a stop, written before counting
        summary.pending = self.outbox.counts().get("pending", 0)
        summary.seconds = time.perf_counter() - started
        return summary

    async def _member(self, work: list[Work]) -> None:
        """One member's events, in TRIFFT order: runs of plain events into shared bulk jobs, the rest one by one."""
        while work:
            run: list[Work] = []
            size = 0
            while self.batch and work and len(run) < bulk.MAX_EVENTS and await self._joins(work[0], run):
                weight = bulk.entry_size(work[0].mapped)
                if run and size + weight > bulk.MAX_BYTES:
                    break
                run.append(work.pop(0))
                size += weight
                if run[-1].mapped.subscriptions:
                    break  # mirrored once the job has the event, before anything later of this member
            if not run:
                await self._single(work.pop(0))
                continue
            try:
                await self._packer.deliver(run, len(run), size + bulk.profile_size(run[-1].mapped))
            except Rejected:
                # One bad event fails the whole job: each member sends its run one by one, so only the bad
                # event is dead-lettered.
                for item in run:
                    await self._single(item)
                continue
            if run[-1].mapped.subscriptions:  # its event is in Klaviyo; done once its consent is too
                try:
                    for change in run[-1].mapped.subscriptions:
                        await self._subscribe(change)
                except Rejected as rejected:
                    self._dead(
                        run[-1], rejected.detail, {"method": "POST", "path": rejected.path}, rejected.body
                    )
                    continue
                self.summary.events_sent += 1
                await self._done([run[-1]])

    async def _joins(self, work: Work, run: list[Work]) -> bool:
        """Whether ``work`` may join ``run`` in a bulk job, once the Klaviyo id its properties carry is looked up
        (batched across members, ``ids.Resolver``). A member's own id is looked up only after its run so far is
        sent (that run may create its profile); a member Klaviyo does not know yet goes one by one, learning its
        id by profile-import."""
        if not bulkable(work.mapped):
            return False
        if work.mapped.kind not in NEEDS_IDS:
            return True
        event = work.pending.event
        wanted = work.mapped.member_id if work.mapped.kind == "profile_updated" else other_member(event)
        if wanted is not None and self.outbox.klaviyo_id(wanted) is None:
            if wanted == work.mapped.member_id and run:
                return False
            try:
                await self._resolver.learn(wanted)
            except Rejected:
                return False  # sent one by one, where a refused look-up is dead-lettered with its event
            if wanted == work.mapped.member_id and self.outbox.klaviyo_id(wanted) is None:
                return False
        work.remap()
        return True

    # -- requests -----------------------------------------------------------------------------------------------

    async def _request(
        self, operation: str, method: str, path: str, body: Any, extra: dict[str, str] | None = None
    ) -> httpx.Response:
        """One logical request, retried until it succeeds, is refused for good, attempts run out, or the run
        stops (unreachable, deadline)."""
        content = None if body is None else encode(body)
        headers = {} if body is None else {"Content-Type": "application/vnd.api+json"}
        headers.update(extra or {})
        failures = unconnected = 0
        while True:
            self._check_deadline()
            await self.limiter.acquire(operation)
            began = self.clock()
            try:
                async with self._gate:  # held for the request only, never through a wait
                    if self._stop is not None:  # another request found Klaviyo down or the key refused
                        raise self._stop
                    response = await self.http.request(method, path, content=content, headers=headers)
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:
                # Nothing was sent: no request counted, no attempt used up; the connect timeout bounds this.
                unconnected += 1
                await self._wait(self._unreachable(error, began, unconnected))
                continue
            except httpx.TransportError:
                self.summary.requests += 1  # sent, and never answered: it may have been processed
                throttled = False
            else:
                self._down_since = None
                self.summary.requests += 1
                try:
                    classify(response, method, path)
                    return response
                except Unauthorized as refused:
                    self._stop = refused
                    raise
                except Throttled as told:
                    if told.retry_after is not None:
                        # Klaviyo said when to come back: not a failure, so no attempt is used up.
                        await self._wait(told.retry_after)
                        self.summary.throttled_waits += 1
                        self.summary.throttled_seconds += told.retry_after
                        continue
                    throttled = True  # a 429 without a time to come back: back off, using up an attempt
                except Transient:
                    throttled = False
            failures += 1
            if failures >= self.max_attempts:
                break
            wait = self._backoff(failures)
            await self._wait(wait)
            if throttled:
                self.summary.throttled_waits += 1
                self.summary.throttled_seconds += wait
            else:
                self.summary.retries += 1
        self._stop = Exhausted(f"{method} {path}: Klaviyo still failing after {self.max_attempts} attempts")
        raise self._stop

    def _unreachable(self, error: httpx.TransportError, began: float, tries: int) -> float:
        """How long to wait before connecting again; Unreachable once nothing has connected for the connect
        timeout (counted from the first attempt that failed), or at once when trying again cannot help."""
        if self._down_since is None:
            self._down_since = began
        reason, hopeless = connect_failure(error)
        waited = self.clock() - self._down_since
        if hopeless or waited >= self.connect_timeout:
            tried = "" if hopeless else f"; tried for {waited:.1f}s"
            self._stop = Unreachable(f"cannot reach {self.base_url}: {reason}{tried}")
            raise self._stop
        return max(0.0, min(self._backoff(tries), self.connect_timeout - waited))

    def _check_deadline(self, wait: float = 0.0) -> None:
        """DeadlineReached when the deadline has passed, or would pass during ``wait``: no point waiting."""
        if self._deadline_at is not None and self.clock() + wait >= self._deadline_at:
            if self._stop is None:
                assert self.deadline is not None
                self._stop = DeadlineReached(f"the deadline of {self.deadline:g}s passed")
            raise self._stop

    async def _wait(self, seconds: float) -> None:
        self._check_deadline(seconds)
        await self.sleep(seconds)

    def _backoff(self, attempt: int) -> float:
        """Equal jitter: half the capped exponential delay, plus a random part of the other half.

        Never more than the cap, and until the cap never less than the wait before, so retries slow down and spread.
        """
        ceiling = min(self.backoff_cap, self.backoff * 2.0 ** (attempt - 1))
        return ceiling / 2 + self._random.uniform(0, ceiling / 2)

    async def _done(self, works: list[Work], status: str = "done") -> None:
        await self._marks.finish([work.pending.event_id for work in works], status)
        self._advance(len(works))

    def _dead(self, work: Work, reason: str, request: Any, response: Any) -> None:
        pending = work.pending
        self.outbox.dead(pending, reason, request, response, time.time(), 1)
        self.summary.dead.append(
            DeadLetter(
                pending.event_id, pending.member_id, pending.kind, reason, request, response, pending.event
            )
        )
        self._advance(1)

    def _advance(self, done: int) -> None:
        self._done_count += done
        if self.progress:
            self.progress(self._done_count, self._total)

    async def _send_job(self, runs: list[list[Work]]) -> None:
        body = bulk.job_body([[work.mapped for work in run] for run in runs])
        await self._request(BULK, "POST", "/api/event-bulk-create-jobs", body)
        self.summary.bulk_jobs += 1
        self.summary.refreshes += len(runs)
        finished = [work for run in runs for work in run if not work.mapped.subscriptions]
        self.summary.events_sent += len(finished)  # a consent change's event counts once its consent is in
        await self._done(finished)

    async def _single(self, work: Work) -> None:
        mapped = work.mapped
        if mapped.skipped:
            self.summary.skipped += 1
            await self._done([work], "skipped")
            return
        if mapped.problems:
            self._dead(work, "; ".join(mapped.problems), None, None)
            return
        try:
            if mapped.webhook is not None:
                hook = mapped.webhook
                await self._request("create_event", hook.method, hook.path, hook.body, hook.headers)
                self.summary.webhooks_sent += 1
            else:
                await self._standard(work)
        except Rejected as rejected:
            self._dead(
                work, rejected.detail, {"method": rejected.method, "path": rejected.path}, rejected.body
            )
            return
        await self._done([work])

    async def _standard(self, work: Work) -> None:
        mapped = work.mapped
        if mapped.kind == "profile_updated":
            if self.outbox.klaviyo_id(mapped.member_id) is None:
                await self._refresh(mapped)  # learn the Klaviyo id the Profile updated payload carries
            # Mapped when first looked at, perhaps before an earlier event of this run learned the id.
            mapped = map_event(work.pending.event, self.outbox.klaviyo_id)
        if mapped.kind in ("referral_code_provided", "referral_invited"):
            other = other_member(work.pending.event)
            if other and self.outbox.klaviyo_id(other) is None:
                await self._look_up_many([other])
            mapped = map_event(work.pending.event, self.outbox.klaviyo_id)
        await self._request("create_event", "POST", "/api/events", mapped.event_body())
        self.summary.refreshes += 1
        for change in mapped.subscriptions:
            await self._subscribe(change)
        self.summary.events_sent += 1

    async def _refresh(self, mapped: Mapped) -> None:
        """Profile-import the refresh and remember the Klaviyo id it answers with.

        A 409 means an email or phone of this member is already another profile's (two members sharing an
        address): the refresh is sent again without it, so this member keeps a profile of their own.
        """
        assert mapped.profile is not None
        profile = dict(mapped.profile)
        while True:
            try:
                response = await self._request(
                    "create_or_update_profile",
                    "POST",
                    "/api/profile-import",
                    {"data": {"type": "profile", "attributes": profile}},
                )
                break
            except Rejected as rejected:
                shared = next((name for name in ("email", "phone_number") if name in profile), None)
                if rejected.status != 409 or shared is None:
                    raise
                del profile[shared]
        self.outbox.remember(mapped.member_id, response.json()["data"]["id"])
        self.summary.refreshes += 1

    async def _look_up_many(self, member_ids: list[str]) -> None:
        """One Get Profiles for up to 100 members; remembers the Klaviyo id of each one found."""
        response = await self._request("get_profiles", "GET", ids.look_up_path(member_ids), None)
        if found := ids.found(response.json(), member_ids):
            self.outbox.remember_all(found)

    async def _subscribe(self, change: Subscription) -> None:
        await (self._consents.deliver(change) if self.batch else self._send_changes([change]))

    async def _send_changes(self, changes: list[Subscription]) -> None:
        operation, path, body = subscriptions.job(changes)
        await self._request(operation, "POST", path, body)
        self.summary.subscriptions += len(changes)
