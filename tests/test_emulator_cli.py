"""``trifft-klaviyo emulator``: where it listens, which keys it takes, what it logs, and how it refuses."""

from __future__ import annotations

import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import API_KEY, HEADERS
from emulator_process import run_emulator, start_emulator

from emulator.cli import _parser
from emulator.klaviyo.store import mask
from emulator.server import listen, url_of

OTHER_KEY = "pk_not_on_the_list_000000000000000077"


def event(email: str) -> dict[str, Any]:
    return {
        "data": {
            "type": "event",
            "attributes": {
                "properties": {},
                "metric": {"data": {"type": "metric", "attributes": {"name": "Points Earned"}}},
                "profile": {"data": {"type": "profile", "attributes": {"email": email}}},
            },
        }
    }


def keyed(key: str) -> dict[str, str]:
    return {**HEADERS, "Authorization": f"Klaviyo-API-Key {key}"}


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=30)


def serve(processes: list[subprocess.Popen[bytes]], log: Path, *arguments: str) -> str:
    process, url = start_emulator(list(arguments), log)
    processes.append(process)
    return url


def lines(log: Path) -> list[str]:
    return log.read_text().splitlines()


def test_the_command_binds_this_machine_on_port_8525_by_default() -> None:
    args = _parser().parse_args(["emulator"])
    assert (args.host, args.port) == ("127.0.0.1", 8525)


class _Bound:
    """What ``url_of`` reads of a listening socket: its address, as IPv4 and IPv6 sockets give it."""

    def __init__(self, *address: object) -> None:
        self.address = address

    def getsockname(self) -> tuple[object, ...]:
        return self.address


