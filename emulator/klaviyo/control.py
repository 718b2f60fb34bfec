"""The emulator's own API under ``/_emulator/``: health, what was received, the ledger, state, faults, limits.

Not part of Klaviyo, so no API key is needed; an account is named by ``?key=<its API key>`` or
``?account=<account id>`` (both listed by ``GET /_emulator/accounts``). Documented in docs/emulator.md.
"""

from __future__ import annotations

import json
import unicodedata

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from contracts import KLAVIYO_REVISION, REVISIONS

from . import consent, spec
from .errors import NotFound
from .faults import Faults
from .lists import OPT_IN_PROCESSES
from .state import Emulator
from .store import account_id, display_key, mask

#: The longest account label, in characters.
LABEL_LENGTH = 60


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"errors": [{"status": status, "detail": detail}]}, status)


def label(text: str) -> str | None:
    """A label as given (surrounding blanks dropped), None for a blank one (no label); ValueError naming what is
    wrong with it. The dashboard shows labels as text, so markup in one is harmless; control characters and
    lengths past ``LABEL_LENGTH`` are refused."""
    text = text.strip()
    if len(text) > LABEL_LENGTH:
        raise ValueError(f"a label has at most {LABEL_LENGTH} characters, not {len(text)}")
    if any(unicodedata.category(c) == "Cc" for c in text):
        raise ValueError(f"a label may not hold control characters: {text[:LABEL_LENGTH]!r}")
    return text or None


def _account(request: Request) -> str | None:
    key = request.query_params.get("key")
    return account_id(key) if key else request.query_params.get("account")


#: SQLite integers are 64-bit; a bigger number in a query must be a 400, not an OverflowError.
_MAX_INT = 2**63 - 1


def _int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    # str.isdigit() also accepts superscripts like '²', which int() then refuses.
    if not (raw.isascii() and raw.isdigit()) or int(raw) > _MAX_INT:
        raise ValueError(f"{name} must be a whole number from 0 to {_MAX_INT}, not {raw!r}")
    return int(raw)


