"""How fast is the fake Klaviyo next to the HTTP stack it runs on? wrk against both, in the same run.

    python benchmarks/emulator.py [--seconds 10] [--connections 32] [--starts 5]     (from the repository root)

Each figure comes from wrk (Debian's package, installed here if absent: a Python client would measure itself)
with one thread and ``--connections`` connections for ``--seconds``, against servers in their own processes on
127.0.0.1, all started the same way (uvicorn, with uvloop and httptools when installed):

- baseline: a bare Starlette handler that reads the body and answers 202 (POST) or a fixed 100-item JSON page
  (GET): the floor any app on this stack pays;
- create_event, in memory: ``POST /api/events``, every request a new event (distinct ``unique_id``s over 300
  profiles), limits off, full validation, request log and observations;
- create_event, ``--db`` file: the same, each 202 committed to SQLite (WAL, synchronous=FULL) before it is sent;
- get_events: ``GET /api/events?page[size]=100`` over the events just written.

Start-up: process start to the first 200 from ``/_emulator/health`` (the emulator) or ``/`` (a bare uvicorn
app with the same stack), median of ``--starts``. Ratios are to the baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

KEY = "pk_benchmark_0000000000000000000000000"
EMULATOR = [sys.executable, "-m", "emulator.cli", "emulator", "--quiet", "--rate-limits", "off"]

#: wrk's request generator: a distinct Create Event per request, 300 profiles.
CREATE_EVENT_LUA = r"""
counter = 0
wrk.method = "POST"
wrk.headers["Authorization"] = "Klaviyo-API-Key @KEY@"
wrk.headers["revision"] = "2026-07-15"
wrk.headers["Content-Type"] = "application/vnd.api+json"
request = function()
  counter = counter + 1
  local n = counter
  local body = string.format(
    '{"data":{"type":"event","attributes":{"properties":{"points":%d,"venue":"Rooftop","source":"benchmark"},' ..
    '"value":12.5,"unique_id":"%s-%d","metric":{"data":{"type":"metric","attributes":{"name":"Points Earned"}}},' ..
    '"profile":{"data":{"type":"profile","attributes":{"email":"member%d@example.com",' ..
    '"external_id":"member-%d"}}}}}}', n % 500, run, n, n % 300, n % 300)
  return wrk.format(nil, "/api/events", nil, body)
