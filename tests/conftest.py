from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# The story engine makes a few hundred draws per example, and Hypothesis builds its unicode tables on the first
# text draw: generation is legitimately slower than the health check expects, so that one check is off.
settings.register_profile("dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


# -- the fake Klaviyo: one server per session, state cleared before each test that uses it ------------------------

from collections.abc import Iterator  # noqa: E402

import httpx  # noqa: E402
import pytest  # noqa: E402

from emulator.client import InProcessTransport  # noqa: E402
from emulator.klaviyo import Emulator  # noqa: E402
from emulator.pytest_plugin import KlaviyoEmulator  # noqa: E402
from emulator.server import RunningEmulator, create_app  # noqa: E402

API_KEY = "pk_test_trifft_0001"
HEADERS = {
    "Authorization": f"Klaviyo-API-Key {API_KEY}",
    "revision": "2026-07-15",
    "Content-Type": "application/vnd.api+json",
    "Accept": "application/vnd.api+json",
}


@pytest.fixture(scope="session")
def _running_emulator(_klaviyo_emulator_server: RunningEmulator) -> RunningEmulator:
    """The plugin's session server (emulator.pytest_plugin), under the name these tests use."""
    return _klaviyo_emulator_server


@pytest.fixture
def emulator_url(klaviyo_emulator: KlaviyoEmulator) -> str:
    """Base URL of a fake Klaviyo on a real socket (rate limits off, no faults), emptied for this test."""
    return klaviyo_emulator.url


@pytest.fixture
def emulator() -> Emulator:
    """A fresh in-process emulator (rate limits off) for ASGI tests."""
    return Emulator(rate_limits="off")


@pytest.fixture
def client(emulator: Emulator) -> Iterator[httpx.Client]:
    """An HTTP client wired to ``emulator`` in process (no socket), with a valid key and revision."""
    transport = InProcessTransport(create_app(emulator))
    with httpx.Client(transport=transport, base_url="http://klaviyo.test", headers=HEADERS) as http:
        yield http
