"""Delivery: the outbox's events to Klaviyo, ordered per member, idempotent, and nothing lost.

Each member has a worker that sends its events in TRIFFT order; members never wait for one another. Runs of plain
standard events go into Bulk Create Events jobs shared across members (``bulk.Packer``: up to 1,000 events, under
5 MB, one group per member whose profile carries the refresh as of the run's last event); events that need more
(a Klaviyo id to learn, a subscription to mirror, a custom webhook) are sent one by one between runs. A job
Klaviyo refuses is retried event by event, so only the bad event is dead-lettered. 429s wait ``Retry-After``;
5xx and network errors back off exponentially with jitter; a 401/403, or Klaviyo failing through every retry,
stops the run with the rest pending. ``concurrency`` bounds requests on the wire, never waits.
"""

from __future__ import annotations

import asyncio
import functools
import json
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx

import contracts

from . import bulk
from .errors import Exhausted, Rejected, Throttled, Transient, Unauthorized
from .limiter import Limiter
from .mapping import Mapped, map_event
from .outbox import Outbox, Pending
from .summary import Summary

BULK = "bulk_create_events"


@dataclass
class _Work:
    pending: Pending
    mapped: Mapped


def _bulkable(mapped: Mapped) -> bool:
    return (
        mapped.metric is not None
        and not mapped.subscriptions
        and not mapped.problems
        and mapped.kind not in ("profile_updated", "referral_code_provided", "referral_invited")
    )


