"""Delivery's waits and retries against Klaviyo mocked with respx: throttling, server errors, requests never
answered, connections never made, and the deadline; and what the summary counts of each.

Time is injected (``Clock``: a ``sleep`` that advances a ``clock`` instead of waiting), so the connect timeout
and the deadline are measured in the same make-believe seconds as the waits, and nothing here depends on time.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Sequence
from typing import Any

import httpx
import pytest
import respx

from emulator.trifft import generate
from sync.delivery import Syncer
from sync.errors import connect_failure
from sync.outbox import Outbox
from sync.summary import DEADLINE, EXHAUSTED, UNREACHABLE, Summary

BASE = "http://klaviyo.test"
JOBS = "/api/event-bulk-create-jobs"


class Clock:
    """Injected time: ``sleep`` records each wait and moves ``now`` on by it, at once."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def _klaviyo() -> tuple[respx.Router, respx.Route]:
    """A Klaviyo that accepts every bulk job, and the route for the test to script."""
    router = respx.Router(base_url=BASE, assert_all_mocked=True)
    return router, router.post(JOBS)


def _syncer(router: respx.Router, clock: Clock, **options: Any) -> Syncer:
    options.setdefault("rate_limits", None)
    options.setdefault("seed", 1)
    return Syncer(
        BASE,
        "pk_test_retries",
        transport=httpx.MockTransport(router.async_handler),
        sleep=clock.sleep,
        clock=clock,
        **options,
    )


def _run(syncer: Syncer, events: Sequence[dict[str, Any]]) -> Summary:
    return asyncio.run(syncer.run(events))


def _events(count: int = 1) -> list[dict[str, Any]]:
    return list(generate(count, seed=7, members=1, kinds=["app_opened"]))


def _429(retry_after: str | None = None) -> httpx.Response:
    return httpx.Response(
        429, headers={"Retry-After": retry_after} if retry_after else {}, json={"errors": []}
    )


def _refused(request: httpx.Request) -> httpx.Response:
    # respx re-raises a side effect's error from its own, so a cause set here would not reach the sync: the
    # reasons behind a connect error are tested on real chains below (connect_failure) and on real sockets.
    raise httpx.ConnectError("All connection attempts failed", request=request)


# -- throttling -------------------------------------------------------------------------------------------------


def test_a_429_with_retry_after_waits_exactly_that_long_and_uses_up_no_attempt() -> None:
    router, jobs = _klaviyo()
    jobs.side_effect = [_429("3")] * 20 + [httpx.Response(202)]
    clock = Clock()

    summary = _run(_syncer(router, clock, max_attempts=3), _events())

    assert summary.ok and jobs.call_count == 21
    assert clock.waits == [3.0] * 20
    assert summary.throttled_waits == 20 and summary.throttled_seconds == 60.0
    assert summary.retries == 0 and summary.requests == 21
    assert len({call.request.content for call in jobs.calls}) == 1, "the same body each time"


def test_a_429_without_retry_after_backs_off_and_uses_up_an_attempt() -> None:
    router, jobs = _klaviyo()
    jobs.side_effect = [_429(), _429(), _429()]
    clock = Clock()

    summary = _run(_syncer(router, clock, max_attempts=3, backoff=0.5), _events())

    assert jobs.call_count == 3 and summary.pending == 1 and summary.stop == EXHAUSTED
    assert len(clock.waits) == 2 and 0.25 <= clock.waits[0] <= 0.5
    assert summary.throttled_waits == 2 and summary.retries == 0


# -- server errors and requests never answered -------------------------------------------------------------------


def test_server_errors_back_off_exponentially_with_jitter_and_never_beyond_the_cap() -> None:
    def waits_for(seed: int) -> list[float]:
        router, jobs = _klaviyo()
        jobs.side_effect = [httpx.Response(503)] * 7 + [httpx.Response(202)]
        clock = Clock()
        summary = _run(
            _syncer(router, clock, backoff=1.0, backoff_cap=8.0, max_attempts=8, seed=seed), _events()
        )
        assert summary.ok and jobs.call_count == 8 and summary.retries == 7
        return clock.waits

    waits = waits_for(1)
    ceilings = [1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0]
    assert len(waits) == len(ceilings)
    for wait, ceiling in zip(waits, ceilings, strict=True):
        assert ceiling / 2 <= wait <= ceiling
    growing = waits[:4]  # until the cap, each delay's band starts where the one before ends
    assert growing == sorted(growing) and growing[3] > growing[0] * 4
    assert waits_for(2) != waits, "jitter: another seed, other waits"