@pytest.mark.parametrize(
    ("address", "url"),
    [(("127.0.0.1", 8525), "http://127.0.0.1:8525"), (("::1", 8525, 0, 0), "http://[::1]:8525")],
    ids=["ipv4", "ipv6"],
)
def test_a_listening_socket_names_its_url_with_an_ipv6_host_in_brackets(
    address: tuple[object, ...], url: str
) -> None:
    # Read off the address alone: a machine without IPv6 cannot bind ::1, and the rule is about the URL.
    assert url_of(_Bound(*address)) == url  # type: ignore[arg-type]
    with listen("127.0.0.1", 0) as listener:
        assert url_of(listener) == f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_the_banner_names_the_port_it_was_given(
    processes: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = serve(processes, tmp_path / "log", "--port", str(port))
    assert url == f"http://127.0.0.1:{port}"
    banner = lines(tmp_path / "log")[0]
    assert banner.startswith(
        f"fake Klaviyo on http://127.0.0.1:{port} (state: in memory, rate limits: klaviyo)"
    )


def test_port_0_banner_names_the_port_actually_bound(
    processes: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    url = serve(processes, tmp_path / "log", "--port", "0")
    assert not url.endswith(":0")
    assert httpx.get(f"{url}/_emulator/health").json()["status"] == "ok"


def test_the_command_serves_the_dashboard_beside_the_api(
    processes: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    url = serve(processes, tmp_path / "log", "--port", "0")
    page = httpx.get(f"{url}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert httpx.get(f"{url}/_emulator/dashboard/summary").status_code == 200


def test_api_key_accepts_that_key_and_refuses_others(
    processes: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    url = serve(processes, tmp_path / "log", "--port", "0", "--api-key", API_KEY)
    with httpx.Client(base_url=url, headers=HEADERS) as http:
        accepted = http.post("/api/events", json=event("a@example.com"))
        refused = http.post("/api/events", json=event("a@example.com"), headers=keyed(OTHER_KEY))
    assert accepted.status_code == 202
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["code"] == "permission_denied"


def test_the_log_has_one_line_per_request_and_never_the_key_in_clear(
    processes: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    log = tmp_path / "log"
    url = serve(
        processes, log, "--port", "0", "--api-key", API_KEY, "--faults", "create_event:5xx_after=0.3,seed=3"
    )
    with httpx.Client(base_url=url, headers=HEADERS) as http:
        statuses = [http.post("/api/events", json=event(f"m{n}@example.com")).status_code for n in range(8)]
        statuses.append(http.post("/api/events", json={"data": {}}).status_code)
        statuses.append(
            http.post("/api/events", json=event("x@example.com"), headers={"Authorization": ""}).status_code
        )
        statuses.append(http.get("/api/profiles", headers=keyed(OTHER_KEY)).status_code)
        statuses.append(http.get(f"/_emulator/requests?key={API_KEY}").status_code)
    assert {500, 202, 400, 401, 403} <= set(statuses)
    requests = lines(log)[1:]
    assert len(requests) == 11  # the control request is not logged
    assert all(API_KEY not in line and OTHER_KEY not in line for line in lines(log))
    assert sum(mask(API_KEY) in line for line in requests) == 9
    assert sum(mask(OTHER_KEY) in line for line in requests) == 1
    [refused] = [line for line in requests if " 400 " in line]
    assert "invalid: " in refused and "(at /data" in refused  # a 4xx line says why
    assert "dashboard at http://" in lines(log)[0]


def test_quiet_logs_no_request(processes: list[subprocess.Popen[bytes]], tmp_path: Path) -> None:
    log = tmp_path / "log"
    url = serve(processes, log, "--port", "0", "--quiet")
    with httpx.Client(base_url=url, headers=HEADERS) as http:
        assert http.post("/api/events", json=event("a@example.com")).status_code == 202
        assert http.post("/api/events", json={}).status_code == 400
    assert len(lines(log)) == 1


def test_ctrl_c_stops_the_server_with_exit_0_and_no_traceback(
    processes: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    serve(processes, tmp_path / "log", "--port", "0")
    processes[0].send_signal(signal.SIGINT)
    assert processes[0].wait(timeout=30) == 0
    assert len(lines(tmp_path / "log")) == 1


def test_sigterm_stops_the_server_without_a_traceback(
    processes: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    serve(processes, tmp_path / "log", "--port", "0")
    processes[0].terminate()
    # uvicorn shuts down gracefully, then re-raises the signal, so the exit status says "terminated by SIGTERM".
    assert processes[0].wait(timeout=30) == -signal.SIGTERM
    assert len(lines(tmp_path / "log")) == 1


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["--rate-limits", "fast"], "rate-limit mode must be klaviyo, off or a positive factor"),
        (["--rate-limits", "-1"], "rate-limit factor must be positive"),
        (["--faults", "5xx=2"], "'5xx=2'"),
        (["--faults", "boom=0.1"], "'boom'"),
        (["--port", "70000"], "70000"),
        (["--port", "http"], "'http'"),
        (["--host", "no.such.host.invalid", "--port", "0"], "cannot listen on no.such.host.invalid"),
    ],
)
def test_a_bad_argument_is_exactly_one_line_and_exit_2(arguments: list[str], says: str) -> None:
    done = run_emulator(arguments)
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert says in done.stderr
    assert done.stderr.startswith("trifft-klaviyo")


def test_a_port_in_use_is_exactly_one_line_and_exit_2() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = run_emulator(["--port", str(port)])
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"trifft-klaviyo emulator: error: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]


def test_labels_and_the_opt_in_default_are_set_from_the_command_line(
    processes: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    key = "pk_0123456789abcdef0123456789abcdef01"
    url = serve(
        processes,
        tmp_path / "log",
        "--port",
        "0",
        "--label",
        f"{key}=TRIFFT staging",
        "--opt-in",
        "single_opt_in",
    )
    headers = {"Authorization": f"Klaviyo-API-Key {key}", "revision": "2026-07-15"}
    assert httpx.get(f"{url}/api/metrics", headers=headers).status_code == 200
    [account] = httpx.get(f"{url}/_emulator/accounts").json()["data"]
    assert account["label"] == "TRIFFT staging"
    assert "single_opt_in" in httpx.get(f"{url}/_emulator/opt-in").text


@pytest.mark.parametrize("given", ["no-equals-sign", "=name", "pk_x=bad\x07label"])
def test_a_bad_label_is_one_line_and_exit_2(given: str) -> None:
    done = run_emulator(["--port", "0", "--label", given])
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1 and "label" in done.stderr