def routes(emulator: Emulator) -> list[Route]:
    store = emulator.store

    async def health(request: Request) -> Response:
        return JSONResponse(
            {
                "status": "ok",
                "revision": KLAVIYO_REVISION,
                "accepts_revisions": [revision.isoformat() for revision in REVISIONS],
                "rate_limits": emulator.limiter.mode,
                "database": store.path,
            }
        )

    async def accounts(request: Request) -> Response:
        return JSONResponse({"data": store.accounts()})

    async def account_label(request: Request) -> Response:
        # Naming an account for people; by its key even before its first request (the key is never kept).
        api_key = request.query_params.get("key")
        account = account_id(api_key) if api_key else request.query_params.get("account")
        if not account:
            return _problem(400, "name the account: ?key=<API key> or ?account=<id>")
        try:
            name = label((await request.body()).decode("utf-8"))
        except UnicodeDecodeError:
            return _problem(400, "a label must be UTF-8 text")
        except ValueError as exc:
            return _problem(400, str(exc))
        store.set_label(account, name)
        return JSONResponse(
            {
                "account": account,
                "label": name,
                "shown_key": display_key(api_key) if api_key else None,
                "seen": account in {a["id"] for a in store.accounts()},
            }
        )

    async def key(request: Request) -> Response:
        # What a judge needs before it judges: does this emulator take the key, and has it seen it?
        api_key = request.query_params.get("key")
        if not api_key:
            return _problem(400, "name the key: ?key=<API key>")
        seen = {a["id"] for a in store.accounts()}
        return JSONResponse(
            {
                "account": account_id(api_key),
                "masked_key": mask(api_key),
                "accepted": emulator.api_keys is None or api_key in emulator.api_keys,
                "seen": account_id(api_key) in seen,
            }
        )

    async def endpoints(request: Request) -> Response:
        return JSONResponse(
            {
                "data": [
                    {
                        "operation": op.operation_id,
                        "method": op.method,
                        "path": op.path,
                        "burst_per_second": op.burst,
                        "steady_per_minute": op.steady,
                        "max_body_bytes": op.max_body if op.method != "GET" else None,
                    }
                    for op in spec.operations()
                ]
            }
        )

    def _after(request: Request) -> tuple[int, int]:
        return _int(request, "after", 0), min(_int(request, "limit", 100), 1000)

    async def requests_(request: Request) -> Response:
        try:
            after, limit = _after(request)
            status = _int(request, "status", 0)
        except ValueError as exc:
            return _problem(400, str(exc))
        rows = [r.to_dict() for r in store.requests(_account(request), after, limit, status)]
        return JSONResponse({"data": rows, "next_after": rows[-1]["seq"] if rows else after})

    async def ledger(request: Request) -> Response:
        try:
            after, limit = _after(request)
        except ValueError as exc:
            return _problem(400, str(exc))
        rows = [line.to_dict() for line in store.ledger(_account(request), after, limit)]
        return JSONResponse({"data": rows, "next_after": rows[-1]["seq"] if rows else after})

    async def export(request: Request) -> Response:
        # A recording: every exchange of one account as JSON Lines, oldest first (what `compare` re-sends).
        account = _account(request)
        if not account:
            return _problem(400, "name the account: ?key=<API key> or ?account=<id>")
        lines = "".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in store.requests(account))
        return Response(lines, media_type="application/x-ndjson")

    async def observations(request: Request) -> Response:
        try:
            after, limit = _after(request)
        except ValueError as exc:
            return _problem(400, str(exc))
        found = store.observations(_account(request), after, limit)
        rows = [{"seq": seq, **seen.to_dict()} for seq, seen in found]
        return JSONResponse({"data": rows, "next_after": found[-1][0] if found else after})

    async def reset(request: Request) -> Response:
        account = _account(request)
        store.reset(account)
        emulator.limiter.reset(account)
        return JSONResponse({"reset": account or "all accounts"})

    async def state(request: Request) -> Response:
        account = _account(request)
        if not account:
            return _problem(400, "name the account: ?key=<API key> or ?account=<id>")
        if request.method == "GET":
            return JSONResponse(store.export(account))
        try:
            body = json.loads(await request.body())
        except ValueError as exc:
            return _problem(400, f"state must be JSON: {exc}")
        if not isinstance(body, dict) or body.get("version") != 1:
            return _problem(400, "state must be an export of this emulator (an object with version 1)")
        key = request.query_params.get("key")
        try:
            store.import_(account, body, mask(key) if key else None, display_key(key) if key else None)
        except Exception as exc:  # a malformed export must not take the server down
            return _problem(400, f"state could not be imported: {exc}")
        return JSONResponse({"imported": account})

    async def faults(request: Request) -> Response:
        if request.method == "PUT":
            text = (await request.body()).decode("utf-8", "replace")
            try:
                emulator.faults = Faults.parse(text)
            except ValueError as exc:
                return _problem(400, str(exc))
        return JSONResponse(emulator.faults.to_dict())

    async def rate_limits(request: Request) -> Response:
        if request.method == "PUT":
            try:
                emulator.limiter.set_mode((await request.body()).decode().strip())
            except ValueError as exc:
                return _problem(400, str(exc))
        return JSONResponse({"mode": emulator.limiter.mode, "throttled": emulator.limiter.throttled})

    return [
        *_consent_routes(emulator),
        Route("/_emulator/health", health),
        Route("/_emulator/accounts", accounts),
        Route("/_emulator/accounts/label", account_label, methods=["PUT"]),
        Route("/_emulator/key", key),
        Route("/_emulator/endpoints", endpoints),
        Route("/_emulator/requests", requests_),
        Route("/_emulator/ledger", ledger),
        Route("/_emulator/observations", observations),
        Route("/_emulator/export", export),
        Route("/_emulator/reset", reset, methods=["POST"]),
        Route("/_emulator/state", state, methods=["GET", "PUT"]),
        Route("/_emulator/faults", faults, methods=["GET", "PUT"]),
        Route("/_emulator/rate-limits", rate_limits, methods=["GET", "PUT"]),
    ]


