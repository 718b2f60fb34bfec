"""The fake Klaviyo as an ASGI app: routes from the spec, one pipeline for every endpoint.

auth -> revision -> rate limit -> injected faults -> query -> body (type, size, JSON, schema) -> handler in one
transaction -> request log with the request's observations (``contracts.traffic.observe`` joined with what the
handler did) -> response, once all that is durable (``--db``: group commit, ``Store.serving()``). Whatever goes
wrong becomes a JSON:API ``errors[]`` response and is logged with the request, and what its body named is
observed as ``rejected``; nothing a client sends can produce an unplanned 500.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from contracts.traffic import Observation, RequestRecord, kept_headers, observe

from . import consent, control, documents, events, ids, imports, jobs, lists, profiles, query, revisions, spec
from .errors import (
    InvalidInput,
    KlaviyoError,
    MethodNotAllowed,
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    Problem,
    ServerError,
    UnsupportedMediaType,
)
from .faults import fault_response
from .state import Emulator
from .store import Tx, account_id, dumps, mask
from .types import Context, Done, Note, Reply

log = logging.getLogger("trifft_klaviyo.emulator")

HANDLERS: dict[str, Callable[[Context], Reply]] = {
    **profiles.HANDLERS,
    **events.HANDLERS,
    **jobs.HANDLERS,
    **imports.HANDLERS,
    **consent.HANDLERS,
    **lists.HANDLERS,
}
#: Limits reported on an answer to a path no operation serves: the spec's default tier (10/s, 150/min).
_DEFAULT_STEADY = 150
_JSON_TYPES = ("application/json", "application/vnd.api+json")
_LOGGED_BODY = 6 * 1024 * 1024  # every body an endpoint accepts (5 MB at most) is kept whole
JSONAPI = "application/vnd.api+json"


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    content = b"" if body is None else dumps(body).encode()
    return Response(content, status, headers=headers, media_type=JSONAPI if body is not None else None)


def _authenticate(emulator: Emulator, request: Request, record: dict[str, Any]) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme not in ("Klaviyo-API-Key", "Bearer") or not key:
        detail = (
            "Missing Authorization header; send 'Authorization: Klaviyo-API-Key <private key>'."
            if not header
            else "Invalid Authorization header; expected 'Klaviyo-API-Key <private key>'."
        )
        raise NotAuthenticated(Problem(detail, parameter="Authorization"))
    record["masked_key"] = mask(key)  # logged even when the key is refused: which key was it?
    if emulator.api_keys is not None and key not in emulator.api_keys:
        raise PermissionDenied(
            Problem(
                f"The API key {mask(key)} is not accepted by this emulator (it was started with --api-key).",
                parameter="Authorization",
            )
        )
    return key, account_id(key)


def _hoist_profile_meta(body: Any) -> None:
    """Revision 2026-10-15 (the official SDK's) moves an event profile's ``meta`` beside its ``attributes``;
    2026-07-15 (the bundled spec) has it inside. Accept both by moving it in before validating."""
    try:
        profile = body["data"]["attributes"]["profile"]["data"]
    except (KeyError, TypeError):
        return
    if isinstance(profile, dict) and "meta" in profile and isinstance(profile.get("attributes"), dict):
        profile["attributes"].setdefault("meta", profile.pop("meta"))


def _parse_body(operation: spec.Operation, request: Request, raw: bytes, read: list[Any]) -> Any:
    """The checked body; ``read`` gets the parsed document as soon as it parses, so a refused request's
    observations can still say what it named."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in _JSON_TYPES:
        raise UnsupportedMediaType(
            Problem(
                f"Content-Type must be application/vnd.api+json or application/json, "
                f"not '{media or 'missing'}'.",
                parameter="Content-Type",
            )
        )
    if len(raw) > operation.max_body:
        raise PayloadTooLarge(
            Problem(
                f"The request body is {len(raw):,} bytes; {operation.operation_id} accepts "
                f"at most {operation.max_body:,}.",
                pointer="/",
            )
        )
    if not raw.strip():
        raise InvalidInput(
            Problem("The request body is empty; a JSON:API document is required.", pointer="/")
        )
    body = documents.read(raw)
    read.append(body)
    if operation.operation_id == "create_event":
        _hoist_profile_meta(body)
    schema = operation.body_schema
    if schema is not None:
        violations = schema.validate(body)
        if violations:
            raise InvalidInput(*(documents.explain(v, body) for v in violations[:25]))
    return body


def _text(raw: bytes | None) -> str | None:
    if not raw:
        return None
    return raw[:_LOGGED_BODY].decode("utf-8", "replace")


def _path(request: Request) -> str:
    """``request.url.path`` without building the URL: the path with ``?``, ``#`` and ``\\`` escaped."""
    return str(request.scope["path"]).replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")


def _observed(request: Request, body: Any, outcomes: dict[str, Done], operation: str) -> list[Observation]:
    """What the body carried, each part with what the handler did with it."""
    found = observe(request.method, _path(request), body, operation_id=operation)
    for seen in found:
        done = outcomes.get(seen.pointer)
        if done is not None:
            seen.outcome, seen.profile_id, seen.event_id = done.outcome, done.profile_id, done.event_id
            seen.reason, seen.dropped = done.reason, list(done.dropped)
    return found


def _rejected(request: Request, read: list[Any], error: KlaviyoError) -> list[Observation]:
    if not read:
        return []
    found = observe(request.method, _path(request), read[0])
    for seen in found:
        seen.outcome, seen.reason = "rejected", error.problems[0].detail if error.problems else error.title
    return found


def _record(
    request: Request, raw: bytes, operation: str | None, received: float, **fields: Any
) -> dict[str, Any]:
    return {
        "seq": 0,
        "id": ids.request_id(received),
        "account": None,
        "masked_key": None,
        "method": request.method,
        "path": _path(request),
        "query": request.scope["query_string"].decode("utf-8", "replace"),
        "operation": operation,
        "request_body": _text(raw),
        "headers": kept_headers(request.headers),
        "fault": None,
        "received": received,
        **fields,
    }


async def _serve(emulator: Emulator, request: Request, operation: spec.Operation) -> Response:
    """Answer once what the request did, and its log line, are durable (group commit with ``--db``)."""
    response = await _handle(emulator, request, operation)
    await emulator.store.durable()
    return response


async def _handle(emulator: Emulator, request: Request, operation: spec.Operation) -> Response:
    started = time.perf_counter()
    now = emulator.clock()
    raw = await request.body()
    record = _record(request, raw, operation.operation_id, now)
    headers: dict[str, str] = {}
    read: list[Any] = []
    try:
        key, account = _authenticate(emulator, request, record)
        record["account"] = account
        emulator.store.open_account(key, now)
        revisions.check(request.headers.get("revision"))
        headers = emulator.limiter.check(account, operation)
        decision = emulator.faults.decide(operation.operation_id)
        if decision.latency_ms:
            await emulator.sleep(decision.latency_ms / 1000)
        if decision.status is not None:
            record["fault"] = str(decision.status)
            return _finish(emulator, record, started, fault_response(decision.status, headers))
        parsed_query = query.parse(operation, request.query_params.multi_items())
        body = _parse_body(operation, request, raw, read) if request.method in ("POST", "PATCH") else None
        with emulator.store.serving() as tx:
            ctx = Context(
                tx,
                account,
                operation,
                dict(request.path_params),
                parsed_query,
                body,
                now,
                record["id"],
                request,
                opt_in=emulator.opt_in,
            )
            reply = HANDLERS[operation.operation_id](ctx)
            if decision.after:
                record["fault"] = "500 after processing"
                response = fault_response(500, headers)
            else:
                response = _json(reply.status, reply.body, {**headers, **reply.headers})
            observations = (
                _observed(request, body, ctx.outcomes, operation.operation_id) if body is not None else []
            )
            _finish(emulator, record, started, response, observations, ctx.notes, tx)
        return response
    except KlaviyoError as error:
        body = error.body()  # once: the error ids logged are the ones the client got
        if not headers and error.status != 429:
            # Refused before the limiter counted it (401, 403, a bad revision): Klaviyo still reports the limits
            # on every answer but a 429 (notes §7.5), so say what the window holds without taking from it.
            headers = emulator.limiter.peek(record["account"], operation.operation_id, operation.steady)
        response = _json(error.status, body, {**headers, **error.headers})
        record["errors"] = body["errors"]
        return _finish(emulator, record, started, response, _rejected(request, read, error))


def _finish(
    emulator: Emulator,
    fields: dict[str, Any],
    started: float,
    response: Response,
    observations: list[Observation] | None = None,
    notes: list[Note] | None = None,
    tx: Tx | None = None,
) -> Response:
    """Log the request (in ``tx``, the handler's transaction, when given) and say so on the console."""
    record = RequestRecord(  # ``fields`` holds only RequestRecord's own fields (``_record``)
        **fields,
        status=response.status_code,
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
        response_body=_text(bytes(response.body)),
    )
    emulator.store.log(record, observations or (), notes or (), tx, grouped=True)
    _console(record)
    return response


def _console(record: RequestRecord) -> None:
    fault = f" fault={record.fault}" if record.fault else ""
    # A refused request says why on its own line's end: the first error's detail and where it points.
    first = record.errors[0] if record.errors and not record.fault else None
    source = (first.get("source") or {}) if first else {}
    where = source.get("pointer") or source.get("parameter")
    reason = (
        f" {first.get('code')}: {first.get('detail')}{f' (at {where})' if where else ''}" if first else ""
    )
    log.info(
        "%s %s%s %s %.1fms %s%s%s",
        record.method,
        record.path,
        f"?{record.query}" if record.query else "",
        record.status,
        record.duration_ms,
        record.masked_key or "-",
        fault,
        reason,
    )


def _routes(emulator: Emulator) -> list[Route]:
    by_path: dict[str, dict[str, spec.Operation]] = {}
    for operation in spec.operations():
        by_path.setdefault(operation.path, {})[operation.method] = operation
    routes = []
    for path, methods in by_path.items():

        async def endpoint(request: Request, methods: dict[str, spec.Operation] = methods) -> Response:
            operation = methods.get(request.method)
            if operation is None:
                steady = min(op.steady for op in methods.values())
                return await _refuse(emulator, request, _method_not_allowed(request, sorted(methods)), steady)
            return await _serve(emulator, request, operation)

        every = ["GET", "POST", "PATCH", "PUT", "DELETE"]
        routes.append(Route(path, endpoint, methods=every))
        routes.append(Route(path.rstrip("/") + "/", endpoint, methods=every))
    return routes


def _method_not_allowed(request: Request, allowed: list[str]) -> MethodNotAllowed:
    methods = ", ".join(allowed)
    return MethodNotAllowed(
        f"Method {request.method} is not allowed on {request.url.path}; allowed: {methods}.",
        headers={"Allow": methods},
    )


async def _refuse(
    emulator: Emulator, request: Request, error: KlaviyoError, steady: int = _DEFAULT_STEADY
) -> Response:
    """Answer a request no operation takes (unknown path, wrong method), and log it like any other.

    It is not counted against a window; its RateLimit-* headers report the lowest tier of the path's operations,
    or the spec's default tier for a path Klaviyo does not have (an emulator choice, docs/emulator.md)."""
    started = time.perf_counter()
    raw = await request.body()
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    key = key.strip()
    known = scheme in ("Klaviyo-API-Key", "Bearer") and bool(key)
    body = error.body()
    account = account_id(key) if known else None
    record = _record(
        request,
        raw,
        None,
        emulator.clock(),
        account=account,
        masked_key=mask(key) if known else None,
        errors=body["errors"],
    )
    limits = emulator.limiter.peek(account, f"unserved:{request.url.path}", steady)
    response = _finish(emulator, record, started, _json(error.status, body, {**limits, **error.headers}))
    await emulator.store.durable()
    return response


def _handlers(emulator: Emulator) -> dict[Any, Callable[[Request, Exception], Awaitable[Response]]]:
    async def not_found(request: Request, exc: Exception) -> Response:
        error = NotFound(
            f"No endpoint at {request.method} {request.url.path}. This emulator serves the Klaviyo "
            "endpoints TRIFFT's integration uses; see GET /_emulator/endpoints."
        )
        if not request.url.path.startswith("/api/"):
            return _json(404, error.body())
        return await _refuse(emulator, request, error)

    async def not_allowed(request: Request, exc: Exception) -> Response:
        # Starlette's own 405, for a method no route lists (OPTIONS, TRACE, ...): answer with the spec's methods.
        allowed = spec.allowed_methods(request.url.path)
        if not allowed and isinstance(exc, HTTPException) and exc.headers and exc.headers.get("Allow"):
            return await _control_not_allowed(request, exc)
        if not allowed:
            return await not_found(request, exc)
        return await _refuse(emulator, request, _method_not_allowed(request, allowed))

    return {404: not_found, 405: not_allowed, Exception: _crash}


async def _control_not_allowed(request: Request, exc: Exception) -> Response:
    # Starlette raises this for a known path called with a method it does not take: a control endpoint such as
    # POST-only /_emulator/reset. (Klaviyo's own paths accept every method and answer 405 themselves.)
    allowed = exc.headers.get("Allow", "") if isinstance(exc, HTTPException) and exc.headers else ""
    error = MethodNotAllowed(
        f"Method {request.method} is not allowed on {request.url.path}; allowed: {allowed}."
    )
    return _json(405, error.body(), {"Allow": allowed} if allowed else None)


async def _crash(request: Request, exc: Exception) -> Response:
    log.exception("internal error on %s %s", request.method, request.url.path)
    error = ServerError(
        f"The emulator failed unexpectedly ({type(exc).__name__}); this is a bug in the emulator."
    )
    return _json(500, error.body())


def create_app(emulator: Emulator | None = None, beside: Sequence[BaseRoute] = ()) -> Starlette:
    """The fake Klaviyo as an ASGI app: Klaviyo's endpoints under /api, the control API under /_emulator/, and
    ``beside`` them whatever the server mounts (the dashboard, by ``emulator.server.create_app``)."""
    emulator = emulator or Emulator()
    app = Starlette(
        # Klaviyo's routes first: they take the traffic, and Starlette tries routes in order.
        routes=[*_routes(emulator), *control.routes(emulator), *beside],
        exception_handlers=_handlers(emulator),
    )
    app.state.emulator = emulator
    return app
