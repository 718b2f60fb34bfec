"""Klaviyo ids learned in batches: one Get Profiles with ``any(external_id, [...])`` for up to 100 members.

Profile updated carries the member's own Klaviyo id, a referral the other member's. Members' workers ask for the
ids they need; the first to ask opens a batch, which fills for a short linger (or until it holds 100 ids) and goes
out as one request, with at most ``in_flight`` batches on the wire. An id already asked for joins the batch that
asks for it. An id Klaviyo does not know is simply not learned: the caller decides what that means.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

#: Get Profiles returns at most 100 profiles a page, so a filter asks for at most 100 external ids.
MAX_IDS = 100


def look_up_path(member_ids: Sequence[str]) -> str:
    """The Get Profiles request for these members' profiles: only their external_id, one page of up to 100."""
    assert 0 < len(member_ids) <= MAX_IDS
    if len(member_ids) == 1:
        condition = f"equals(external_id,{json.dumps(member_ids[0])})"
    else:
        condition = f"any(external_id,{json.dumps(list(member_ids), separators=(',', ':'))})"
    return (
        f"/api/profiles?filter={quote(condition, safe='(),')}&fields[profile]=external_id"
        f"&page[size]={MAX_IDS}"
    )


def found(answer: Any, member_ids: Sequence[str]) -> dict[str, str]:
    """The Klaviyo id of each of ``member_ids`` that a Get Profiles answer names, by external id."""
    wanted = set(member_ids)
    return {
        external: profile["id"]
        for profile in answer.get("data") or []
        if (external := (profile.get("attributes") or {}).get("external_id")) in wanted
    }


@dataclass
class _Batch:
    done: asyncio.Future[None]
    ids: list[str] = field(default_factory=list)
    full: asyncio.Event = field(default_factory=asyncio.Event)


class Resolver:
    """Batches the look-ups of many members' workers. ``send(ids)`` makes one request and remembers what it finds;
    whatever it raises is raised to every worker waiting on that batch."""

    def __init__(
        self,
        send: Callable[[list[str]], Awaitable[None]],
        linger: float = 0.02,
        in_flight: int = 2,
    ) -> None:
        self.send, self.linger = send, linger
        self._open: _Batch | None = None
        self._asked: dict[str, _Batch] = {}
        self._slots = asyncio.Semaphore(in_flight)

    async def learn(self, member_id: str) -> None:
        """Return once ``member_id`` has been looked up (found or not), in a batch shared with other workers."""
        batch, lead = self._asked.get(member_id), False
        if batch is None:
            batch = self._open
            if batch is None or len(batch.ids) >= MAX_IDS:
                batch = self._open = _Batch(asyncio.get_running_loop().create_future())
                lead = True
            batch.ids.append(member_id)
            self._asked[member_id] = batch
            if len(batch.ids) >= MAX_IDS:
                batch.full.set()
        if lead:
            await self._lead(batch)
        await asyncio.shield(batch.done)

    async def _lead(self, batch: _Batch) -> None:
        try:
            async with self._slots:
                if not batch.full.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(batch.full.wait(), self.linger)
                if self._open is batch:
                    self._open = None
                await self.send(list(batch.ids))
        except asyncio.CancelledError:
            batch.done.cancel()
            raise
        except Exception as error:
            batch.done.set_exception(error)
        else:
            batch.done.set_result(None)
        finally:
            for member_id in batch.ids:
                if self._asked.get(member_id) is batch:
                    del self._asked[member_id]
            if self._open is batch:
                self._open = None
