"""The dashboard at ``/``: what the fake Klaviyo received, live; and the JSON it reads under /_emulator/dashboard/.

The page is static HTML, CSS and vanilla JS from ``static/`` (no CDN: it works offline). It puts every value a
client sent into the page as text (``textContent``), never as markup, and its Content-Security-Policy runs only
its own script file, so a payload such as ``<img src=x onerror=alert(1)>`` stays inert. It polls ``summary``
every second and re-reads the lists it shows when the request log, the ledger or the settings moved; it reads
``charts`` every second too (time moves on even when no traffic does).

Every endpoint is a GET; ``?account=<id>`` or ``?key=<API key>`` picks an account, none means every account.
Lists are newest first, ``limit`` rows (50; 1 to 500) ``before`` a cursor, with the ``total`` that match:

- ``summary``: accounts (display key, label) with their counts, metrics with their account and event counts,
  request counts (rejected, 429s, faults), the rate-limit and fault settings, and the account's verdict.
- ``profiles?q=``: profiles whose email, phone number, external id or Klaviyo id contains ``q``.
- ``member?id=<Klaviyo id>``: one profile, its timeline (``timeline.build``) and its part of the verdict.
- ``requests?only=rejected|problems``: the request log (``problems``: 429s and injected faults);
  ``requests/<seq>``: one request with its bodies, errors and ledger lines.
- ``ledger``: what Klaviyo did quietly (deduplicated, ignored, merged).
- ``charts?range=``: requests over time by status class, events over time by metric, and each endpoint's use of
  its rate limits now (``_charts``).

A query value that is not what it should be is a 400 naming it, never a 500.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources as package_files
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulator.klaviyo import Emulator, Store
from emulator.klaviyo.store import REQUEST_FILTERS, account_id, loads, profile_name

from . import _charts, timeline

if TYPE_CHECKING:  # the verifier is imported when a verdict is first asked for, not at start-up
    from contracts.verifier import Report

PAGE_SIZE = 50
_MAX_INT = 2**63 - 1  # SQLite's largest integer: a bigger cursor would overflow its binding
_ASSETS = {
    "dashboard.css": "text/css; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


class _Refused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


def _json(content: Any, status: int = 200) -> Response:
    # ASCII escapes: a lone surrogate in a stored body must not fail the UTF-8 encoding of the response.
    text = json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return Response(text, status, media_type="application/json", headers={"Cache-Control": "no-store"})


def _text(request: Request, name: str) -> str:
    value = request.query_params.get(name, "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _Refused(400, f"{name} is not valid text") from None
    return value


def _whole(request: Request, name: str, default: int | None, low: int, high: int) -> int | None:
    raw = _text(request, name)
    if raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()):
        raise _Refused(400, f"{name} must be a whole number, not {raw[:40]!r}")
    return min(max(int(raw) if len(raw) <= 19 else high, low), high)


def _account(request: Request) -> str | None:
    key = _text(request, "key")
    return account_id(key) if key else (_text(request, "account") or None)


def _page(request: Request) -> tuple[int, int]:
    before = _whole(request, "before", _MAX_INT, 0, _MAX_INT)
    limit = _whole(request, "limit", PAGE_SIZE, 1, 500)
    assert before is not None and limit is not None
    return before, limit


def _summary(emulator: Emulator, verdicts: _Verdicts, request: Request) -> dict[str, Any]:
    account = _account(request)
    store = emulator.store
    counts = store.counts(account)
    verdict = None
    if account:
        judged = verdicts.report(account, counts["last_request"])
        report = judged.report
        by_rule: dict[str, int] = {}
        for violation in report.violations:
            by_rule[violation.rule] = by_rule.get(violation.rule, 0) + 1
        verdict = {
            "ok": report.ok,
            "requests": report.requests,
            "as_of": judged.last_request,
            "violations": len(report.violations),
            "by_rule": by_rule,
        }
    return {
        "account": account,
        "accounts": store.account_summaries(),
        "counts": counts,
        "metrics": store.metric_counts(account),
        "rate_limits": {"mode": emulator.limiter.mode, "throttled": emulator.limiter.throttled},
        "faults": emulator.faults.to_dict(),
        "verdict": verdict,
    }


@dataclass
class _Judged:
    report: Report
    last_request: int  # the account's newest request when it was judged
    at: float
    took: float


class _Verdicts:
    """The verifier's report per account, judged again when the account's request log has grown; while traffic
    keeps coming, at most once per ten times the last judgement took (a long log takes a while to judge, and the
    emulator is serving the traffic meanwhile), and at most once a second."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._judged: dict[str, _Judged] = {}

    def report(self, account: str, last_request: int) -> _Judged:
        with self._lock:
            judged = self._judged.get(account)
            now = time.monotonic()
            if judged is None or (
                judged.last_request != last_request and now - judged.at >= max(1.0, 10 * judged.took)
            ):
                from contracts.verifier import verify

                report = verify(self.store.traffic(account))
                judged = _Judged(report, last_request, now, time.monotonic() - now)
                self._judged[account] = judged
            return judged


