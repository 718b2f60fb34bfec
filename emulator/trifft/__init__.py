"""The fake TRIFFT: realistic and nasty member events, from a seeded generator or Hypothesis strategies.

``generate(count, seed=...)`` is fast and byte-reproducible (``trifft-klaviyo generate``);
``emulator.trifft.strategies`` gives the same story engine as Hypothesis strategies that shrink;
``inconsistencies(events)`` says where a stream's story does not hold together.
"""

from __future__ import annotations

from ._generate import DEFAULT_MEMBERS, dumps, generate, write_jsonl
from ._timeline import inconsistencies

__all__ = ["DEFAULT_MEMBERS", "dumps", "generate", "inconsistencies", "write_jsonl"]
