"""Bulk Create Events jobs, packed across members as their runs of plain events come in.

Each member's worker hands in its next run of plain standard events and waits for the job it joined. The first run
to arrive opens a job; the job stays open until a bulk job may go out under Klaviyo's limit (so under the limits,
jobs fill while they wait for their turn), then a short linger for the members just behind, or until it is full,
and goes out with every run that joined: at most 1,000 events and well under Klaviyo's 5 MB, one group per member
whose profile carries the refresh as of the last event of its run. No member waits for another's single calls.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from .mapping import Mapped
from .outbox import encode

MAX_EVENTS = 1000
#: Klaviyo refuses bulk bodies over 5 MB; keep room for the envelope and each group's profile.
MAX_BYTES = 4_500_000

Run = TypeVar("Run")


def event_entry(mapped: Mapped) -> dict[str, Any]:
    """One event of a bulk job: the Create Event attributes without the profile (the group carries it)."""
    attributes = mapped.event_body()["data"]["attributes"]
    return {"type": "event", "attributes": {k: v for k, v in attributes.items() if k != "profile"}}


#: What an entry carries besides its properties (type, metric, time, unique_id, value), generously.
_ENTRY_OVERHEAD = 512


def entry_size(mapped: Mapped) -> int:
    """At least the bytes an event's entry adds to a job (its properties encoded as the request encodes them)."""
    return len(encode(mapped.properties)) + _ENTRY_OVERHEAD


def profile_size(mapped: Mapped) -> int:
    """At least the bytes a group's profile adds to a job."""
    return len(encode(mapped.profile)) + _ENTRY_OVERHEAD


def job_body(runs: Sequence[Sequence[Mapped]]) -> dict[str, Any]:
    """The Bulk Create Events body: one group per run (one member), the refresh as of the run's last event."""
    groups = [
        {
            "type": "event-bulk-create",
            "attributes": {
                "profile": {"data": {"type": "profile", "attributes": run[-1].profile}},
                "events": {"data": [event_entry(mapped) for mapped in run]},
            },
        }
        for run in runs
    ]
    return {"data": {"type": "event-bulk-create-job", "attributes": {"events-bulk-create": {"data": groups}}}}


@dataclass
class _Job(Generic[Run]):
    sent: asyncio.Future[None]
    runs: list[Run] = field(default_factory=list)
    events: int = 0
    size: int = 0
    full: asyncio.Event = field(default_factory=asyncio.Event)


class Packer(Generic[Run]):
    """Packs runs handed in by many members into shared jobs and sends each job once.

    ``send(runs)`` sends one job; whatever it raises (the job refused, Klaviyo down) is raised to every member in
    the job, so each can fall back or stop. ``ready()`` returns when a bulk job may go out now.
    """

    def __init__(
        self,
        send: Callable[[list[Run]], Awaitable[None]],
        ready: Callable[[], Awaitable[None]],
        linger: float = 0.02,
        in_flight: int = 2,
    ) -> None:
        self.send, self.ready, self.linger = send, ready, linger
        self._open: _Job[Run] | None = None
        self._slots = asyncio.Semaphore(in_flight)

    async def deliver(self, run: Run, events: int, size: int) -> None:
        """Put ``run`` (``events`` events, about ``size`` bytes) into a job and wait until that job is sent."""
        job, lead = self._open, False
        if job is None or job.events + events > MAX_EVENTS or job.size + size > MAX_BYTES:
            if job is not None:
                job.full.set()  # the one before goes now: nothing more fits
            job = self._open = _Job(asyncio.get_running_loop().create_future())
            lead = True
        job.runs.append(run)
        job.events += events
        job.size += size
        if job.events >= MAX_EVENTS:
            job.full.set()
        if lead:
            await self._lead(job)
        await job.sent

    async def _lead(self, job: _Job[Run]) -> None:
        await settle(job.sent, self._fill_and_send(job))

    async def _fill_and_send(self, job: _Job[Run]) -> None:
        # The job fills while the jobs before it are on the wire, then while Klaviyo's bulk limit has no token,
        # then for a short linger: without limits, the slower Klaviyo answers, the fuller the jobs.
        async with self._slots:
            await self.ready()
            await filled(job.full, self.linger)
            if self._open is job:
                self._open = None
            await self.send(job.runs)


async def filled(full: asyncio.Event, linger: float) -> None:
    """Return once ``full`` is set, or after ``linger`` seconds: how long an open job waits for more."""
    if not full.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(full.wait(), linger)


async def settle(sent: asyncio.Future[None], sending: Awaitable[None]) -> None:
    """Await ``sending`` and tell everyone waiting on ``sent`` how it went: done, its exception, or cancelled."""
    try:
        await sending
    except asyncio.CancelledError:
        sent.cancel()
        raise
    except Exception as error:
        sent.set_exception(error)
    else:
        sent.set_result(None)