class Syncer:
    """Send TRIFFT events to Klaviyo (or the emulator). The transport is injected; the outbox may be a file."""

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
        seed: int | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.base_url, self.api_key = base_url.rstrip("/"), api_key
        self.transport, self.timeout = transport, timeout
        self.outbox = outbox or Outbox()
        self.limiter = Limiter(rate_limits, sleep=sleep)
        self.concurrency, self.max_attempts = concurrency, max_attempts
        self.backoff, self.backoff_cap, self.batch, self.linger = backoff, backoff_cap, batch, linger
        self.sleep, self.progress = sleep, progress
        self._random = random.Random(seed)
        self._stop: Exhausted | Unauthorized | None = None
        self.summary = Summary()

    # -- the run ------------------------------------------------------------------------------------------------

    async def run(self, events: Iterable[dict[str, Any]] = ()) -> Summary:
        """Store ``events`` in the outbox, then deliver everything pending (including a previous run's)."""
        started = time.perf_counter()
        self._stop = None
        batch = list(events)
        self.summary.received = len(batch)
        self.summary.duplicates = len(batch) - self.outbox.add(batch)
        headers = {
            "Authorization": f"Klaviyo-API-Key {self.api_key}",
            "revision": contracts.KLAVIYO_REVISION,
            "Accept": "application/vnd.api+json",
        }
        async with httpx.AsyncClient(
            base_url=self.base_url, transport=self.transport, headers=headers, timeout=self.timeout
        ) as self.http:
            queues = [
                [_Work(p, map_event(p.event, self.outbox.klaviyo_id)) for p in items]
                for items in self.outbox.pending().values()
            ]
            self._gate = asyncio.Semaphore(self.concurrency)
            self._packer = bulk.Packer(
                self._send_job, functools.partial(self.limiter.ready, BULK), self.linger
            )
            try:
                async with asyncio.TaskGroup() as group:
                    for work in queues:
                        group.create_task(self._member(work))
            except* (Exhausted, Unauthorized) as stop:
                # Klaviyo stayed unavailable through every retry, or refuses the key whatever the event: stop
                # (every member's worker is cancelled; a cancelled request is resent harmlessly next time). What
                # is not done stays pending in the outbox, in order, for the next run.
                self.summary.stopped = str(stop.exceptions[0])
        self.summary.pending = self.outbox.counts().get("pending", 0)
        self.summary.dead = self.outbox.dead_letters()
        self.summary.seconds = time.perf_counter() - started
        return self.summary

    async def _member(self, work: list[_Work]) -> None:
        """One member's events, in TRIFFT order: runs of plain events into shared bulk jobs, the rest one by one."""
        while work:
            run: list[_Work] = []
            size = 0
            while self.batch and work and _bulkable(work[0].mapped) and len(run) < bulk.MAX_EVENTS:
                weight = bulk.entry_size(work[0].mapped)
                if run and size + weight > bulk.MAX_BYTES:
                    break
                run.append(work.pop(0))
                size += weight
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

    # -- requests -----------------------------------------------------------------------------------------------

    async def _request(
        self, operation: str, method: str, path: str, body: Any, extra: dict[str, str] | None = None
    ) -> httpx.Response:
        """One logical request, retried until it succeeds, is refused for good, or attempts run out."""
        content = (
            None if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        )
        headers = {} if body is None else {"Content-Type": "application/vnd.api+json"}
        headers.update(extra or {})
        for attempt in range(1, self.max_attempts + 1):
            await self.limiter.acquire(operation)
            try:
                async with self._gate:  # held for the request only, never through a wait
                    if self._stop is not None:  # another request found Klaviyo down or the key refused
                        raise self._stop
                    self.summary.requests += 1
                    response = await self.http.request(method, path, content=content, headers=headers)
                _classify(response, method, path)
                return response
            except Unauthorized as refused:
                self._stop = refused
                raise
            except Throttled as throttled:
                self.summary.throttled_waits += 1
                await self.sleep(
                    throttled.retry_after if throttled.retry_after is not None else self._backoff(attempt)
                )
            except (Transient, httpx.TransportError):
                self.summary.retries += 1
                await self.sleep(self._backoff(attempt))
        self._stop = Exhausted(f"{method} {path}: Klaviyo still failing after {self.max_attempts} attempts")
        raise self._stop

    def _backoff(self, attempt: int) -> float:
        """Equal jitter: half the capped exponential delay, plus a random part of the other half.

        Never more than the cap, and until the cap never less than the wait before, so retries slow down and spread.
        """
        ceiling = min(self.backoff_cap, self.backoff * 2.0 ** (attempt - 1))
        return ceiling / 2 + self._random.uniform(0, ceiling / 2)

    def _done(self, works: list[_Work], status: str = "done") -> None:
        self.outbox.finish([work.pending.event_id for work in works], status, 1)
        if self.progress:
            self.progress(len(works))

    def _dead(self, work: _Work, reason: str, request: Any, response: Any) -> None:
        self.outbox.dead(work.pending, reason, request, response, time.time(), 1)
        if self.progress:
            self.progress(1)

    async def _send_job(self, runs: list[list[_Work]]) -> None:
        body = bulk.job_body([[work.mapped for work in run] for run in runs])
        await self._request(BULK, "POST", "/api/event-bulk-create-jobs", body)
        self.summary.bulk_jobs += 1
        self.summary.refreshes += len(runs)
        self.summary.events_sent += sum(len(run) for run in runs)
        self._done([work for run in runs for work in run])

    async def _single(self, work: _Work) -> None:
        mapped = work.mapped
        if mapped.skipped:
            self.summary.skipped += 1
            self._done([work], "skipped")
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
        self._done([work])

    async def _standard(self, work: _Work) -> None:
        mapped = work.mapped
        if mapped.kind == "profile_updated":
            if self.outbox.klaviyo_id(mapped.member_id) is None:
                await self._refresh(mapped)  # learn the Klaviyo id the Profile updated payload carries
            # Mapped when the run started, perhaps before an earlier event of this run learned the id.
            mapped = map_event(work.pending.event, self.outbox.klaviyo_id)
        if mapped.kind in ("referral_code_provided", "referral_invited"):
            other = work.pending.event["data"].get("referrer_id") or work.pending.event["data"].get(
                "referral_id"
            )
            if other and self.outbox.klaviyo_id(other) is None:
                await self._look_up(other)
            mapped = map_event(work.pending.event, self.outbox.klaviyo_id)
        await self._request("create_event", "POST", "/api/events", mapped.event_body())
        self.summary.events_sent += 1
        self.summary.refreshes += 1
        for change in mapped.subscriptions:
            await self._subscribe(change.channel, change.subscribed, change.email, change.phone_number)

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

    async def _look_up(self, member_id: str) -> None:
        path = f'/api/profiles?filter=equals(external_id,"{member_id}")&fields[profile]=external_id'
        response = await self._request("get_profiles", "GET", path, None)
        found = response.json().get("data") or []
        if found:
            self.outbox.remember(member_id, found[0]["id"])

    async def _subscribe(self, channel: str, subscribed: bool, email: str | None, phone: str | None) -> None:
        attributes: dict[str, Any] = {}
        if email is not None:
            attributes["email"] = email
        if phone is not None:
            attributes["phone_number"] = phone
        consent = "SUBSCRIBED" if subscribed else "UNSUBSCRIBED"
        attributes["subscriptions"] = {channel: {"marketing": {"consent": consent}}}
        kind = (
            "profile-subscription-bulk-create-job" if subscribed else "profile-subscription-bulk-delete-job"
        )
        job: dict[str, Any] = {"profiles": {"data": [{"type": "profile", "attributes": attributes}]}}
        if subscribed:
            job["custom_source"] = "TRIFFT"
        body = {"data": {"type": kind, "attributes": job}}
        operation = "bulk_subscribe_profiles" if subscribed else "bulk_unsubscribe_profiles"
        path = (
            "/api/profile-subscription-bulk-create-jobs"
            if subscribed
            else "/api/profile-subscription-bulk-delete-jobs"
        )
        await self._request(operation, "POST", path, body)
        self.summary.subscriptions += 1


def _classify(response: httpx.Response, method: str, path: str) -> None:
    """The one place an HTTP status becomes an outcome."""
    status = response.status_code
    if status < 400:
        return
    if status == 429:
        raw = response.headers.get("Retry-After")
        raise Throttled(float(raw) if raw and raw.strip().isdigit() else None)
    if status >= 500 or status == 408:
        raise Transient(f"{method} {path} -> {status}")
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text[:2000]
    if status in (401, 403):
        raise Unauthorized(status, method, path, body)
    raise Rejected(status, method, path, body)
