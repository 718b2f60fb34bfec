"""How fast does the fake Klaviyo start and answer? Prints start-up time and Create Event requests per second.

    python benchmarks/emulator.py [--events N] [--repeat R] [--starts S]     (from the repository root)

Figures, each over a real socket on 127.0.0.1 with the server in its own process, as a client sees it:
- start-up: `trifft-klaviyo emulator` from process start to the first 200 from /_emulator/health (median of S);
- create_event, in memory: `POST /api/events` with limits off, one httpx client with keep-alive sending N
  distinct events one after another (median of R runs);
- create_event, --db file: the same, each 202 committed to SQLite (WAL, synchronous=FULL) before it is sent;
- baseline for --db: bare SQLite commits per second in the same folder, i.e. the disk's fsync;
- baseline: a trivial Starlette app on the same uvicorn settings that reads the body and answers 202, the floor
  any Python ASGI server pays; the ratio says what parsing, validation, the store and the request log cost.
"""

from __future__ import annotations

import argparse
import json
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

EMULATOR = [
    sys.executable,
    "-m",
    "emulator.cli",
    "emulator",
    "--port",
    "0",
    "--quiet",
    "--rate-limits",
    "off",
]
HEADERS = {
    "Authorization": "Klaviyo-API-Key pk_benchmark_0000000000000000000000000",
    "revision": "2026-07-15",
    "Content-Type": "application/vnd.api+json",
    "Accept": "application/vnd.api+json",
}


def serve_baseline() -> None:
    """Run the baseline app (this script with --serve-baseline); prints its port, then serves until killed."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def accept(request: Request) -> Response:
        await request.body()
        return Response(status_code=202)

    app = Starlette(routes=[Route("/api/events", accept, methods=["POST"])])
    listener = socket.create_server(("127.0.0.1", 0))
    print(listener.getsockname()[1], flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[listener])


def wait_healthy(url: str, process: subprocess.Popen[str]) -> None:
    while process.poll() is None:
        try:
            if httpx.get(url).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.002)
    raise RuntimeError(f"the server exited with {process.returncode}")


@contextmanager
def emulator(*extra: str) -> Iterator[tuple[str, float]]:
    """The real command; its base URL and seconds from process start to the first healthy answer."""
    started = time.perf_counter()
    process = subprocess.Popen([*EMULATOR, *extra], stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        banner = process.stderr.readline()
        url = banner.split("control API at ")[1].strip().removesuffix("/_emulator/health")
        wait_healthy(f"{url}/_emulator/health", process)
        yield url, time.perf_counter() - started
    finally:
        process.terminate()
        process.wait()


@contextmanager
def baseline() -> Iterator[str]:
    command = [sys.executable, __file__, "--serve-baseline"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = f"http://127.0.0.1:{process.stdout.readline().strip()}"
        wait_healthy_post(url, process)
        yield url
    finally:
        process.terminate()
        process.wait()


def wait_healthy_post(url: str, process: subprocess.Popen[str]) -> None:
    while process.poll() is None:
        try:
            httpx.post(f"{url}/api/events", content=b"{}")
            return
        except httpx.TransportError:
            time.sleep(0.002)
    raise RuntimeError(f"the baseline exited with {process.returncode}")


def bodies(count: int, run: str) -> list[bytes]:
    """Distinct Create Event documents (300 members), encoded once so the client loop only sends."""
    made = []
    for n in range(count):
        made.append(
            json.dumps(
                {
                    "data": {
                        "type": "event",
                        "attributes": {
                            "properties": {"points": n % 500, "venue": "Rooftop", "source": "benchmark"},
                            "value": 12.5,
                            "unique_id": f"{run}-{n}",
                            "metric": {"data": {"type": "metric", "attributes": {"name": "Points Earned"}}},
                            "profile": {
                                "data": {
                                    "type": "profile",
                                    "attributes": {
                                        "email": f"member{n % 300}@example.com",
                                        "external_id": f"member-{n % 300}",
                                    },
                                }
                            },
                        },
                    }
                }
            ).encode()
        )
    return made


def rate(url: str, count: int, repeat: int) -> float:
    """Median requests per second of ``repeat`` runs of ``count`` sequential POSTs on one keep-alive client."""
    rates = []
    with httpx.Client(base_url=url, headers=HEADERS) as http:
        for body in bodies(200, "warm-up"):
            http.post("/api/events", content=body)
        for run in range(repeat):
            documents = bodies(count, f"run{run}")
            started = time.perf_counter()
            for body in documents:
                status = http.post("/api/events", content=body).status_code
                if status != 202:
                    raise RuntimeError(f"expected 202, got {status}")
            rates.append(count / (time.perf_counter() - started))
    return statistics.median(rates)


def commit_rate(folder: str, count: int = 300) -> float:
    """SQLite commits per second (WAL, synchronous=FULL, one row each) in ``folder``: the disk's fsync, which
    bounds the --db figure (one durable commit per request)."""
    import sqlite3

    conn = sqlite3.connect(str(Path(folder) / "commits.db"), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (n INTEGER)")
    started = time.perf_counter()
    for n in range(count):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t VALUES (?)", (n,))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--serve-baseline", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline()
        return

    starts = []
    for _ in range(args.starts):
        with emulator() as (_, seconds):
            starts.append(seconds)
    with emulator() as (url, _):
        memory = rate(url, args.events, args.repeat)
    with tempfile.TemporaryDirectory() as folder:
        with emulator("--db", str(Path(folder) / "bench.db")) as (url, _):
            durable = rate(url, args.events, args.repeat)
        commits = commit_rate(folder)
    with baseline() as url:
        floor = rate(url, args.events, args.repeat)

    print(
        f"start-up to first healthy response: {statistics.median(starts) * 1000:,.0f} ms (median of {args.starts})"
    )
    print(f"{args.events:,} create_event, median of {args.repeat} runs, one keep-alive client, limits off:")
    print(f"  in memory          {memory:8,.0f} req/s")
    print(f"  --db file          {durable:8,.0f} req/s")
    print(f"  baseline (202 app) {floor:8,.0f} req/s")
    print(f"  baseline for --db: {commits:,.0f} SQLite commits/s (WAL, synchronous=FULL) on the same disk")
    print(f"  ratio in memory / baseline {memory / floor:.2f}, --db file / baseline {durable / floor:.2f}")


if __name__ == "__main__":
    main()