def test_a_request_sent_and_never_answered_is_a_request_and_a_retry() -> None:
    router, jobs = _klaviyo()
    jobs.side_effect = [
        httpx.RemoteProtocolError("peer closed"),
        httpx.ReadTimeout("slow"),
        httpx.Response(202),
    ]
    clock = Clock()

    summary = _run(_syncer(router, clock), _events())

    assert summary.ok and summary.requests == 3 and summary.retries == 2 and len(clock.waits) == 2


def test_exhausted_retries_leave_the_event_pending_and_a_rerun_resumes_it() -> None:
    outbox, events = Outbox(), _events()
    router, jobs = _klaviyo()
    jobs.side_effect = [httpx.Response(503)] * 3
    summary = _run(_syncer(router, Clock(), outbox=outbox, max_attempts=3), events)
    assert jobs.call_count == 3 and summary.retries == 2
    assert summary.pending == 1 and not summary.dead and not summary.ok and summary.stop == EXHAUSTED
    assert summary.stopped == f"POST {JOBS}: Klaviyo still failing after 3 attempts"

    router, jobs = _klaviyo()
    jobs.return_value = httpx.Response(202)
    again = _run(_syncer(router, Clock(), outbox=outbox), events)
    assert again.ok and outbox.counts() == {"done": 1}
    assert (again.received, again.known, again.resumed, again.new, again.events_sent) == (1, 1, 1, 0, 1)
    assert jobs.call_count == 1


# -- connections never made --------------------------------------------------------------------------------------


def test_nothing_connecting_stops_the_run_after_the_connect_timeout_and_counts_no_request() -> None:
    router, jobs = _klaviyo()
    jobs.side_effect = _refused
    clock = Clock()

    summary = _run(_syncer(router, clock, connect_timeout=5.0, max_attempts=2), _events(6))

    assert summary.stop == UNREACHABLE and summary.pending == 6 and not summary.dead
    assert summary.stopped == f"cannot reach {BASE}: All connection attempts failed; tried for 5.0s"
    assert summary.requests == 0 and summary.retries == 0 and summary.throttled_waits == 0
    assert jobs.call_count > 2, "connecting again is bounded by the connect timeout, not by attempts"
    assert sum(clock.waits) == pytest.approx(5.0)


def test_a_connection_that_comes_back_within_the_connect_timeout_goes_on() -> None:
    router, jobs = _klaviyo()
    jobs.side_effect = [_refused, _refused, _refused, httpx.Response(202)]

    summary = _run(_syncer(router, Clock(), connect_timeout=5.0), _events())

    assert summary.ok and summary.requests == 1 and summary.retries == 0 and jobs.call_count == 4


def _raised(error: BaseException, cause: BaseException) -> BaseException:
    """``error`` as raised ``from cause``, with its chain."""
    try:
        raise error from cause
    except BaseException as raised:
        return raised


def _as_httpx_raises(cause: BaseException) -> httpx.ConnectError:
    """A connect error chained as httpx chains it: its own error, httpcore's, the socket's at the bottom."""
    inner = _raised(OSError("All connection attempts failed"), cause)
    error = _raised(httpx.ConnectError("All connection attempts failed"), inner)
    assert isinstance(error, httpx.ConnectError)
    return error


@pytest.mark.parametrize(
    ("cause", "said", "hopeless"),
    [
        (ConnectionRefusedError(111, "Connection refused"), "connection refused", False),
        (
            socket.gaierror(-2, "Name or service not known"),
            "DNS lookup failed (Name or service not known)",
            False,
        ),
        (OSError(101, "Network is unreachable"), "network is unreachable", False),
        (
            ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"),
            "TLS certificate not accepted (",
            True,
        ),
    ],
    ids=["refused", "dns", "network", "tls-certificate"],
)
def test_a_connect_failure_is_named_by_the_reason_under_httpx_error(
    cause: BaseException, said: str, hopeless: bool
) -> None:
    reason, cannot_help = connect_failure(_as_httpx_raises(cause))
    assert reason.startswith(said) and cannot_help is hopeless


