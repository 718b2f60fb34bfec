"""Where the fake TRIFFT's randomness comes from.

One story engine (``_world``) draws every choice through a ``Source``. ``RandomSource`` wraps a seeded
``random.Random`` for the fast, byte-reproducible ``generate`` command; ``DrawSource`` wraps a Hypothesis
``draw`` so the same engine becomes a strategy that shrinks. Every DrawSource choice shrinks towards the first
option, the low end of a range, ``False`` for ``chance`` and the empty string for ``fuzz_text``, so a failing
example shrinks towards a plain, realistic story. A project's catalogue is the exception: ``catalogue()`` draws
one seed for it.
"""

from __future__ import annotations

import random
import uuid
from bisect import bisect_right
from collections.abc import Callable, Sequence
from functools import lru_cache
from itertools import accumulate
from typing import Any, Protocol, TypeVar

from hypothesis import strategies as st

T = TypeVar("T")


class Source(Protocol):
    def integer(self, low: int, high: int) -> int:
        """An integer in [low, high]."""

    def choice(self, options: Sequence[T]) -> T:
        """One of ``options``."""

    def weighted(self, options: Sequence[T], cumulative: Sequence[int]) -> T:
        """One of ``options``, weighted; ``cumulative`` are the running totals of the integer weights."""

    def chance(self, probability: float) -> bool:
        """True with the given probability."""

    def uuid(self, version: int = 4) -> str:
        """A new UUID string, never one this source gave before."""

    def fuzz_text(self) -> str | None:
        """Arbitrary text for edge mode, or None to let the caller pick from its curated pools."""

    def catalogue(self) -> Source:
        """The source for a project's catalogue (venues, coupons, segments, webhooks)."""


def cumulative(weights: Sequence[int]) -> list[int]:
    return list(accumulate(weights))


def _uuid_from_int(value: int, version: int) -> str:
    # uuid.UUID(version=) refuses 6 on Python 3.11; TRIFFT's address ids are v6-style, so set the bits by hand.
    value &= (1 << 128) - 1
    value = (value & ~(0xC000 << 48)) | (0x8000 << 48)
    value = (value & ~(0xF000 << 64)) | (version << 76)
    return str(uuid.UUID(int=value))


class RandomSource:
    """A seeded ``random.Random``: the same seed gives the same story, byte for byte."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)
        self._randint = self._random.randint
        self._rand = self._random.random
        self._bits = self._random.getrandbits

    def integer(self, low: int, high: int) -> int:
        return self._randint(low, high)

    def choice(self, options: Sequence[T]) -> T:
        return options[int(self._rand() * len(options))]

    def weighted(self, options: Sequence[T], cumulative: Sequence[int]) -> T:
        return options[bisect_right(cumulative, self._rand() * cumulative[-1])]

    def chance(self, probability: float) -> bool:
        return self._rand() < probability

    def uuid(self, version: int = 4) -> str:
        # 122 random bits: a collision in a generated stream is not a practical concern.
        return _uuid_from_int(self._bits(128), version)

    def fuzz_text(self) -> str | None:
        return None

    def catalogue(self) -> Source:
        return self


@lru_cache(maxsize=4096)
def _integers(low: int, high: int) -> st.SearchStrategy[int]:
    # Built once per range: a fresh st.integers() per draw cost a fifth of every example's time.
    return st.integers(low, high)


class DrawSource:
    """Hypothesis draws: the story engine becomes a strategy that shrinks."""

    _text = st.text(max_size=40)

    def __init__(self, draw: Callable[[st.SearchStrategy[Any]], Any]) -> None:
        self._draw = draw
        self._next_id = 0

    def integer(self, low: int, high: int) -> int:
        value: int = self._draw(_integers(low, high))
        return value

    def choice(self, options: Sequence[T]) -> T:
        return options[self.integer(0, len(options) - 1)]

    def weighted(self, options: Sequence[T], cumulative: Sequence[int]) -> T:
        return options[bisect_right(cumulative, self.integer(0, cumulative[-1] - 1))]

    def chance(self, probability: float) -> bool:
        if probability <= 0:
            return False
        return self.integer(0, 9999) >= 10000 - round(probability * 10000)

    def uuid(self, version: int = 4) -> str:
        # Ids need uniqueness, not variety: counting keeps shrunk examples free of accidental collisions.
        self._next_id += 1
        return _uuid_from_int(0x1F0E_0000_0000_0000_0000_0000_0000_0000 + self._next_id, version)

    def fuzz_text(self) -> str | None:
        if not self.chance(0.5):
            return None
        text: str = self._draw(self._text)
        return text

    def catalogue(self) -> Source:
        # A project's catalogue is a few hundred choices that rarely matter to a failure; drawn one by one they
        # made every shrink take minutes. One seed is one choice, and it shrinks to seed 0's catalogue.
        return RandomSource(self.integer(0, 2**32 - 1))
