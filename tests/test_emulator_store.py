"""State: durable with --db (a 2xx survives kill -9), export/import through /_emulator/state, per-account reset."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import API_KEY, HEADERS
from emulator_process import run_emulator, start_emulator

from emulator.client import InProcessTransport
from emulator.klaviyo import Emulator, Store, create_app
from emulator.klaviyo.store import account_id, display_key, mask, profile_name

OTHER_KEY = "pk_other_account_0000000000000000042"
ARGUMENTS = ["--port", "0", "--rate-limits", "off"]


def event(email: str, n: int) -> dict[str, Any]:
    return {
        "data": {
            "type": "event",
            "attributes": {
                "properties": {"points": n},
                "unique_id": f"event-{n}",
                "metric": {"data": {"type": "metric", "attributes": {"name": "Points Earned"}}},
                "profile": {"data": {"type": "profile", "attributes": {"email": email}}},
            },
        }
    }


def profile(email: str, n: int) -> dict[str, Any]:
    return {
        "data": {
            "type": "profile",
            "attributes": {"email": email, "external_id": f"member-{n}", "properties": {"trifft_points": n}},
        }
    }


def keyed(key: str) -> dict[str, str]:
    return {**HEADERS, "Authorization": f"Klaviyo-API-Key {key}"}


def every(http: httpx.Client, path: str, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Every resource of a collection, following links.next."""
    found: list[dict[str, Any]] = []
    url: str | None = path
    while url:
        page = http.get(url, headers=headers)
        assert page.status_code == 200, page.text
        found += page.json()["data"]
        url = page.json()["links"].get("next")
    return found


def reads(http: httpx.Client, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """What a client can read back: profiles, events and metrics, as the API returns them."""
    return {
        "profiles": every(http, "/api/profiles", headers),
        "events": every(http, "/api/events", headers),
        "metrics": every(http, "/api/metrics", headers),
    }


def fill(http: httpx.Client, count: int, headers: dict[str, str] | None = None) -> None:
    for n in range(count):
        assert http.post(
            "/api/profile-import", json=profile(f"m{n}@example.com", n), headers=headers
        ).is_success
        assert (
            http.post("/api/events", json=event(f"m{n}@example.com", n), headers=headers).status_code == 202
        )


# -- export, reset, import ----------------------------------------------------------------------------------------


def test_export_reset_import_restores_the_same_api_reads(client: httpx.Client) -> None:
    fill(client, 5)
    before = reads(client)
    exported = client.get("/_emulator/state", params={"key": API_KEY})
    assert exported.status_code == 200
    assert client.post("/_emulator/reset").status_code == 200
    assert reads(client) == {"profiles": [], "events": [], "metrics": []}
    imported = client.put("/_emulator/state", params={"key": API_KEY}, content=exported.content)
    assert imported.status_code == 200
    assert reads(client) == before
    assert len(before["profiles"]) == 5
    assert len(before["events"]) == 5


def test_import_lists_the_account_again(client: httpx.Client) -> None:
    fill(client, 1)
    exported = client.get("/_emulator/state", params={"account": account_id(API_KEY)}).content
    client.post("/_emulator/reset")
    client.put("/_emulator/state", params={"account": account_id(API_KEY)}, content=exported)
    listed = client.get("/_emulator/accounts").json()["data"]
    assert [(row["id"], row["masked_key"]) for row in listed] == [(account_id(API_KEY), mask(API_KEY))]
    assert listed[0]["shown_key"] == display_key(API_KEY)


def test_an_export_imported_under_a_key_is_shown_under_that_keys_display_form(client: httpx.Client) -> None:
    fill(client, 1)
    exported = client.get("/_emulator/state", params={"key": API_KEY}).content
    assert client.put("/_emulator/state", params={"key": OTHER_KEY}, content=exported).status_code == 200
    shown = {row["id"]: row["shown_key"] for row in client.get("/_emulator/accounts").json()["data"]}
    assert shown[account_id(OTHER_KEY)] == display_key(OTHER_KEY)


def test_an_export_imported_into_another_account_is_read_there(client: httpx.Client) -> None:
    fill(client, 2)
    exported = client.get("/_emulator/state", params={"key": API_KEY}).content
    assert client.put("/_emulator/state", params={"key": OTHER_KEY}, content=exported).status_code == 200
    theirs = reads(client, keyed(OTHER_KEY))
    assert [p["attributes"]["email"] for p in theirs["profiles"]] == ["m0@example.com", "m1@example.com"]


def test_reset_of_one_account_leaves_the_others_intact(client: httpx.Client) -> None:
    fill(client, 2)
    fill(client, 3, keyed(OTHER_KEY))
    theirs = reads(client, keyed(OTHER_KEY))
    response = client.post("/_emulator/reset", params={"key": API_KEY})
    assert response.json() == {"reset": account_id(API_KEY)}
    assert reads(client) == {"profiles": [], "events": [], "metrics": []}
    assert reads(client, keyed(OTHER_KEY)) == theirs
    assert len(client.get("/_emulator/requests", params={"key": OTHER_KEY}).json()["data"]) > 0


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"not json", "JSON"),
        (b"[1, 2]", "version 1"),
        (b'{"version": 2}', "version 1"),
        (b'{"version": 1, "events": 5}', "events must be a list"),
        (b'{"version": 1, "profiles": [5]}', "profiles must be a list"),
        (b'{"version": 1, "events": [{"bogus": 1}]}', "'bogus'"),
        (b'{"version": 1, "metrics": [{"id": {"a": 1}}]}', "could not be imported"),
    ],
)
def test_a_malformed_state_is_a_400_and_changes_nothing(client: httpx.Client, body: bytes, says: str) -> None:
    fill(client, 1)
    before = reads(client)
    response = client.put("/_emulator/state", params={"key": API_KEY}, content=body)
    assert response.status_code == 400
    assert says in response.json()["errors"][0]["detail"]
    assert reads(client) == before


