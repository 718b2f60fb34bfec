"""Reading a running emulator's (or proxy's) inspection API over HTTP: what one account sent, typed.

The verifier judges ``Traffic``; this is how ``verify``, ``replay``, the demo and the pytest plugin get it from a
server they do not share memory with. Errors are httpx's (``httpx.HTTPError``): the caller says what to do.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import httpx

from contracts.traffic import Observation, RequestRecord, Traffic
from emulator.klaviyo.types import LedgerEntry

PAGE = 1000


class EmulatorClient:
    """One account's view of the emulator at ``base_url`` (the account of ``api_key``)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        transport: httpx.BaseTransport | None = None,
        timeout: float | httpx.Timeout = 30,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self._transport = transport
        self._timeout = timeout

    def _pages(self, path: str) -> Iterator[dict[str, Any]]:
        with httpx.Client(base_url=self.base_url, transport=self._transport, timeout=self._timeout) as http:
            after = 0
            while True:
                response = http.get(path, params={"key": self.api_key, "after": after, "limit": PAGE})
                response.raise_for_status()
                page = response.json()
                yield from page["data"]
                if len(page["data"]) < PAGE:
                    return
                after = page["next_after"]

    def key(self) -> dict[str, Any]:
        """Whether the emulator accepts the key (``accepted``) and has seen it (``seen``), and its account."""
        with httpx.Client(base_url=self.base_url, transport=self._transport, timeout=self._timeout) as http:
            response = http.get("/_emulator/key", params={"key": self.api_key})
            response.raise_for_status()
            found: dict[str, Any] = response.json()
            return found

    def requests(self) -> list[RequestRecord]:
        """The account's whole request log, rejected requests included, oldest first."""
        return [RequestRecord.from_dict(row) for row in self._pages("/_emulator/requests")]

    def observations(self) -> list[Observation]:
        """What each of the account's requests carried and what the emulator did with it, in arrival order."""
        return [Observation.from_dict(row) for row in self._pages("/_emulator/observations")]

    def ledger(self) -> list[LedgerEntry]:
        """What the emulator did quietly for the account (deduplicated, ignored, conflicts), oldest first."""
        return [LedgerEntry(**row) for row in self._pages("/_emulator/ledger")]

    def traffic(self) -> Traffic:
        """The account's requests and observations, as the verifier judges them."""
        requests = self.requests()
        # Observations are read after the requests, so none can name a request missing from the log.
        logged = {r.id for r in requests}
        return Traffic(requests, [o for o in self.observations() if o.request_id in logged])


def fetch(base_url: str, api_key: str, transport: httpx.BaseTransport | None = None) -> Traffic:
    """The traffic one account sent to the emulator at ``base_url``."""
    return EmulatorClient(base_url, api_key, transport).traffic()


class InProcessTransport(httpx.BaseTransport):
    """A synchronous httpx transport into an ASGI app, for blocking clients and plain (non-async) tests.

    httpx's own ASGITransport is async-only; this runs it on an event loop in a helper thread.
    """

    def __init__(self, app: Any) -> None:
        self._inner = httpx.ASGITransport(app)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="asgi-bridge", daemon=True)
        self._thread.start()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()

        async def call() -> httpx.Response:
            response = await self._inner.handle_async_request(request)
            content = await response.aread()
            return httpx.Response(
                response.status_code, headers=response.headers, content=content, request=request
            )

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result()

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()