end
""".replace("@KEY@", KEY)

GET_EVENTS_LUA = r"""
wrk.method = "GET"
wrk.headers["Authorization"] = "Klaviyo-API-Key @KEY@"
wrk.headers["revision"] = "2026-07-15"
""".replace("@KEY@", KEY)


def serve_baseline() -> None:
    """The baseline app (this script with --serve-baseline): prints its port, then serves until killed."""
    import json

    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    page = {"data": [{"type": "event", "id": f"{n:026d}", "attributes": {"n": n}} for n in range(100)]}
    encoded = json.dumps(page).encode()

    async def events(request: Request) -> Response:
        if request.method == "POST":
            await request.body()
            return Response(status_code=202)
        return Response(encoded, media_type="application/json")

    async def home(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    app = Starlette(routes=[Route("/api/events", events, methods=["GET", "POST"]), Route("/", home)])
    listener = socket.create_server(("127.0.0.1", 0))
    print(listener.getsockname()[1], flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[listener])


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is missing: installing Debian's package", file=sys.stderr)
    as_root = [] if shutil.which("sudo") is None else ["sudo"]
    subprocess.run([*as_root, "apt-get", "update", "-qq"], check=True)
    subprocess.run(
        [*as_root, "apt-get", "install", "-y", "-qq", "wrk"], check=True, stdout=subprocess.DEVNULL
    )
    return shutil.which("wrk") or "wrk"


def wait_ok(url: str, process: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        try:
            if httpx.get(url).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.002)
    raise RuntimeError(f"{url} did not answer 200 (exit {process.returncode})")


@contextmanager
def emulator(*extra: str) -> Iterator[tuple[str, float]]:
    """The real command on a free port; its base URL and seconds from process start to the first healthy answer."""
    started = time.perf_counter()
    process = subprocess.Popen([*EMULATOR, "--port", "0", *extra], stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        banner = process.stderr.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", banner)
        if url is None:
            raise RuntimeError(f"no URL in the emulator's banner: {banner!r}")
        wait_ok(f"{url.group(0)}/_emulator/health", process)
        yield url.group(0), time.perf_counter() - started
    finally:
        process.terminate()
        process.wait()


@contextmanager
def baseline() -> Iterator[tuple[str, float]]:
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve-baseline"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        url = f"http://127.0.0.1:{process.stdout.readline().strip()}"
        wait_ok(f"{url}/", process)
        yield url, time.perf_counter() - started
    finally:
        process.terminate()
        process.wait()


def wrk(binary: str, url: str, script: str, seconds: int, connections: int, run: str) -> tuple[float, float]:
    """Requests per second and p99 latency in ms; non-2xx answers are an error, not a figure."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(f'run = "{run}"\n' + script)
    done = subprocess.run(
        [binary, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", lua.name, url],
        capture_output=True,
        text=True,
        check=True,
    )
    Path(lua.name).unlink()
    if "Non-2xx or 3xx responses" in done.stdout:
        raise RuntimeError(f"wrk saw errors against {url}:\n{done.stdout}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", done.stdout).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", done.stdout)
    assert p99 is not None, done.stdout
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return rate, float(p99.group(1)) * scale


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--serve-baseline", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline()
        return
    binary = ensure_wrk()
    s, c = args.seconds, args.connections
    rows: list[tuple[str, float, float, float]] = []

    with baseline() as (url, _):
        floor_post = wrk(binary, f"{url}/api/events", CREATE_EVENT_LUA, s, c, "base")
        floor_get = wrk(binary, f"{url}/api/events?page%5Bsize%5D=100", GET_EVENTS_LUA, s, c, "base")
    rows.append(("baseline: bare handler, POST", *floor_post, 1.0))
    with emulator() as (url, _):
        memory = wrk(binary, f"{url}/api/events", CREATE_EVENT_LUA, s, c, "mem")
        reads = wrk(binary, f"{url}/api/events?page%5Bsize%5D=100", GET_EVENTS_LUA, s, c, "mem")
    rows.append(("create_event, in memory", *memory, memory[0] / floor_post[0]))
    with (
        tempfile.TemporaryDirectory() as folder,
        emulator("--db", str(Path(folder) / "bench.db")) as (url, _),
    ):
        durable = wrk(binary, f"{url}/api/events", CREATE_EVENT_LUA, s, c, "db")
    rows.append(("create_event, --db file", *durable, durable[0] / floor_post[0]))
    rows.append(("baseline: bare handler, GET 100 items", *floor_get, 1.0))
    rows.append(("get_events, pages of 100", *reads, reads[0] / floor_get[0]))

    emulator_starts, bare_starts = [], []
    for _ in range(args.starts):
        with emulator() as (_, seconds):
            emulator_starts.append(seconds)
        with baseline() as (_, seconds):
            bare_starts.append(seconds)
    up, bare_up = statistics.median(emulator_starts), statistics.median(bare_starts)

    print(f"wrk -t1 -c{c} -d{s}s, each server in its own process on 127.0.0.1")
    print(f"{'what':<40} {'req/s':>9} {'p99 ms':>8} {'ratio':>6}")
    for what, rate, p99, ratio in rows:
        print(f"{what:<40} {rate:>9,.0f} {p99:>8.1f} {ratio:>6.2f}")
    print(
        f"start-up to the first 200: emulator {up * 1000:,.0f} ms, bare uvicorn app {bare_up * 1000:,.0f} ms "
        f"(ratio {up / bare_up:.2f}; median of {args.starts})"
    )


if __name__ == "__main__":
    main()