def test_import_refuses_a_column_name_that_smuggles_sql(client: httpx.Client) -> None:
    fill(client, 2, keyed(OTHER_KEY))
    # A "column" that turns the INSERT into an INSERT ... SELECT copying another account's profiles into this one.
    sneaky = (
        "account, id, email, external_id, doc, created, updated) SELECT ?, id, email, external_id, doc, created,"
        " updated FROM profiles WHERE account != ? --"
    )
    state = {"version": 1, "profiles": [{sneaky: account_id(API_KEY)}]}
    response = client.put("/_emulator/state", params={"key": API_KEY}, content=json.dumps(state))
    assert response.status_code == 400
    assert "no column" in response.json()["errors"][0]["detail"]
    assert reads(client)["profiles"] == []


# -- a file: committed before the response ------------------------------------------------------------------------


def test_a_file_store_keeps_what_was_written_after_it_is_closed(tmp_path: Path) -> None:
    path = str(tmp_path / "klaviyo.db")
    first = Store(path)
    with httpx.Client(
        transport=InProcessTransport(create_app(Emulator(store=first, rate_limits="off"))),
        base_url="http://klaviyo.test",
        headers=HEADERS,
    ) as http:
        fill(http, 3)
        before = reads(http)
    first.close()
    store = Store(path)
    with httpx.Client(
        transport=InProcessTransport(create_app(Emulator(store=store, rate_limits="off"))),
        base_url="http://klaviyo.test",
        headers=HEADERS,
    ) as http:
        assert reads(http) == before
    store.close()