def _opt_in_value(text: str) -> str:
    value = text.strip()
    if value not in OPT_IN_PROCESSES:
        raise ValueError(f"the opt-in process must be {' or '.join(OPT_IN_PROCESSES)}, not {value!r}")
    return value


def _consent_routes(emulator: Emulator) -> list[Route]:
    """Consent settings Klaviyo keeps in its web app, and the person's side of a double opt-in."""
    store = emulator.store

    async def opt_in(request: Request) -> Response:
        # The account-level default opt-in process: one account's (?key= / ?account=), or, without one, the
        # emulator's default for every account that has not set its own (what the CLI flag sets).
        account = _account(request)
        if request.method == "PUT":
            try:
                value = _opt_in_value((await request.body()).decode("utf-8", "replace"))
            except ValueError as exc:
                return _problem(400, str(exc))
            if account is None:
                emulator.opt_in = value
            else:
                with store.writing() as tx:
                    tx.set_account_opt_in(account, value)
        own = None
        if account is not None:
            with store.writing() as tx:
                own = tx.account_opt_in(account)
        return JSONResponse(
            {
                "account": account,
                "opt_in_process": own or emulator.opt_in,
                "source": "account" if own else "emulator default",
                "default": emulator.opt_in,
            }
        )

    async def list_opt_in(request: Request) -> Response:
        account, list_id = _account(request), request.path_params["list_id"]
        if not account:
            return _problem(400, "name the account: ?key=<API key> or ?account=<id>")
        try:
            value = _opt_in_value((await request.body()).decode("utf-8", "replace"))
        except ValueError as exc:
            return _problem(400, str(exc))
        with store.writing() as tx:
            if not tx.set_list_opt_in(account, list_id, value, emulator.clock()):
                return _problem(404, f"the account has no list {list_id!r}")
        return JSONResponse({"list": list_id, "opt_in_process": value})

    async def pending(request: Request) -> Response:
        account = _account(request)
        if not account:
            return _problem(400, "name the account: ?key=<API key> or ?account=<id>")
        with store.writing() as tx:
            rows = [dict(row) for row in tx.opt_ins(account)]
        return JSONResponse({"data": rows})

    async def confirm(request: Request) -> Response:
        # The person clicks the link in the confirmation email (channel=email) or answers the text (channel=sms).
        account = _account(request)
        if not account:
            return _problem(400, "name the account: ?key=<API key> or ?account=<id>")
        channel = request.query_params.get("channel", "email")
        if channel not in ("email", "sms"):
            return _problem(400, f"channel must be email or sms, not {channel!r}")
        wanted = {
            n: request.query_params[n]
            for n in ("profile", "email", "phone_number")
            if n in request.query_params
        }
        if len(wanted) != 1:
            return _problem(400, "name the person by exactly one of ?profile=<id>, ?email= or ?phone_number=")
        (name, value), now = next(iter(wanted.items())), emulator.clock()
        with store.writing() as tx:
            column = "id" if name == "profile" else name
            row = tx.profile(account, value) if column == "id" else tx.profile_holding(account, column, value)
            if row is None:
                return _problem(404, f"the account has no profile with {column} {value!r}")
            try:
                confirmed = consent.confirm(tx, account, row["id"], channel, now)
            except NotFound as exc:
                return _problem(404, str(exc))
        return JSONResponse({"profile": row["id"], "channel": channel, "confirmed": confirmed})

    return [
        Route("/_emulator/opt-in", opt_in, methods=["GET", "PUT"]),
        Route("/_emulator/lists/{list_id}/opt-in", list_opt_in, methods=["PUT"]),
        Route("/_emulator/opt-ins", pending),
        Route("/_emulator/opt-ins/confirm", confirm, methods=["POST"]),
    ]
