"""Where a Create Event's server time goes: the fake Klaviyo in process (httpx's ASGITransport), profiled.

    python benchmarks/profile_emulator.py [--events 2000] [--profile]     (from the repository root)

Prints microseconds per request (the client's share included: in process there is no socket, but httpx still
builds and reads each request); with ``--profile``, the emulator's functions by cumulative time.
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

import httpx

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


async def run(count: int) -> float:
    app = create_app(Emulator(rate_limits="off"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://klaviyo.test"
    ) as client:
        for n in range(200):
            await client.post("/api/events", content=body(n), headers=HEADERS)
        started = time.perf_counter()
        for n in range(200, 200 + count):
            answer = await client.post("/api/events", content=body(n), headers=HEADERS)
            if answer.status_code != 202:
                raise RuntimeError(answer.text)
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
    stats.print_stats(r"emulator/klaviyo|contracts", 30)


if __name__ == "__main__":
    main()