def test_a_tls_failure_stops_at_once_without_a_request(emulator_url: str) -> None:
    # The emulator speaks plain HTTP: a TLS hello gets an answer that is not TLS, as a wrong scheme would.
    url = emulator_url.replace("http://", "https://")
    syncer = Syncer(url, "pk_test_retries", rate_limits=None, connect_timeout=30.0)

    summary = _run(syncer, _events())

    assert summary.stop == UNREACHABLE and summary.requests == 0 and summary.pending == 1
    assert summary.stopped == (
        f"cannot reach {url}: TLS handshake failed (the server does not speak TLS: is it http://?)"
    )


# -- the deadline ------------------------------------------------------------------------------------------------


def test_the_deadline_bounds_a_run_that_klaviyo_keeps_throttling() -> None:
    router, jobs = _klaviyo()
    jobs.return_value = _429("10")
    clock = Clock()

    summary = _run(_syncer(router, clock, deadline=45.0), _events())

    assert summary.stop == DEADLINE and summary.stopped == "the deadline of 45s passed"
    assert summary.pending == 1 and not summary.dead
    assert clock.waits == [10.0] * 4, "no wait that would end past the deadline is started"
    assert summary.throttled_waits == 4 and summary.throttled_seconds == 40.0 and jobs.call_count == 5


def test_the_deadline_holds_in_real_time_too_while_a_request_hangs() -> None:
    router, jobs = _klaviyo()

    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return httpx.Response(202)

    jobs.side_effect = hang
    syncer = Syncer(
        BASE, "pk_test_retries", transport=httpx.MockTransport(router.async_handler), deadline=0.2
    )

    summary = _run(syncer, _events())

    assert (
        summary.stop == DEADLINE and summary.pending == 1 and summary.stopped == "the deadline of 0.2s passed"
    )


# -- what the summary counts --------------------------------------------------------------------------------------


def _accounted(summary: Summary) -> int:
    """Events a run finished one way or another, or left pending: what it had to deliver, if the counts add up."""
    return summary.events_sent + summary.webhooks_sent + summary.skipped + len(summary.dead) + summary.pending


def _klaviyo_for_everything(jobs_that_succeed: int | None) -> respx.Router:
    """A Klaviyo for every kind of event; bulk jobs fail (503) after the first ``jobs_that_succeed``."""
    router = respx.Router(base_url=BASE)
    jobs = router.post(JOBS)
    jobs.side_effect = lambda request: httpx.Response(
        503 if jobs_that_succeed is not None and jobs.call_count > jobs_that_succeed else 202
    )
    router.post("/api/profile-import").return_value = httpx.Response(201, json={"data": {"id": "01KLAVIYO"}})
    router.get("/api/profiles").return_value = httpx.Response(200, json={"data": []})
    router.route().return_value = httpx.Response(202)
    return router


def test_the_counts_of_a_stopped_run_and_of_the_run_that_resumes_it_add_up() -> None:
    stream = list(generate(330, seed=6, members=12, edge=True))
    events, later = stream[:300], stream[300:]
    outbox = Outbox()

    first = _run(
        _syncer(_klaviyo_for_everything(1), Clock(), outbox=outbox, max_attempts=2, linger=0), events
    )

    assert first.stop == EXHAUSTED and 0 < first.pending < 300 and first.events_sent > 0
    assert (first.received, first.known, first.resumed) == (300, 0, 0)
    assert _accounted(first) == first.new == 300

    second = _run(_syncer(_klaviyo_for_everything(None), Clock(), outbox=outbox), events + later)

    assert not second.pending and (second.received, second.known, second.new) == (330, 300, 30)
    assert second.resumed == first.pending
    assert _accounted(second) == second.new + second.resumed
    assert first.skipped + second.skipped > 0 and first.dead + second.dead, "system segments, broken webhooks"
    assert {dead.event_id for dead in second.dead}.isdisjoint(d.event_id for d in first.dead), (
        "this run's only"
    )
