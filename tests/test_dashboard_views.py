"""The dashboard's accounts, names, drawers, event times, narrow layout and charts, in headless Debian chromium.

One fake Klaviyo (Klaviyo's rate limits on) for the module: a long list of profiles named the way TRIFFT's refresh
names them (custom properties) and one named by Klaviyo's own attributes, a bulk job whose two events carry their
own times, a deduplicated event whose ledger line has a long unbroken unique_id, a metric and a label that carry
markup, and two short test keys whose masked forms are alike.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from dashboard_page import Dashboard, event, launch, profile, send
from playwright.sync_api import Browser, Page, expect

from emulator.klaviyo import Emulator
from emulator.klaviyo.store import account_id, display_key, mask
from emulator.server import RunningEmulator

KEY = "pk_test_views_000000000001"
SHORT_A, SHORT_B = "pk_test_1", "pk_live_1"  # both mask to "pk…1"
LIVE_KEY = "pk_test_views_live_000001"
LABEL = "<img src=x onerror=alert('label')>"
XSS_METRIC = "<svg onload=alert('metric')>"
MEMBERS = 44
GRACE = "grace-hopper"
BULK = "bulk-member"
TIMES = ("2026-01-02T03:04:05Z", "2026-02-03T04:05:06Z")
LONG_ID = "u-" + "x" * 300  # no break anywhere: it must wrap inside its cell
TABS = ("profiles", "requests", "problems", "ledger")


def _bulk_job(external_id: str, times: tuple[str, ...]) -> dict[str, Any]:
    entries = [
        {
            "type": "event",
            "attributes": {
                "properties": {"n": n},
                "time": sent,
                "unique_id": f"bulk-{n}",
                "metric": {"data": {"type": "metric", "attributes": {"name": "App opened"}}},
            },
        }
        for n, sent in enumerate(times)
    ]
    group = {
        "type": "event-bulk-create",
        "attributes": {
            "profile": {"data": {"type": "profile", "attributes": {"external_id": external_id}}},
            "events": {"data": entries},
        },
    }
    return {
        "data": {"type": "event-bulk-create-job", "attributes": {"events-bulk-create": {"data": [group]}}}
    }


@pytest.fixture(scope="module")
def server() -> Iterator[RunningEmulator]:
    with RunningEmulator(Emulator(rate_limits="klaviyo")) as running:
        members = [
            ("POST", "/api/profile-import", profile(f"member-{n:02}", properties={"first_name": f"First{n}"}))
            for n in range(MEMBERS)
        ]
        statuses = send(
            running.url,
            KEY,
            *members,
            (
                "POST",
                "/api/profile-import",
                profile(GRACE, first_name="Grace", last_name="Hopper", properties={"first_name": "Amazing"}),
            ),
            ("POST", "/api/event-bulk-create-jobs", _bulk_job(BULK, TIMES)),
            ("POST", "/api/events", event("member-00", "Points earned", {}, LONG_ID)),
            ("POST", "/api/events", event("member-00", "Points earned", {}, LONG_ID)),
            ("POST", "/api/events", event("member-01", XSS_METRIC, {}, "m-1")),
        )
        assert statuses == [201] * (MEMBERS + 1) + [202] * 4
        for key in (SHORT_A, SHORT_B, LIVE_KEY):
            assert send(running.url, key, ("POST", "/api/events", event("x", "App opened", {}, "a-1"))) == [
                202
            ]
        assert httpx.put(f"{running.url}/_emulator/accounts/label?key={SHORT_A}", content=LABEL).is_success
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from launch()


@pytest.fixture
def dashboard(browser: Browser, server: RunningEmulator) -> Iterator[Dashboard]:
    board = Dashboard.new(browser, server.url)
    yield board
    assert board.dialogs == [] and board.errors == []
    board.close()


@pytest.fixture
def narrow(browser: Browser, server: RunningEmulator) -> Iterator[Dashboard]:
    board = Dashboard.new(browser, server.url, width=800, height=900)
    yield board
    assert board.dialogs == [] and board.errors == []
    board.close()


def _page_width(page: Page) -> int:
    width: int = page.evaluate("document.documentElement.scrollWidth")
    return width


# -- accounts and names ---------------------------------------------------------------------------------------------


def test_accounts_whose_masked_keys_are_alike_are_told_apart_and_labelled(dashboard: Dashboard) -> None:
    assert mask(SHORT_A) == mask(SHORT_B)
    page = dashboard.open(None)
    mine = page.locator(f'#accounts tr[data-account="{account_id(SHORT_A)}"]')
    theirs = page.locator(f'#accounts tr[data-account="{account_id(SHORT_B)}"]')
    expect(mine.locator(".account-name")).to_have_text(f"{LABEL} {display_key(SHORT_A)}")
    expect(theirs.locator(".account-name")).to_have_text(display_key(SHORT_B))
    # two long keys whose display forms are alike: the start of each account id tells them apart
    assert display_key(KEY) == display_key(LIVE_KEY) == "pk_…0001"
    for key in (KEY, LIVE_KEY):
        shown = page.locator(f'#accounts tr[data-account="{account_id(key)}"] .account-name')
        expect(shown).to_have_text(f"pk_…0001 #{account_id(key)[:6]}")
    option = page.locator(f'#account option[value="{account_id(SHORT_A)}"]')
    expect(option).to_have_text(f"{LABEL} ({display_key(SHORT_A)}) (1 requests)")
    assert page.locator("img").count() == 0


def test_the_name_column_shows_klaviyos_names_or_else_the_custom_properties(dashboard: Dashboard) -> None:
    page = dashboard.open(KEY)
    dashboard.search("member-07")
    expect(page.locator("#profiles tbody td.name")).to_have_text("First7")
    dashboard.search(GRACE)
    expect(page.locator("#profiles tbody td.name")).to_have_text("Grace Hopper")
    page.locator("#profiles tbody tr").click()
    expect(page.locator("#member .member-name")).to_have_text("Grace Hopper")


def test_with_every_account_shown_each_metric_and_row_says_whose_it_is(dashboard: Dashboard) -> None:
    page = dashboard.open(None)
    for key in (SHORT_A, SHORT_B, KEY):
        group = page.locator(f'#metrics tbody.group[data-account="{account_id(key)}"]')
        expect(group.locator("th")).to_contain_text(display_key(key))
        expect(group.locator("td.metric", has_text="App opened")).to_have_count(1)
    dashboard.tab("requests")
    expect(page.locator("#requests th").last).to_have_text("account")
    newest = page.locator("#requests tbody tr").first
    expect(newest.locator("td.whose")).to_have_text(f"{display_key(LIVE_KEY)} #{account_id(LIVE_KEY)[:6]}")
    dashboard.open(KEY)  # one account: no group headers, no account column
    expect(page.locator("#metrics tbody.group")).to_have_count(0)
    expect(page.locator("#metrics td.metric", has_text="App opened")).to_have_count(1)


# -- drawers and times ----------------------------------------------------------------------------------------------


def test_a_members_timeline_opens_in_view_from_the_bottom_of_a_long_list(dashboard: Dashboard) -> None:
    page = dashboard.open(KEY)
    rows = page.locator("#profiles tbody tr")
    expect(rows).to_have_count(MEMBERS + 2)
    rows.last.click()
    assert page.evaluate("window.scrollY") > 600  # the row was far down the page
    member = page.locator("#member")
    expect(member.locator(".member-head h2")).to_be_in_viewport()
    expect(member.locator(".timeline .item").first).to_be_in_viewport()
    page.keyboard.press("Escape")
    expect(member).to_be_hidden()


def test_a_requests_detail_opens_in_view_from_the_bottom_of_the_log(dashboard: Dashboard) -> None:
    page = dashboard.open(KEY, tab="requests")
    rows = page.locator("#requests tbody tr")
    expect(rows).to_have_count(MEMBERS + 5)
    rows.last.click()
    assert page.evaluate("window.scrollY") > 600
    detail = page.locator("#detail")
    expect(detail.locator(".member-head h2")).to_contain_text("Request #")
    expect(detail.locator(".member-head h2")).to_be_in_viewport()
    expect(detail.locator("pre.body").first).to_be_in_viewport()
    detail.locator("button.close").click()
    expect(detail).to_be_hidden()


def test_each_event_of_a_bulk_job_shows_its_own_time_beside_when_it_arrived(dashboard: Dashboard) -> None:
    page = dashboard.open(KEY)
    dashboard.search(BULK)
    page.locator("#profiles tbody tr").click()
    events = page.locator("#member .timeline .item.event")
    expect(events).to_have_count(2)
    for item, sent in zip(events.all(), TIMES, strict=True):
        expect(item.locator(".event-time")).to_have_text(f"event time {sent}")
    received = [item.locator(".received").inner_text() for item in events.all()]
    assert received[0] == received[1] and received[0].startswith("received ")


# -- 800 pixels wide ------------------------------------------------------------------------------------------------


def test_at_800_pixels_wide_nothing_overflows_the_page(narrow: Dashboard) -> None:
    for key in (KEY, None):
        for tab in TABS:
            page = narrow.open(key, tab=tab)
            expect(page.locator(f"#{tab} .pager")).to_be_visible()
            expect(page.locator("#chart-requests .plot svg")).to_be_visible()
            assert _page_width(page) <= 800, (key, tab)
    page = narrow.open(KEY)
    narrow.search(BULK)
    page.locator("#profiles tbody tr").click()
    expect(page.locator("#member .timeline .item").first).to_be_in_viewport()
    assert _page_width(page) <= 800
    page.locator("#member .item button.link").first.click()
    expect(page.locator("#detail pre.body").first).to_be_visible()
    assert _page_width(page) <= 800
    box = page.locator("#detail").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 800


def test_at_800_pixels_wide_the_ledgers_details_wrap_whole_inside_their_cell(narrow: Dashboard) -> None:
    page = narrow.open(KEY, tab="ledger")
    value = page.locator("#ledger dl.details dd", has_text=LONG_ID)
    expect(value).to_have_text(LONG_ID)
    cell = page.locator("#ledger td.details", has=page.locator("dd", has_text=LONG_ID))
    clipped = cell.evaluate("td => td.scrollWidth > td.clientWidth || td.scrollHeight > td.clientHeight")
    assert clipped is False
    box = value.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 800
    assert _page_width(page) <= 800


# -- charts -----------------------------------------------------------------------------------------------------------


def test_the_charts_change_when_traffic_arrives(dashboard: Dashboard, server: RunningEmulator) -> None:
    page = dashboard.open(LIVE_KEY)
    requests = page.locator("#chart-requests .plot svg")
    expect(requests).not_to_have_attribute("data-total", "0")
    before = int(requests.get_attribute("data-total") or "")
    events = page.locator("#chart-events .plot svg")
    events_before = int(events.get_attribute("data-total") or "")
    # The limiter's minute window must still be this one when the page reads it: not in a minute's last seconds.
    if time.time() % 60 > 54:
        time.sleep(60.2 - time.time() % 60)
    statuses = send(
        server.url,
        LIVE_KEY,
        ("POST", "/api/events", event("live-1", "Wallet credited", {"amount": 5}, "w-1")),
        ("POST", "/api/events", event("live-1", "Wallet credited", {"amount": 6}, "w-2")),
        ("POST", "/api/events", {"data": {"type": "event"}}),
    )
    assert statuses == [202, 202, 400]
    expect(requests).to_have_attribute("data-total", str(before + 3))
    expect(page.locator("#chart-requests rect[data-series='4xx']")).not_to_have_count(0)
    expect(page.locator("#chart-requests .legend li[data-series='4xx'] .n")).to_have_text("1")
    expect(events).to_have_attribute("data-total", str(events_before + 2))
    expect(page.locator("#chart-events .legend li", has_text="Wallet credited")).to_contain_text("2")
    create_event = page.locator('#chart-limits tr[data-operation="create_event"]')
    expect(create_event).not_to_have_attribute("data-steady", "0")
    expect(create_event.locator(".meter span").last).to_contain_text("/3500")


def test_markup_in_metric_names_and_labels_stays_text_in_the_charts(dashboard: Dashboard) -> None:
    page = dashboard.open(KEY)
    expect(page.locator("#chart-events .legend li", has_text=XSS_METRIC)).to_have_count(1)
    expect(page.locator("#metrics td.metric", has_text=XSS_METRIC)).to_have_text(XSS_METRIC)
    page = dashboard.open(None)
    expect(page.locator("#chart-events .legend li", has_text=LABEL)).to_have_count(
        1
    )  # App opened · the label
    expect(page.locator(f'#chart-events rect[data-series*="{XSS_METRIC}"] title').first).to_contain_text(
        XSS_METRIC
    )
    assert page.locator("img").count() == 0
    assert page.locator("#charts svg svg, #charts foreignObject, #charts script").count() == 0
    assert page.locator("script").count() == 1


def test_the_charts_range_is_chosen_and_kept_in_the_address(dashboard: Dashboard) -> None:
    page = dashboard.open(KEY)
    expect(page.locator("#range-label")).to_contain_text("(auto)")
    page.select_option("#range", "1h")
    expect(page.locator("#range-label")).to_contain_text("the last hour, 1-minute bars")
    assert "range=1h" in page.url
    page.reload()
    expect(page.locator("#range")).to_have_value("1h")
    expect(page.locator("#chart-requests .plot svg")).not_to_have_attribute("data-total", "0")
