"""(Un)subscription jobs shared across members: one Bulk Subscribe or Unsubscribe Profiles job, many profiles.

Each member's worker hands in one consent change at a time and waits for the job it joined before handing in its
next one, so a member is never twice in a job and its changes reach Klaviyo in order, each after the one before
was accepted. Changes share a job only when their bodies differ in nothing but the profile (same operation, path,
``custom_source``, list, ...): the job is ``Subscription.job()``'s body with the profiles of all of them. A change
naming an email or phone number already in the open job (two members sharing an address) closes that job and opens
the next, so no profile is named twice in one job. A job holds at most 1,000 profiles to subscribe or 100 to
unsubscribe (the bundled spec's descriptions of the two operations).

As in ``bulk.Packer``, a job stays open while the jobs of its kind before it are on the wire, while Klaviyo's limit
for its operation has no token, and for a short linger. What ``send`` raises goes to every change in the job; when
Klaviyo refuses a shared job for good, each change is sent again alone, so only a bad one is refused.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .bulk import filled, settle
from .errors import Rejected
from .mapping import Subscription

#: Profiles a job may carry, per operation ("Maximum number of profiles" in each operation's description).
MAX_PROFILES = {"bulk_subscribe_profiles": 1000, "bulk_unsubscribe_profiles": 100}

_Key = tuple[str, str, str]


def _profiles(body: dict[str, Any]) -> list[Any]:
    rows: list[Any] = body["data"]["attributes"]["profiles"]["data"]
    return rows


def job(changes: Sequence[Subscription]) -> tuple[str, str, dict[str, Any]]:
    """The one (un)subscribe request for changes that share a key: operation, path and body."""
    operation, path, body = changes[0].job()
    _profiles(body)[:] = [row for change in changes for row in _profiles(change.job()[2])]
    return operation, path, body


def key(change: Subscription) -> _Key:
    """What changes sharing a job must agree on: the operation, the path and the body but for its profiles."""
    operation, path, body = change.job()
    _profiles(body).clear()
    return operation, path, json.dumps(body, sort_keys=True)


def _names(change: Subscription) -> set[str]:
    return {name for name in (change.email, change.phone_number) if name is not None}


@dataclass
class _Job:
    key: _Key
    sent: asyncio.Future[None]
    changes: list[Subscription] = field(default_factory=list)
    names: set[str] = field(default_factory=set)  # every email and phone number in the job
    full: asyncio.Event = field(default_factory=asyncio.Event)


class Batcher:
    """Packs the consent changes of many members' workers into shared jobs.

    ``send(changes)`` makes one request for changes sharing a key (``job``); ``ready(operation)`` returns when a
    request of that operation may go out now.
    """

    def __init__(
        self,
        send: Callable[[list[Subscription]], Awaitable[None]],
        ready: Callable[[str], Awaitable[None]],
        linger: float = 0.02,
        in_flight: int = 2,
    ) -> None:
        self.send, self.ready, self.linger, self.in_flight = send, ready, linger, in_flight
        self._open: dict[_Key, _Job] = {}
        self._slots: dict[_Key, asyncio.Semaphore] = {}

    async def deliver(self, change: Subscription) -> None:
        """Return once ``change`` is accepted, in a job shared with other members' changes or, if Klaviyo refused
        that job, alone. Rejected when Klaviyo refuses it alone."""
        wanted, names = key(change), _names(change)
        job, lead = self._open.get(wanted), False
        if job is None or len(job.changes) >= MAX_PROFILES[wanted[0]] or job.names & names:
            if job is not None:
                job.full.set()  # the one before goes now: this change cannot join it
            job = self._open[wanted] = _Job(wanted, asyncio.get_running_loop().create_future())
            lead = True
        job.changes.append(change)
        job.names |= names
        if len(job.changes) >= MAX_PROFILES[wanted[0]]:
            job.full.set()
        if lead:
            await self._lead(job)
        try:
            await job.sent
        except Rejected:
            if len(job.changes) == 1:
                raise
            await self.send([change])  # one change of the job was bad: each goes alone, only it is refused

    async def _lead(self, job: _Job) -> None:
        await settle(job.sent, self._fill_and_send(job))

    async def _fill_and_send(self, job: _Job) -> None:
        async with self._slots.setdefault(job.key, asyncio.Semaphore(self.in_flight)):
            await self.ready(job.key[0])
            await filled(job.full, self.linger)
            if self._open.get(job.key) is job:
                del self._open[job.key]
            await self.send(job.changes)