def test_a_file_made_before_request_headers_were_kept_opens_and_keeps_working(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE requests (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, account TEXT,"
        " masked_key TEXT, method TEXT NOT NULL, path TEXT NOT NULL, query TEXT NOT NULL, operation TEXT,"
        " status INTEGER NOT NULL, duration_ms REAL NOT NULL, request_body TEXT, response_body TEXT, errors TEXT,"
        " fault TEXT, received REAL NOT NULL)"
    )
    old.commit()
    old.close()
    store = Store(str(path))
    with httpx.Client(
        transport=InProcessTransport(create_app(Emulator(store=store, rate_limits="off"))),
        base_url="http://klaviyo.test",
        headers=HEADERS,
    ) as http:
        fill(http, 1)
    [logged, *_] = store.requests(account_id(API_KEY))
    assert logged.headers["revision"] == HEADERS["revision"]
    store.close()


def test_a_file_made_before_display_keys_were_kept_gets_them_on_the_next_request(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE accounts (id TEXT PRIMARY KEY, masked_key TEXT NOT NULL, created REAL NOT NULL)"
    )
    old.execute("INSERT INTO accounts VALUES (?, ?, 1.0)", (account_id(API_KEY), mask(API_KEY)))
    old.commit()
    old.close()
    store = Store(str(path))
    [listed] = store.accounts()
    assert (listed["masked_key"], listed["shown_key"], listed["label"]) == (
        mask(API_KEY),
        mask(API_KEY),
        None,
    )
    with httpx.Client(
        transport=InProcessTransport(create_app(Emulator(store=store, rate_limits="off"))),
        base_url="http://klaviyo.test",
        headers=HEADERS,
    ) as http:
        fill(http, 1)
    [listed] = store.accounts()
    assert (listed["shown_key"], listed["created"]) == (display_key(API_KEY), 1.0)
    store.close()
    assert API_KEY.encode() not in b"".join(p.read_bytes() for p in tmp_path.iterdir())


@pytest.mark.parametrize(
    ("doc", "name"),
    [
        (
            {"first_name": "Ada", "last_name": "Lovelace", "properties": {"first_name": "A"}},
            ("Ada", "Lovelace"),
        ),
        ({"properties": {"first_name": "Ada", "last_name": "Lovelace"}}, ("Ada", "Lovelace")),
        ({"first_name": "", "properties": {"first_name": "Ada"}}, ("Ada", None)),
        ({"properties": []}, (None, None)),
        (None, (None, None)),
    ],
)
def test_a_profiles_name_is_klaviyos_attribute_else_the_custom_property(
    doc: Any, name: tuple[Any, Any]
) -> None:
    found = profile_name(doc)
    assert (found["first_name"], found["last_name"]) == name


def test_the_request_log_keeps_headers_but_never_the_api_key(tmp_path: Path) -> None:
    path = tmp_path / "klaviyo.db"
    store = Store(str(path))
    with httpx.Client(
        transport=InProcessTransport(create_app(Emulator(store=store, rate_limits="off"))),
        base_url="http://klaviyo.test",
        headers={**HEADERS, "Cookie": "session=secret-cookie"},
    ) as http:
        fill(http, 2)
    logged = store.requests(account_id(API_KEY))
    store.close()
    assert logged and all("authorization" not in r.headers and "cookie" not in r.headers for r in logged)
    assert all(r.headers["content-type"] == HEADERS["Content-Type"] for r in logged if r.method == "POST")
    written = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert API_KEY.encode() not in written and b"secret-cookie" not in written


def said(logged: dict[str, Any]) -> tuple[str, Any, int]:
    """A logged POST's path, what names it (the profile's external_id, the event's points: refused events carry
    negative points) and its status class."""
    attributes = json.loads(logged["request_body"])["data"]["attributes"]
    if logged["path"] == "/api/events":
        return logged["path"], attributes["properties"]["points"], logged["status"] // 100
    return logged["path"], attributes["external_id"], logged["status"] // 100


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()


@pytest.mark.slow
def test_every_acknowledged_write_survives_kill_9(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    # Many clients at once, so requests share commits (group commit); killed while they are still sending.
    db = tmp_path / "klaviyo.db"
    first, url = start_emulator([*ARGUMENTS, "--db", str(db)], tmp_path / "first.log")
    processes.append(first)
    lanes, enough = 16, 300
    acknowledged: list[int] = []  # n whose profile-import and Create Event were both answered 2xx
    refused: list[int] = []  # n whose invalid event was answered 400: its log line must survive too
    unexpected: list[str] = []
    killed = threading.Event()
    count = threading.Condition()

    def lane(first_n: int) -> None:
        with httpx.Client(base_url=url, headers=HEADERS) as http:
            for n in range(first_n, 1_000_000, lanes):
                try:
                    imported = http.post("/api/profile-import", json=profile(f"m{n}@example.com", n))
                    created = http.post("/api/events", json=event(f"m{n}@example.com", n))
                    bad = http.post("/api/events", json=event("not an email", -n - 1))
                except httpx.TransportError:
                    with count:
                        if not killed.is_set():
                            unexpected.append(f"lane {first_n}: connection lost before the kill")
                        count.notify_all()
                    break
                with count:
                    if imported.is_success and created.status_code == 202 and bad.status_code == 400:
                        acknowledged.append(n)
                        refused.append(-n - 1)
                    else:
                        unexpected.append(
                            f"{n}: {imported.status_code} {created.status_code} {bad.status_code}"
                        )
                    count.notify_all()
                if unexpected:
                    break

    threads = [threading.Thread(target=lane, args=(n,)) for n in range(lanes)]
    for thread in threads:
        thread.start()
    with count:
        count.wait_for(lambda: len(acknowledged) >= enough or bool(unexpected))
        killed.set()
        os.kill(first.pid, signal.SIGKILL)  # every lane has a request in flight or about to be
    for thread in threads:
        thread.join()
    first.wait()
    assert first.returncode == -signal.SIGKILL
    assert unexpected == []

    second, url = start_emulator([*ARGUMENTS, "--db", str(db)], tmp_path / "second.log")
    processes.append(second)
    with httpx.Client(base_url=url, headers=HEADERS) as http:
        after = reads(http)
        log = [
            json.loads(line)
            for line in http.get("/_emulator/export", params={"key": API_KEY}).text.splitlines()
        ]
    external_ids = {p["attributes"]["external_id"] for p in after["profiles"]}
    assert {f"member-{n}" for n in acknowledged} <= external_ids
    points = {e["attributes"]["event_properties"]["points"] for e in after["events"]}
    assert set(acknowledged) <= points
    assert not points & set(refused)  # a refused event was never stored, in whatever commit it rode
    logged = {said(r) for r in log if r["method"] == "POST"}
    for n in acknowledged:
        assert ("/api/profile-import", f"member-{n}", 2) in logged
        assert ("/api/events", n, 2) in logged
    assert {("/api/events", n, 4) for n in refused} <= logged


@pytest.mark.parametrize("kind", ["corrupt", "missing folder", "a folder"])
def test_a_database_that_cannot_be_used_is_one_line_and_exit_2(tmp_path: Path, kind: str) -> None:
    if kind == "corrupt":
        db = tmp_path / "corrupt.db"
        db.write_bytes(b"this is not a SQLite database\n" * 200)
    elif kind == "missing folder":
        db = tmp_path / "no" / "such" / "folder" / "klaviyo.db"
    else:
        db = tmp_path
    done = run_emulator(["--port", "0", "--db", str(db)])
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith("trifft-klaviyo emulator: error: cannot open database")
    assert "Traceback" not in done.stderr
