"""Where a Create Event's server time goes: the fake Klaviyo in process (httpx's ASGITransport), profiled.

    python benchmarks/profile_emulator.py [--events 2000] [--profile]     (from the repository root)

Each request goes straight through the ASGI interface as uvicorn would call the app (no client, no socket), so the
figure is the application's own time per request; with ``--profile``, its functions by cumulative time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import sys
import time
from pathlib import Path
from typing import Any

# This folder's emulator.py (the wrk benchmark) would shadow the emulator package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from contracts import KLAVIYO_REVISION  # noqa: E402
from emulator.klaviyo import Emulator, create_app  # noqa: E402

KEY = "pk_benchmark_0000000000000000000000000"
HEADERS = {
    "Authorization": f"Klaviyo-API-Key {KEY}",
    "revision": KLAVIYO_REVISION,
    "Content-Type": "application/vnd.api+json",
}


def body(n: int) -> bytes:
    profile = {"email": f"member{n % 300}@example.com", "external_id": f"member-{n % 300}"}
    return json.dumps(
        {
            "data": {
                "type": "event",
                "attributes": {
                    "properties": {"points": n % 500, "venue": "Rooftop", "source": "benchmark"},
                    "value": 12.5,
                    "unique_id": f"u-{n}",
                    "metric": {"data": {"type": "metric", "attributes": {"name": "Points Earned"}}},
                    "profile": {"data": {"type": "profile", "attributes": profile}},
                },
            }
        }
    ).encode()


async def post(app: Any, content: bytes) -> int:
    """One POST /api/events straight through the ASGI interface, as uvicorn calls the app; its status."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/events",
        "raw_path": b"/api/events",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1:8525"),
            *((name.lower().encode(), value.encode()) for name, value in HEADERS.items()),
            (b"content-length", str(len(content)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8525),
    }
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": content, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def run(count: int) -> float:
    app = create_app(Emulator(rate_limits="off"))
    for n in range(200):
        await post(app, body(n))
    bodies = [body(n) for n in range(200, 200 + count)]  # made before the clock starts: not the app's time
    started = time.perf_counter()
    for content in bodies:
        status = await post(app, content)
        await asyncio.sleep(
            0
        )  # a turn of the loop between requests, as one client's would have: each commits
        if status != 202:
            raise RuntimeError(f"answered {status}")
    return (time.perf_counter() - started) / count


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if not args.profile:
        print(f"{asyncio.run(run(args.events)) * 1e6:.0f} µs per Create Event, in process")
        return
    profiler = cProfile.Profile()
    seconds = profiler.runcall(asyncio.run, run(args.events))
    print(f"{seconds * 1e6:.0f} µs per Create Event under the profiler")
    stats = pstats.Stats(profiler).sort_stats("cumulative")
    stats.print_stats(r"emulator/klaviyo|contracts|starlette", 40)


if __name__ == "__main__":
    main()
