"""A reverse proxy for Klaviyo's API that records and judges real traffic on its way through.

Each request is forwarded unchanged (method, path, query, headers with ``Authorization`` and ``revision``, body) to
the upstream, and the upstream's answer comes back unchanged (status, headers, body bytes, streamed). On the way,
the exchange is recorded exactly as the fake Klaviyo records its own traffic (request log, observations, ledger),
so ``/_emulator/*``, the dashboard and ``verify`` work on a proxy as on the emulator. API keys are kept only as
the account hash and the masked key, never in clear.

Validation in passing: the body is checked against Klaviyo's spec (the emulator's closed schema) and against the
contract rules that one request can break on its own (metric payloads, system segments, identifiers); what it
breaks goes to the ledger as ``contract_violation`` lines and, with ``annotate``, into an ``X-Trifft-Contract``
response header. Nothing is blocked unless ``strict``: then such a request gets a JSON:API 400 naming the rule and
never reaches the upstream. Faults can be injected as in the emulator. An upstream that cannot be reached, refuses
TLS or times out gets a JSON:API 502 or 504 naming the cause, recorded like any other answer.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from contracts import KLAVIYO_REVISION, match_operation
from contracts.traffic import Observation, RequestRecord, Traffic, kept_headers, observe
from contracts.verifier import verify
from emulator import dashboard
from emulator.klaviyo import Emulator, control, spec
from emulator.klaviyo.faults import fault_response
from emulator.klaviyo.store import account_id, mask
from emulator.klaviyo.types import Note

DEFAULT_UPSTREAM = "https://a.klaviyo.com"
#: Rules one request can break on its own; the others need the member's whole story (``verify`` judges them).
PER_REQUEST_RULES = ("metric-payload", "no-system-segment", "identifiers")
#: Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and are not forwarded.
_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "host"}
)
_LOGGED_BODY = 6 * 1024 * 1024


@dataclass(frozen=True)
class Finding:
    """Something a request breaks, found in passing."""

    rule: str
    message: str
    pointer: str | None


def _key(request: Request) -> str | None:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    return key.strip() if scheme in ("Klaviyo-API-Key", "Bearer") and key.strip() else None


def findings(method: str, path: str, raw: bytes) -> tuple[list[Finding], Any]:
    """What a request breaks by itself: Klaviyo's schema for its body, and the per-request contract rules.
    Returns the findings and the parsed body (None when there is none or it is not JSON)."""
    operation = match_operation(method, path)
    if operation is None or method.upper() == "GET" or not raw.strip():
        return [], None
    try:
        body = json.loads(raw)
    except ValueError as error:
        return [Finding("klaviyo-spec", f"the body is not JSON ({error})", "/")], None
    found = []
    schema = spec.operation(operation.operation_id).body_schema
    for problem in (schema.validate(body) if schema else [])[:10]:
        found.append(Finding("klaviyo-spec", problem.message, problem.pointer or "/"))
    record = RequestRecord(1, "passing", method, path, 202, 0.0)
    seen = [replace(o, request=1, request_id="passing") for o in observe(method, path, body)]
    for violation in verify(Traffic([record], seen), allow_empty=True).violations:
        if violation.rule in PER_REQUEST_RULES:
            found.append(Finding(violation.rule, violation.message, violation.pointer))
    return found, body


def _errors(status: int, content: bytes) -> list[dict[str, Any]]:
    if status < 400:
        return []
    try:
        errors = json.loads(content).get("errors")
    except (ValueError, AttributeError):
        return []
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def _problem(status: int, code: str, title: str, detail: str, pointer: str | None = None) -> Response:
    error: dict[str, Any] = {"id": str(uuid.uuid4()), "status": status, "code": code, "title": title}
    error["detail"] = detail
    error["source"] = {"pointer": pointer} if pointer else {}
    body = json.dumps({"errors": [error]}, ensure_ascii=False)
    return Response(body, status, media_type="application/vnd.api+json")


class Proxy:
    """The proxy's state: where it forwards, how it judges, and the emulator state it records into."""

    def __init__(
        self,
        emulator: Emulator,
        upstream: str = DEFAULT_UPSTREAM,
        strict: bool = False,
        annotate: bool = False,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.emulator, self.upstream = emulator, upstream.rstrip("/")
        self.strict, self.annotate = strict, annotate
        self._client = httpx.AsyncClient(
            base_url=self.upstream, transport=transport, timeout=timeout, follow_redirects=False
        )

    async def close(self) -> None:
        await self._client.aclose()

    def _log(
        self,
        fields: dict[str, Any],
        status: int,
        content: bytes,
        started: float,
        observations: list[Observation],
        notes: list[Note],
    ) -> None:
        record = RequestRecord.from_dict(
            {
                **fields,
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                "response_body": content[:_LOGGED_BODY].decode("utf-8", "replace") or None,
                "errors": _errors(status, content) or fields.get("errors") or [],
            }
        )
        # The upstream's outcome for each part is not known; a 4xx means the whole request was refused.
        seen = [replace(o, outcome="rejected") for o in observations] if 400 <= status < 500 else observations
        self.emulator.store.log(record, seen, notes)

    async def forward(self, request: Request) -> Response:
        started, now = time.perf_counter(), self.emulator.clock()
        raw = await request.body()
        key = _key(request)
        account = account_id(key) if key else None
        if key:
            self.emulator.store.open_account(key, now)
        operation = match_operation(request.method, request.url.path)
        fields: dict[str, Any] = {
            "seq": 0,
            "id": str(uuid.uuid4()),
            "account": account,
            "masked_key": mask(key) if key else None,
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "operation": operation.operation_id if operation else None,
            "request_body": raw[:_LOGGED_BODY].decode("utf-8", "replace") or None,
            "headers": kept_headers(request.headers),
            "received": now,
        }
        found, body = findings(request.method, request.url.path, raw)
        observations = observe(request.method, request.url.path, body) if body is not None else []
        notes = [
            Note("contract_violation", f.message, None, {"rule": f.rule, "pointer": f.pointer}) for f in found
        ]
        if self.strict and found:
            first = found[0]
            answer = _problem(
                400,
                "invalid",
                "Invalid input.",
                f"Blocked by the proxy (--strict), not sent to Klaviyo: [{first.rule}] {first.message}",
                first.pointer,
            )
            self._log({**fields, "fault": "blocked"}, 400, bytes(answer.body), started, observations, notes)
            return answer
        decision = self.emulator.faults.decide(operation.operation_id if operation else "")
        if decision.latency_ms:
            await self.emulator.sleep(decision.latency_ms / 1000)
        if decision.status is not None:
            answer = fault_response(decision.status)
            fields["fault"] = str(decision.status)
            self._log(fields, answer.status_code, bytes(answer.body), started, observations, notes)
            return answer
        return await self._send(request, raw, fields, started, observations, notes, found, decision.after)

    async def _send(
        self,
        request: Request,
        raw: bytes,
        fields: dict[str, Any],
        started: float,
        observations: list[Observation],
        notes: list[Note],
        found: list[Finding],
        fail_after: bool,
    ) -> Response:
        headers = [(k, v) for k, v in request.headers.raw if k.decode("latin-1").lower() not in _HOP]
        # The path and query exactly as the client wrote them: decoding and re-encoding would change bytes.
        target = request.scope.get("raw_path") or request.url.path.encode()
        query = request.scope.get("query_string") or b""
        url = httpx.URL(self.upstream).copy_with(raw_path=target + (b"?" + query if query else b""))
        outgoing = self._client.build_request(request.method, url, headers=headers, content=raw)
        try:
            upstream = await self._client.send(outgoing, stream=True)
        except httpx.TimeoutException as error:
            return self._failed(
                fields, started, observations, notes, 504, f"timed out ({type(error).__name__})"
            )
        except httpx.TransportError as error:
            return self._failed(fields, started, observations, notes, 502, _cause(error))
        if fail_after:
            await upstream.aread()
            await upstream.aclose()
            answer = fault_response(500)
            fields["fault"] = "500 after processing"
            self._log(fields, 500, bytes(answer.body), started, observations, notes)
            return answer
        passed = [(k, v) for k, v in upstream.headers.raw if k.decode("latin-1").lower() not in _HOP]
        if self.annotate and found:
            # One header line: no CR or LF may reach it, whatever a message quotes from the body.
            summary = " ".join("; ".join(f"[{f.rule}] {f.message}" for f in found).split())[:2000]
            passed.append((b"x-trifft-contract", summary.encode("ascii", "replace")))
        relayed = StreamingResponse(
            self._relay(upstream, fields, started, observations, notes), upstream.status_code
        )
        relayed.raw_headers = passed  # as the upstream sent them: order, repeats and Content-Length kept
        return relayed

    async def _relay(
        self,
        upstream: httpx.Response,
        fields: dict[str, Any],
        started: float,
        observations: list[Observation],
        notes: list[Note],
    ) -> AsyncIterator[bytes]:
        kept = bytearray()
        cut: str | None = None
        try:
            # A response built in memory (a mocked transport) has no raw stream left: its content is the bytes.
            chunks = _once(upstream.content) if upstream.is_stream_consumed else upstream.aiter_raw()
            async for chunk in chunks:
                if len(kept) < _LOGGED_BODY:
                    kept += chunk
                yield chunk
        except httpx.HTTPError as error:
            # The upstream broke off mid-body. Recorded, then raised again: the server aborts the connection, so
            # the client sees a broken answer rather than a short body that looks whole.
            cut = _cause(error)
            raise
        finally:
            await upstream.aclose()
            if cut:
                fields = {**fields, "fault": f"upstream broke off: {cut}"}
            content = bytes(kept)
            if upstream.headers.get("content-encoding", "identity") != "identity":
                content = b""  # compressed bytes are no use in a log
            self._log(fields, upstream.status_code, content, started, observations, notes)

    def _failed(
        self,
        fields: dict[str, Any],
        started: float,
        observations: list[Observation],
        notes: list[Note],
        status: int,
        cause: str,
    ) -> Response:
        title = "Gateway timeout." if status == 504 else "Bad gateway."
        answer = _problem(
            status,
            "upstream_unavailable",
            title,
            f"The proxy could not get an answer from {self.upstream}: {cause}",
        )
        self._log(
            {**fields, "fault": f"upstream: {cause}"},
            status,
            bytes(answer.body),
            started,
            observations,
            notes,
        )
        return answer


async def _once(content: bytes) -> AsyncIterator[bytes]:
    yield content


def _cause(error: httpx.HTTPError) -> str:
    """The reason an exchange with the upstream failed, in a few words (connection refused, a DNS or TLS error)."""
    reason = str(error) or type(error).__name__
    if "CERTIFICATE" in reason.upper() or "SSL" in reason.upper() or "TLS" in reason.upper():
        return f"TLS error: {reason}"
    if isinstance(error, httpx.ConnectError):
        return f"cannot connect: {reason}"
    return f"{type(error).__name__}: {reason}"


def create_proxy_app(proxy: Proxy) -> Starlette:
    """The proxy's app: the dashboard at ``/``, the inspection API under ``/_emulator/``, everything else forwarded."""
    emulator = proxy.emulator

    async def health(request: Request) -> Response:
        return JSONResponse(
            {
                "status": "ok",
                "mode": "proxy",
                "upstream": proxy.upstream,
                "revision": KLAVIYO_REVISION,
                "strict": proxy.strict,
                "database": emulator.store.path,
            }
        )

    every = ["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS", "HEAD"]
    routes: list[BaseRoute] = [
        Route("/_emulator/health", health),
        *dashboard.routes(emulator),
        *control.routes(emulator),
        Route("/{path:path}", proxy.forward, methods=every),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await proxy.close()

    return Starlette(routes=routes, lifespan=lifespan)
