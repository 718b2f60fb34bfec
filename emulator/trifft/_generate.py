"""The seeded generator behind ``trifft-klaviyo generate``: same seed, same bytes."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TextIO

from contracts import ALL_KINDS

from ._source import RandomSource
from ._world import World

DEFAULT_MEMBERS = 100


def generate(
    count: int,
    seed: int = 0,
    members: int = DEFAULT_MEMBERS,
    kinds: Sequence[str] = ALL_KINDS,
    edge: bool = False,
) -> Iterator[dict[str, Any]]:
    """Yield ``count`` TRIFFT member events (contract 1) for a project of ``members`` members.

    Realistic mode reads like production traffic; ``edge=True`` leans on what breaks integrations (nasty text,
    nulls, huge numbers, shared and missing emails, late credits, same-second bursts, templates that render
    invalid JSON). Events are fresh dicts, but catalogue objects nested in them (venues, coupons, webhooks) may
    be shared between events: treat them as read-only.
    """
    if count < 0:
        raise ValueError("count must be 0 or more")
    world = World(RandomSource(seed), members, edge=edge, kinds=kinds)
    return world.events(count)


def dumps(event: dict[str, Any]) -> str:
    """One JSON Lines line, without the newline: compact, UTF-8 text kept as is, keys in envelope order."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


def write_jsonl(events: Iterable[dict[str, Any]], out: TextIO | str | os.PathLike[str]) -> int:
    """Write events as JSON Lines to a text stream, or to a file path (UTF-8, created or replaced); return how
    many were written. What ``trifft-klaviyo sync --input`` and ``replay`` read."""
    if isinstance(out, str | os.PathLike):
        with open(out, "w", encoding="utf-8", newline="\n") as file:
            return write_jsonl(events, file)
    written = 0
    for event in events:
        out.write(dumps(event))
        out.write("\n")
        written += 1
    return written
