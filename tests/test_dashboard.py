"""The dashboard at ``/``, driven in a real headless Chromium (Debian's ``chromium``, through Playwright).

One fake Klaviyo for the module, fed realistic traffic through the sync plus a hand-made member whose name and
event carry markup. Tests that change traffic, rate limits or faults use their own account and put the settings
back. The JSON endpoints' answers to bad query values are checked in process, without a browser.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from dashboard_page import Dashboard, event, launch, profile, send
from playwright.sync_api import Browser, expect

from emulator.dashboard import timeline
from emulator.klaviyo import Emulator
from emulator.server import RunningEmulator
from emulator.trifft import generate
from sync.delivery import Syncer

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"

KEY = "pk_test_dashboard_0001"  # the sync's traffic and the hand-made member
LIVE_KEY = "pk_test_dashboard_live"  # traffic sent while a page watches
XSS_NAME = "<img src=x onerror=alert(1)>"
XSS_PROPERTY = "</script><script>alert(1)</script>"
MEMBER = "3f0c7f4e-9a51-4d5e-8a3b-2f1d5c6e7a80"
MEMBER_EMAIL = "ada.markup@example.com"
MEMBER_PHONE = "+14155550123"


@pytest.fixture(scope="module")
def server() -> Iterator[RunningEmulator]:
    with RunningEmulator(Emulator(rate_limits="off")) as running:
        syncer = Syncer(running.url, KEY, rate_limits=None)
        # a thread of its own: Playwright's sync API may already run an event loop on this one
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, syncer.run(generate(150, seed=3, members=8))).result()
        statuses = send(
            running.url,
            KEY,
            (
                "POST",
                "/api/profile-import",
                profile(MEMBER, email=MEMBER_EMAIL, phone_number=MEMBER_PHONE, first_name="Ada"),
            ),
            ("POST", "/api/profile-import", profile(MEMBER, first_name=XSS_NAME)),
            # a misspelled standard metric: the verifier's metric-payload rule names it
            ("POST", "/api/events", event(MEMBER, "wallet credited", {"description": XSS_PROPERTY}, "x-1")),
        )
        assert statuses == [201, 200, 202]
        send(running.url, LIVE_KEY, ("GET", "/api/metrics", None))
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from launch()


@pytest.fixture
def dashboard(browser: Browser, server: RunningEmulator) -> Iterator[Dashboard]:
    board = Dashboard.new(browser, server.url)
    yield board
    board.close()


def test_a_profile_is_found_by_email_phone_external_id_and_klaviyo_id(dashboard: Dashboard) -> None:
    page = dashboard.open(KEY)
    dashboard.search(MEMBER_EMAIL.upper())
    row = page.locator("#profiles tbody tr")
    expect(row).to_contain_text(MEMBER)
    klaviyo_id = row.get_attribute("data-id")
    assert klaviyo_id
    for text in (MEMBER, "415 555 0123", klaviyo_id.lower()):
        page.fill("#search", "")
        expect(page.locator("#profiles tbody tr")).not_to_have_count(1)
        dashboard.search(text)
        expect(row).to_contain_text(MEMBER_EMAIL)
    page.fill("#search", "nobody-has-this@example.com")
    expect(page.locator("#profiles")).to_contain_text("Nothing yet.")
    assert dashboard.errors == []


def test_a_members_timeline_shows_each_change_as_a_diff_and_the_verdict_with_violations(
    dashboard: Dashboard,
) -> None:
    page = dashboard.open(KEY)
    dashboard.search(MEMBER)
    page.locator("#profiles tbody tr").click()
    member = page.locator("#member")
    expect(member.locator(".member-verdict")).to_have_text("Contract: FAIL, 1 violation for this member")
    change = member.locator(".diff tr.changed", has_text="first_name")
    expect(change.locator(".before")).to_have_text("Ada")
    expect(change.locator(".after")).to_have_text(XSS_NAME)
    flagged = member.locator(".item.has-violation")
    expect(flagged).to_have_count(1)
    expect(flagged).to_contain_text("wallet credited")
    expect(flagged.locator(".violation")).to_contain_text("'wallet credited' is 'Wallet credited' misspelled")
    kinds = member.locator(".timeline .item").evaluate_all("items => items.map(i => i.dataset.kind)")
    assert kinds == ["change", "change", "event"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    member.locator("button.close").click()  # the drawer lies over the list: close it to pick another
    expect(member).to_be_hidden()
    page.fill("#search", "")
    page.locator("#profiles tbody tr").filter(has_not_text=MEMBER).first.click()
    expect(member.locator(".member-verdict")).to_have_text("Contract: PASS, no violations for this member")
    expect(member.locator(".timeline .item.event").first).to_contain_text("stored as event")
    assert dashboard.errors == []


def test_new_traffic_appears_without_a_reload(dashboard: Dashboard, server: RunningEmulator) -> None:
    page = dashboard.open(LIVE_KEY)
    page.evaluate("window.stillTheSamePage = true")
    email = f"live.{uuid.uuid4().hex[:8]}@example.com"
    expect(page.locator("#profiles")).not_to_contain_text(email)
    statuses = send(
        server.url, LIVE_KEY, ("POST", "/api/profile-import", profile(str(uuid.uuid4()), email=email))
    )
    assert statuses == [201]
    expect(page.locator("#profiles tbody tr", has_text=email)).to_have_count(1)
    dashboard.tab("requests")
    expect(page.locator("#requests tbody tr").first).to_contain_text("/api/profile-import")
    assert page.evaluate("window.stillTheSamePage") is True


def test_a_429_shows_once_rate_limits_are_switched_on(dashboard: Dashboard, server: RunningEmulator) -> None:
    page = dashboard.open(LIVE_KEY, tab="problems")
    expect(page.locator("#setting-mode")).to_have_text("off")
    try:
        assert httpx.put(f"{server.url}/_emulator/rate-limits", content="0.01").status_code == 200
        expect(page.locator("#setting-mode")).to_have_text("0.01")
        # a hundredth of Klaviyo's limits is one request a second: the second in a row is throttled
        statuses = send(server.url, LIVE_KEY, *[("GET", "/api/metrics", None)] * 5)
        assert 429 in statuses
    finally:
        httpx.put(f"{server.url}/_emulator/rate-limits", content="off")
    expect(page.locator("#problems tbody .status.s429").first).to_be_visible()
    expect(page.locator("#setting-mode")).to_have_text("off")


def test_an_injected_fault_shows_with_its_status(dashboard: Dashboard, server: RunningEmulator) -> None:
    page = dashboard.open(LIVE_KEY, tab="problems")
    try:
        assert httpx.put(f"{server.url}/_emulator/faults", content="5xx=1,seed=1").status_code == 200
        expect(page.locator("#setting-faults")).to_have_text("5xx=1 (seed 1)")
        [status] = send(server.url, LIVE_KEY, ("GET", "/api/metrics", None))
        assert status in (500, 502, 503, 504)
    finally:
        httpx.put(f"{server.url}/_emulator/faults", content="")
    expect(page.locator("#problems tbody tr", has_text=f"fault: {status}").first).to_be_visible()
    expect(page.locator("#setting-faults")).to_have_text("none")


def test_long_lists_page_through_older_and_back_to_newer(dashboard: Dashboard) -> None:
    page = dashboard.open(KEY, tab="requests", page_size="10")
    rows = page.locator("#requests tbody tr")
    expect(rows).to_have_count(10)
    expect(page.locator("#requests .range")).to_contain_text("1–10 of ")
    newest = [int(s) for s in rows.evaluate_all("rows => rows.map(r => r.dataset.seq)")]
    page.click("#requests .older")
    expect(page.locator("#requests .range")).to_contain_text("11–20 of ")
    # The range line and the rows are drawn apart: wait for the rows too before reading them.
    expect(rows.first).not_to_have_attribute("data-seq", str(newest[0]))
    expect(rows).to_have_count(10)
    older = [int(s) for s in rows.evaluate_all("rows => rows.map(r => r.dataset.seq)")]
    assert newest == sorted(newest, reverse=True)
    assert max(older) < min(newest)
    page.click("#requests .newer")
    expect(page.locator("#requests .range")).to_contain_text("1–10 of ")
    expect(rows.first).to_have_attribute("data-seq", str(newest[0]))


def test_payloads_render_as_literal_text_and_never_run(dashboard: Dashboard) -> None:
    page = dashboard.open(KEY)
    dashboard.search(MEMBER_EMAIL)
    expect(page.locator("#profiles tbody tr td", has_text=XSS_NAME)).to_have_text(XSS_NAME)
    page.locator("#profiles tbody tr").click()
    event = page.locator("#member .item.event")
    event.locator("summary").click()
    expect(event.locator("pre")).to_contain_text(XSS_PROPERTY)
    event.locator("button.link").click()
    expect(page.locator("#detail pre.body").first).to_contain_text(XSS_PROPERTY)
    expect(page.locator("#member .attributes")).to_contain_text(XSS_NAME)
    assert page.locator("img").count() == 0
    assert page.locator("script").count() == 1  # the dashboard's own
    assert dashboard.dialogs == []
    assert dashboard.errors == []


# -- the JSON endpoints, in process ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/_emulator/dashboard/requests?before=abc",
        "/_emulator/dashboard/requests?limit=-1",
        "/_emulator/dashboard/requests?only=everything",
        "/_emulator/dashboard/profiles?before=%C2%B2",
        "/_emulator/dashboard/ledger?limit=1e3",
        "/_emulator/dashboard/member",
        "/_emulator/dashboard/member?id=nobody",
        "/_emulator/dashboard/requests/abc",
        "/_emulator/dashboard/requests/99999999999999999999999999",
        "/_emulator/dashboard/assets/..%2Fdashboard.py",
        "/_emulator/dashboard/charts?range=forever",
    ],
)
def test_a_bad_query_value_is_a_4xx_naming_it(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert 400 <= response.status_code < 500
    assert response.json()["errors"][0]["detail"]


@pytest.mark.parametrize(
    "path",
    [
        "/_emulator/dashboard/requests?before=99999999999999999999999999999&limit=100000",
        "/_emulator/dashboard/profiles?q=%ED%A0%80%00%25_",
        "/_emulator/dashboard/summary?key=pk_nobody",
        "/_emulator/dashboard/ledger?account=nobody&before=0",
    ],
)
def test_an_odd_but_readable_query_is_answered(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert isinstance(response.json(), dict)


def test_the_page_runs_only_its_own_script(client: httpx.Client) -> None:
    page = client.get("/")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert page.text.count("<script") == 1


def test_a_change_is_the_attributes_it_changed_before_and_after() -> None:
    before = {"first_name": "Ada", "properties": {"points": 1, "tier": "gold"}}
    after = {"first_name": "Ada", "properties": {"points": 2, "city": "Oslo"}}
    assert timeline.diff(before, after) == [
        {"attribute": "properties.city", "after": "Oslo", "change": "added"},
        {"attribute": "properties.points", "before": 1, "after": 2, "change": "changed"},
        {"attribute": "properties.tier", "before": "gold", "change": "removed"},
    ]
