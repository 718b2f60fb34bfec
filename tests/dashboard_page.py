"""Driving the dashboard in Debian's headless ``chromium`` through Playwright, and feeding the fake Klaviyo by hand:
shared by the dashboard's browser tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from emulator.klaviyo.store import account_id

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def launch() -> Iterator[Browser]:
    """Debian's chromium, headless; a failure (not a skip) when it is missing."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-chromium (Debian's chromium package)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def headers(key: str) -> dict[str, str]:
    return {
        "Authorization": f"Klaviyo-API-Key {key}",
        "revision": "2026-07-15",
        "Content-Type": "application/vnd.api+json",
        "Accept": "application/vnd.api+json",
    }


def profile(external_id: str, **attributes: Any) -> dict[str, Any]:
    return {"data": {"type": "profile", "attributes": {"external_id": external_id, **attributes}}}


def event(
    external_id: str, metric: str, properties: dict[str, Any], unique_id: str, **attributes: Any
) -> dict[str, Any]:
    return {
        "data": {
            "type": "event",
            "attributes": {
                "properties": properties,
                "metric": {"data": {"type": "metric", "attributes": {"name": metric}}},
                "profile": {"data": {"type": "profile", "attributes": {"external_id": external_id}}},
                "unique_id": unique_id,
                **attributes,
            },
        }
    }


def send(url: str, key: str, *calls: tuple[str, str, Any]) -> list[int]:
    with httpx.Client(base_url=url, headers=headers(key)) as http:
        return [http.request(method, path, json=body).status_code for method, path, body in calls]


@dataclass
class Dashboard:
    """A page on the dashboard, with every dialog and script error it raised."""

    page: Page
    url: str
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @classmethod
    def new(cls, browser: Browser, url: str, width: int = 1400, height: int = 1000) -> Dashboard:
        board = cls(browser.new_context(viewport={"width": width, "height": height}).new_page(), url)
        board.page.on("dialog", lambda dialog: (board.dialogs.append(dialog.message), dialog.dismiss()))
        board.page.on("pageerror", lambda error: board.errors.append(str(error)))
        return board

    def open(self, key: str | None, **query: str) -> Page:
        """The page on one account (by key), or on every account with None."""
        chosen = {"account": account_id(key) if key else "", **query}
        self.page.goto(f"{self.url}/?{'&'.join(f'{k}={v}' for k, v in chosen.items())}")
        expect(self.page.locator("#live")).to_contain_text("live")
        return self.page

    def search(self, text: str) -> None:
        self.page.fill("#search", text)
        expect(self.page.locator("#profiles tbody tr")).to_have_count(1)

    def tab(self, name: str) -> None:
        self.page.click(f".tabs button[data-tab={name}]")

    def close(self) -> None:
        self.page.context.close()
