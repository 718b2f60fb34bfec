"""pytest fixtures for testing a TRIFFT -> Klaviyo producer against the fake Klaviyo (entry point ``pytest11``).

    def test_my_producer_keeps_the_contract(klaviyo_emulator, trifft_events):
        my_producer.send(trifft_events(count=500), base_url=klaviyo_emulator.url, api_key=klaviyo_emulator.api_key)
        klaviyo_emulator.assert_contract()

``klaviyo_emulator`` is one real server on 127.0.0.1 for the whole session (rate limits off, no faults), emptied
before each test. Hypothesis strategies live in ``emulator.trifft.strategies``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts import KLAVIYO_REVISION
from contracts.traffic import RequestRecord, Traffic
from contracts.verifier import Report, verify
from emulator.client import EmulatorClient
from emulator.klaviyo import Emulator, Faults
from emulator.klaviyo.store import account_id
from emulator.server import RunningEmulator
from emulator.trifft import generate, strategies, write_jsonl

#: The events a test generated with ``trifft_events``, kept on its node for a failing contract check.
_GENERATED = pytest.StashKey[list[dict[str, Any]]]()


class KlaviyoEmulator:
    """A handle on the session's fake Klaviyo, for one test and one account."""

    api_key = "pk_test_klaviyo_emulator"

    def __init__(self, running: RunningEmulator, request: pytest.FixtureRequest | None = None) -> None:
        self.running = running
        self.emulator: Emulator = running.emulator
        self.url = running.url
        self._request = request

    @property
    def headers(self) -> dict[str, str]:
        """Headers a Klaviyo client sends: the test account's key and the spec's revision."""
        return {
            "Authorization": f"Klaviyo-API-Key {self.api_key}",
            "revision": KLAVIYO_REVISION,
            "Content-Type": "application/vnd.api+json",
            "Accept": "application/vnd.api+json",
        }

    def reset(self) -> None:
        """Empty the emulator for a fresh start. In a Hypothesis test, call it first thing in each example: it also
        marks where the example's drawn events begin, so a failing ``assert_contract()`` saves just those."""
        strategies.new_example()
        if self._request is not None:
            self._request.node.stash[_GENERATED] = []
        self.emulator.store.reset()
        self.emulator.limiter.reset()
        self.emulator.limiter.set_mode("off")
        self.emulator.faults = Faults()

    def set_rate_limits(self, mode: str) -> None:
        """``klaviyo``, ``off`` or a factor such as ``0.1``."""
        self.emulator.limiter.set_mode(mode)

    def set_faults(self, spec: str) -> None:
        """Fault injection for the rest of the test, e.g. ``"5xx=0.1,429=0.1,seed=1"``."""
        self.emulator.faults = Faults.parse(spec)

    def requests(self, api_key: str | None = None) -> list[RequestRecord]:
        """Every request the account's key sent, rejected ones included, oldest first."""
        return EmulatorClient(self.url, api_key or self.api_key).requests()

    def traffic(self, api_key: str | None = None) -> Traffic:
        """The account's requests and what each carried (``contracts.traffic``), as the verifier judges them."""
        return EmulatorClient(self.url, api_key or self.api_key).traffic()

    def rows(self, table: str, api_key: str | None = None) -> list[dict[str, Any]]:
        """The account's rows of ``profiles``, ``events``, ``metrics``, ``jobs``, ``ledger`` or ``observations``."""
        return self.emulator.store.rows(table, account_id(api_key or self.api_key))

    def verify(
        self, require_all_metrics: bool = False, api_key: str | None = None, allow_empty: bool = False
    ) -> Report:
        """The contract verdict on what the account received; nothing received fails unless ``allow_empty``."""
        return verify(self.traffic(api_key), require_all_metrics=require_all_metrics, allow_empty=allow_empty)

    def assert_contract(
        self, require_all_metrics: bool = False, api_key: str | None = None, allow_empty: bool = False
    ) -> Report:
        """Fail the test with the verifier's report unless the traffic keeps the contract (and, unless
        ``allow_empty``, something arrived for the account to be judged on)."""
        report = self.verify(require_all_metrics, api_key, allow_empty)
        if not report.ok:
            raise AssertionError(
                "the traffic breaks the TRIFFT -> Klaviyo contract:\n"
                + report.text(limit=20, more="klaviyo_emulator.verify().violations has them all")
                + self._save_failing_events()
            )
        return report

    def _save_failing_events(self) -> str:
        """Write the events this test generated (``trifft_events``, the Hypothesis strategies) next to the test
        and say how to replay and shrink them; nothing when the test generated none."""
        if self._request is None:
            return ""
        events = [*self._request.node.stash.get(_GENERATED, []), *strategies.drawn()]
        if not events:
            return ""
        path = Path(self._request.getfixturevalue("tmp_path")) / "failing-events.jsonl"
        write_jsonl(events, path)
        return (
            f"\nthe {len(events)} TRIFFT events this test generated are in {path}\n"
            f"  replay them: trifft-klaviyo replay {path}\n"
            f"  shrink them: trifft-klaviyo shrink --input {path} --producer 'YOUR PRODUCER COMMAND'"
        )

    def client(self) -> httpx.Client:
        """An httpx client for this emulator with the test account's headers."""
        return httpx.Client(base_url=self.url, headers=self.headers)


@pytest.fixture(scope="session")
def _klaviyo_emulator_server() -> Iterator[RunningEmulator]:
    with RunningEmulator(Emulator(rate_limits="off")) as running:
        yield running


@pytest.fixture
def klaviyo_emulator(
    _klaviyo_emulator_server: RunningEmulator, request: pytest.FixtureRequest
) -> KlaviyoEmulator:
    """The fake Klaviyo on a real socket, emptied for this test (rate limits off, no faults)."""
    handle = KlaviyoEmulator(_klaviyo_emulator_server, request)
    handle.reset()
    strategies.forget_drawn()  # what other tests drew is not this test's
    return handle


@pytest.fixture
def trifft_events(request: pytest.FixtureRequest) -> Callable[..., list[dict[str, Any]]]:
    """``trifft_events(count=200, seed=0, members=20, edge=False, kinds=...)``: generated TRIFFT member events.

    What it generates is kept for the test, so a failing ``klaviyo_emulator.assert_contract()`` can save it."""
    request.node.stash[_GENERATED] = []

    def make(
        count: int = 200, seed: int = 0, members: int = 20, edge: bool = False, **options: Any
    ) -> list[dict[str, Any]]:
        events = list(generate(count, seed=seed, members=members, edge=edge, **options))
        request.node.stash[_GENERATED] = [*request.node.stash.get(_GENERATED, []), *events]
        return events

    return make
