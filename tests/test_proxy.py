"""The proxy in front of a fake Klaviyo (no internet here): it forwards unchanged, records, judges in passing.

Failures a local upstream cannot produce (TLS errors, timeouts, a body cut off) are driven with respx, the
design's library for mocking httpx.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from contracts import KLAVIYO_REVISION
from contracts.traffic import RequestRecord
from emulator.client import EmulatorClient
from emulator.klaviyo import Emulator, Faults, Store
from emulator.klaviyo.store import account_id
from emulator.proxy import Proxy, create_proxy_app
from emulator.server import RunningEmulator
from emulator.trifft import generate
from sync import map_event
from sync.delivery import Syncer

KEY = "pk_test_proxy_0001"
HEADERS = {
    "Authorization": f"Klaviyo-API-Key {KEY}",
    "revision": KLAVIYO_REVISION,
    "Content-Type": "application/vnd.api+json",
}
EVENTS = list(generate(300, seed=8, members=20))


@pytest.fixture
def upstream() -> Iterator[RunningEmulator]:
    with RunningEmulator(Emulator(rate_limits="off")) as running:
        yield running


def _proxy(upstream_url: str, **options: Any) -> RunningEmulator:
    state = Emulator(rate_limits="off", faults=options.pop("faults", Faults()))
    return RunningEmulator(state, app=create_proxy_app(Proxy(state, upstream_url, **options)))


def _app_event(**change: Any) -> dict[str, Any]:
    event = next(e for e in EVENTS if e["kind"] == "app_opened")
    body = map_event(event).event_body()
    body["data"]["attributes"]["properties"].update(change)
    return body


def test_the_reference_sync_through_the_proxy_gets_the_same_verdict_as_direct(
    upstream: RunningEmulator,
) -> None:
    with _proxy(upstream.url) as proxy:
        summary = asyncio.run(Syncer(proxy.url, KEY, rate_limits=None).run(EVENTS))
        assert summary.ok
        through = EmulatorClient(proxy.url, KEY)
        from contracts.verifier import verify

        seen, direct = verify(through.traffic()), verify(EmulatorClient(upstream.url, KEY).traffic())
    assert seen.ok and direct.ok, seen.text()
    assert (seen.requests, seen.metrics, seen.endpoints) == (
        direct.requests,
        direct.metrics,
        direct.endpoints,
    )


def test_a_planted_violation_through_the_proxy_fails_naming_its_rule(upstream: RunningEmulator) -> None:
    with (
        _proxy(upstream.url, annotate=True) as proxy,
        httpx.Client(base_url=proxy.url, headers=HEADERS) as http,
    ):
        answer = http.post("/api/events", json=_app_event(app_version=7))
        assert answer.status_code == 202  # Klaviyo takes it: only the TRIFFT contract is broken
        assert "[metric-payload]" in answer.headers["x-trifft-contract"]
        from contracts.verifier import verify

        report = verify(EmulatorClient(proxy.url, KEY).traffic())
        ledger = EmulatorClient(proxy.url, KEY).ledger()
    assert [v.rule for v in report.violations] == ["metric-payload"]
    assert [(n.kind, n.details["rule"]) for n in ledger] == [("contract_violation", "metric-payload")]


def test_strict_blocks_a_violation_without_contacting_the_upstream(upstream: RunningEmulator) -> None:
    with (
        _proxy(upstream.url, strict=True) as proxy,
        httpx.Client(base_url=proxy.url, headers=HEADERS) as http,
    ):
        blocked = http.post("/api/events", json=_app_event(app_version=7))
        fine = http.post("/api/events", json=_app_event())
    assert blocked.status_code == 400 and fine.status_code == 202
    error = blocked.json()["errors"][0]
    assert "[metric-payload]" in error["detail"] and error["source"]["pointer"].endswith("/app_version")
    assert len(upstream.emulator.store.requests(account_id(KEY))) == 1


def test_an_upstream_that_is_down_is_a_502_and_the_proxy_keeps_serving() -> None:
    with RunningEmulator(Emulator(rate_limits="off")) as gone:
        dead_url = gone.url
    with _proxy(dead_url) as proxy, httpx.Client(base_url=proxy.url, headers=HEADERS) as http:
        first = http.post("/api/events", json=_app_event())
        second = http.get("/api/metrics")
        health = http.get("/_emulator/health")
        logged = proxy.emulator.store.requests(account_id(KEY))
    assert first.status_code == 502 and second.status_code == 502 and health.status_code == 200
    assert (
        "cannot connect" in first.json()["errors"][0]["detail"]
        and dead_url in first.json()["errors"][0]["detail"]
    )
    assert [r.status for r in logged] == [502, 502] and all(r.fault for r in logged)


def test_faults_are_injected_without_contacting_the_upstream(upstream: RunningEmulator) -> None:
    with _proxy(upstream.url, faults=Faults.parse("429=1,seed=1")) as proxy:
        answer = httpx.post(f"{proxy.url}/api/events", json=_app_event(), headers=HEADERS)
    assert answer.status_code == 429 and answer.headers["retry-after"] == "1"
    assert upstream.emulator.store.requests(account_id(KEY)) == []


def test_the_api_key_is_never_stored_in_clear(upstream: RunningEmulator, tmp_path: Any) -> None:
    path = tmp_path / "proxy.db"
    state = Emulator(store=Store(str(path)), rate_limits="off")
    with RunningEmulator(state, app=create_proxy_app(Proxy(state, upstream.url))) as proxy:
        httpx.post(f"{proxy.url}/api/events", json=_app_event(), headers=HEADERS)
    state.store.close()
    written = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert KEY.encode() not in written and account_id(KEY).encode() in written


def test_an_exchange_exports_as_json_lines_for_compare(upstream: RunningEmulator) -> None:
    with _proxy(upstream.url) as proxy:
        httpx.post(f"{proxy.url}/api/events", json=_app_event(), headers=HEADERS)
        exported = httpx.get(f"{proxy.url}/_emulator/export", params={"key": KEY})
    [line] = exported.text.splitlines()
    assert '"status": 202' in line and '"revision": "2026-07-15"' in line and KEY not in line


# -- in process, the upstream mocked with respx -----------------------------------------------------------------


def _through(router: respx.Router, method: str, path: str, **request: Any) -> tuple[httpx.Response, Emulator]:
    state = Emulator(rate_limits="off")
    proxy = Proxy(state, "https://a.klaviyo.test", transport=httpx.MockTransport(router.handler))
    app = create_proxy_app(proxy)

    async def call() -> httpx.Response:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://proxy.test"
        ) as client:
            answer = await client.request(method, path, headers=HEADERS, **request)
            await answer.aread()
            return answer

    return asyncio.run(call()), state


def test_statuses_headers_and_a_4_mb_body_pass_through_byte_for_byte() -> None:
    payload = os.urandom(4 * 1024 * 1024)
    router = respx.Router(assert_all_called=True)
    route = router.post("https://a.klaviyo.test/api/events").mock(
        return_value=httpx.Response(
            418,
            content=payload,
            headers=[("X-Upstream", "a"), ("X-Upstream", "b"), ("Content-Type", "x/bytes")],
        )
    )
    sent = os.urandom(1024)
    answer, _ = _through(router, "POST", "/api/events?x=1&y=%20", content=sent)
    assert answer.status_code == 418 and answer.content == payload
    assert answer.headers.get_list("x-upstream") == ["a", "b"] and answer.headers["content-type"] == "x/bytes"
    forwarded = route.calls.last.request
    assert forwarded.content == sent and forwarded.url.query == b"x=1&y=%20"
    assert forwarded.headers["authorization"] == HEADERS["Authorization"]
    assert forwarded.headers["revision"] == KLAVIYO_REVISION


@pytest.mark.parametrize(
    ("failure", "status", "says"),
    [
        (httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"), 502, "TLS error"),
        (httpx.ConnectError("[Errno 111] Connection refused"), 502, "cannot connect"),
        (httpx.ConnectTimeout("timed out"), 504, "timed out"),
        (httpx.ReadTimeout("timed out"), 504, "timed out"),
    ],
    ids=["tls", "refused", "connect-timeout", "read-timeout"],
)
def test_an_upstream_failure_is_a_json_api_answer_naming_its_cause(
    failure: Exception, status: int, says: str
) -> None:
    router = respx.Router()
    router.post("https://a.klaviyo.test/api/events").mock(side_effect=failure)
    answer, state = _through(router, "POST", "/api/events", json=_app_event())
    error = answer.json()["errors"][0]
    assert answer.status_code == status and error["status"] == status and says in error["detail"]
    [logged] = state.store.requests(account_id(KEY))
    assert logged.status == status and says in (logged.fault or "")


def test_a_body_cut_off_mid_way_is_recorded_as_such() -> None:
    class Broken(httpx.AsyncByteStream):
        async def __aiter__(self) -> Any:
            yield b'{"data": ['
            raise httpx.ReadError("connection reset by peer")

    router = respx.Router()
    router.get("https://a.klaviyo.test/api/metrics").mock(return_value=httpx.Response(200, stream=Broken()))
    state = Emulator(rate_limits="off")
    app = create_proxy_app(
        Proxy(state, "https://a.klaviyo.test", transport=httpx.MockTransport(router.handler))
    )

    async def call() -> None:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://proxy.test"
        ) as client:
            with pytest.raises(httpx.HTTPError):
                await client.get("/api/metrics", headers=HEADERS)

    asyncio.run(call())
    [logged] = state.store.requests(account_id(KEY))
    assert "broke off" in (logged.fault or "") and logged.response_body == '{"data": ['


# -- compare: a recording against another Klaviyo ---------------------------------------------------------------


def _recording(upstream: RunningEmulator) -> list[Any]:
    from emulator.compare import load_recording

    with _proxy(upstream.url) as proxy:
        asyncio.run(Syncer(proxy.url, KEY, rate_limits=None, batch=False).run(EVENTS[:40]))
        with httpx.Client(base_url=proxy.url, headers=HEADERS) as http:
            http.post("/api/profile-import", json={"data": {"type": "profile", "attributes": {"email": "x"}}})
            http.get("/api/metrics")
        exported = httpx.get(f"{proxy.url}/_emulator/export", params={"key": KEY}).text
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"recording-{os.getpid()}.jsonl")
    with open(path, "w", encoding="utf-8") as out:
        out.write(exported)
    try:
        return load_recording(path)
    finally:
        os.unlink(path)


def test_compare_against_the_same_emulator_finds_no_difference(upstream: RunningEmulator) -> None:
    from emulator.compare import compare

    recording = _recording(upstream)
    with RunningEmulator(Emulator(rate_limits="off")) as other:
        result = compare(recording, other.url)
    assert result.compared == len(recording) > 40 and result.differences == [], result.table()


def test_compare_reports_exactly_the_differences_planted(upstream: RunningEmulator) -> None:
    from emulator.compare import compare

    recording = _recording(upstream)
    # Reads have no effect on later answers, so throttling them plants differences that do not cascade.
    planted = Emulator(rate_limits="off", faults=Faults.parse("get_metrics:429=1,seed=3"))
    with RunningEmulator(planted) as other:
        result = compare(recording, other.url)
    reads = [r.seq for r in recording if r.operation == "get_metrics"]
    assert reads and [(d.seq, d.aspect, d.recorded, d.here) for d in result.differences] == [
        (seq, "status", 200, 429) for seq in reads
    ]
    assert (
        f"{len(recording)} exchanges compared" in result.table() and f"{len(reads)} differ" in result.table()
    )


def test_an_error_answer_is_compared_by_code_and_pointer() -> None:
    from emulator.compare import differences

    recorded = RequestRecord(
        1,
        "r",
        "POST",
        "/api/profile-import",
        400,
        0.0,
        response_body='{"errors": [{"code": "invalid", "source": {"pointer": "/data/attributes/email"}}]}',
    )
    same = '{"errors": [{"code": "invalid", "detail": "other words", "source": {"pointer": "/data/attributes/email"}}]}'
    moved = '{"errors": [{"code": "invalid", "source": {"pointer": "/data/attributes/phone_number"}}]}'
    assert differences(recorded, 400, same) == []
    [found] = differences(recorded, 400, moved)
    assert found.aspect == "error" and found.here == [("invalid", "/data/attributes/phone_number")]


def test_a_success_is_compared_by_the_shape_of_its_body_not_its_values() -> None:
    from emulator.compare import differences

    recorded = RequestRecord(
        1, "r", "GET", "/api/metrics", 200, 0.0, response_body='{"data": [{"id": "AbC", "n": 1}]}'
    )
    assert differences(recorded, 200, '{"data": [{"id": "XyZ", "n": 7}]}') == []
    [found] = differences(recorded, 200, '{"data": [{"id": "XyZ"}]}')
    assert (found.aspect, found.recorded, found.here) == ("shape", "/data/0/n: present", "/data/0/n: missing")