def _profiles(store: Store, request: Request) -> dict[str, Any]:
    before, limit = _page(request)
    return store.search_profiles(
        _account(request), _text(request, "q").strip().lower(), before, limit
    ).to_dict()


def _requests(store: Store, request: Request) -> dict[str, Any]:
    before, limit = _page(request)
    only = _text(request, "only")
    if only not in REQUEST_FILTERS:
        raise _Refused(400, f"only must be rejected or problems, not {only[:40]!r}")
    return store.request_page(_account(request), only, before, limit).to_dict()


def _request(store: Store, request: Request) -> dict[str, Any]:
    raw = request.path_params["seq"]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise _Refused(404, f"no request #{raw[:40]}")
    found = store.request(int(raw))
    if found is None:
        raise _Refused(404, f"no request #{raw}")
    record, ledger, observations = found
    return {
        **record.to_dict(),
        "ledger": [line.to_dict() for line in ledger],
        "observations": [seen.to_dict() for seen in observations],
    }


def _ledger(store: Store, request: Request) -> dict[str, Any]:
    before, limit = _page(request)
    return store.ledger_page(_account(request), before, limit).to_dict()


def _member(emulator: Emulator, verdicts: _Verdicts, request: Request) -> dict[str, Any]:
    account, profile_id = _account(request), _text(request, "id")
    if not profile_id:
        raise _Refused(400, "name the profile: ?id=<Klaviyo profile id>")
    member = emulator.store.member(account, profile_id)
    if member is None:
        raise _Refused(404, f"no profile {profile_id[:60]!r}")
    profile = dict(member.profile)
    items = timeline.build(member)
    judged = verdicts.report(profile["account"], emulator.store.counts(profile["account"])["last_request"])
    violations = _violations_of(profile, items, judged.report)
    doc = loads(profile.pop("doc"))
    return {
        "profile": profile,
        "name": profile_name(doc),
        "attributes": [
            {"attribute": name, "value": value} for name, value in sorted(timeline.flatten(doc or {}).items())
        ],
        "timeline": items,
        "verdict": {"ok": not violations, "violations": violations, "as_of": judged.last_request},
    }


def _violations_of(
    profile: dict[str, Any], items: list[dict[str, Any]], report: Report
) -> list[dict[str, Any]]:
    """The report's violations about this member, each attached to the timeline item it points into."""
    pointers: dict[int, list[dict[str, Any]]] = {}
    for item in items:
        if item.get("seq") is not None:
            pointers.setdefault(item["seq"], []).append(item)
    found = []
    for violation in report.violations:
        mine = profile.get("external_id") is not None and violation.member == profile["external_id"]
        candidates = pointers.get(violation.request or -1, [])
        within = [
            i for i in candidates if i.get("pointer") and (violation.pointer or "").startswith(i["pointer"])
        ]
        if not mine and not (violation.member is None and within):
            continue
        entry = violation.to_dict()
        targets = [max(within, key=lambda i: len(i["pointer"]))] if within else candidates[:1]
        for target in targets:
            target.setdefault("violations", []).append(entry)
        found.append(entry)
    return found


def _chart_data(emulator: Emulator, request: Request) -> dict[str, Any]:
    try:
        return _charts.build(emulator, _account(request), _text(request, "range") or "auto")
    except ValueError as exc:
        raise _Refused(400, str(exc)) from None


def _asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in _ASSETS:
        return _json({"errors": [{"status": 404, "detail": f"no asset {name[:60]!r}"}]}, 404)
    return Response(_read(name), media_type=_ASSETS[name], headers={"X-Content-Type-Options": "nosniff"})


def _read(name: str) -> str:
    return (package_files.files(__package__) / "static" / name).read_text(encoding="utf-8")


def _home(request: Request) -> Response:
    return Response(
        _read("dashboard.html"),
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": _POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        },
    )


def _endpoint(build: Callable[[Request], Any]) -> Callable[[Request], Response]:
    # A plain function: Starlette runs it in its thread pool, so a long timeline does not stall the server.
    def endpoint(request: Request) -> Response:
        try:
            return _json(build(request))
        except _Refused as refused:
            return _json({"errors": [{"status": refused.status, "detail": str(refused)}]}, refused.status)

    return endpoint


def routes(emulator: Emulator) -> list[Route]:
    """The page at ``/``, its assets, and its JSON under ``/_emulator/dashboard/``."""
    store, verdicts = emulator.store, _Verdicts(emulator.store)
    base = "/_emulator/dashboard"
    return [
        Route("/", _home),
        Route(f"{base}/assets/{{name}}", _asset),
        Route(f"{base}/summary", _endpoint(lambda r: _summary(emulator, verdicts, r))),
        Route(f"{base}/profiles", _endpoint(lambda r: _profiles(store, r))),
        Route(f"{base}/member", _endpoint(lambda r: _member(emulator, verdicts, r))),
        Route(f"{base}/requests", _endpoint(lambda r: _requests(store, r))),
        Route(f"{base}/requests/{{seq}}", _endpoint(lambda r: _request(store, r))),
        Route(f"{base}/ledger", _endpoint(lambda r: _ledger(store, r))),
        Route(f"{base}/charts", _endpoint(lambda r: _chart_data(emulator, r))),
    ]
