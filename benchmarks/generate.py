"""How fast does the fake TRIFFT generate events? Prints events per second on one core.

    python benchmarks/generate.py [--count N] [--repeat R]

Figures, each the best of R runs, in one process (one core):
- generate + serialise (realistic, edge): what `trifft-klaviyo generate` does per event, minus file I/O;
- baseline: serialising the same, already generated events with json.dumps alone, the floor any generator
  that writes JSON Lines pays; the ratio says how much of the cost is the story itself;
- Hypothesis `timelines()`: the same engine drawing from Hypothesis, for property tests (not a target).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis.errors import NonInteractiveExampleWarning

from emulator.trifft import dumps, generate
from emulator.trifft.strategies import timelines


def best_of(repeat: int, run: Callable[[], int]) -> float:
    """Best events-per-second of ``repeat`` runs of ``run`` (which returns how many events it made)."""
    best = 0.0
    for _ in range(repeat):
        started = time.perf_counter()
        made = run()
        best = max(best, made / (time.perf_counter() - started))
    return best


def hypothesis_rate(examples: int) -> float:
    made = 0

    @settings(max_examples=examples, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(timelines(members=5, max_events=50))
    def consume(stream: list[dict[str, object]]) -> None:
        nonlocal made
        made += len(stream)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonInteractiveExampleWarning)
        consume()  # warm up: Hypothesis builds its unicode tables on first use
        made = 0
        started = time.perf_counter()
        consume()
    return made / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    count, repeat = args.count, args.repeat

    def run(edge: bool) -> Callable[[], int]:
        return lambda: sum(1 for event in generate(count, seed=1, edge=edge) if dumps(event))

    realistic = best_of(repeat, run(False))
    edge = best_of(repeat, run(True))
    events = list(generate(count, seed=1))
    baseline = best_of(repeat, lambda: sum(1 for e in events if json.dumps(e, ensure_ascii=False)))
    drawn = hypothesis_rate(30)

    print(f"events per run: {count}, best of {repeat}, one core")
    print(f"generate + serialise, realistic: {realistic:10,.0f} events/s")
    print(f"generate + serialise, edge:      {edge:10,.0f} events/s")
    print(f"baseline json.dumps only:        {baseline:10,.0f} events/s")
    print(f"ratio realistic / baseline:      {realistic / baseline:10.2f}")
    print(f"Hypothesis timelines():          {drawn:10,.0f} events/s")
    print(f"target 5,000 events/s: {'met' if min(realistic, edge) >= 5_000 else 'NOT met'}")


if __name__ == "__main__":
    main()
