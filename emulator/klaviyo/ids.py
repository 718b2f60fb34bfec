"""Identifiers in Klaviyo's forms: 26-character ULIDs for profiles and jobs, 6-character metric ids."""

from __future__ import annotations

import os
import re
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
#: Every pair of Crockford characters, by the 10 bits they spell: a ULID is 13 look-ups, not 26.
_PAIRS = [first + second for first in _CROCKFORD for second in _CROCKFORD]
_PAIR_SHIFTS = tuple(range(120, -1, -10))
ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


def ulid(now: float | None = None) -> str:
    """A ULID: 48 bits of milliseconds then 80 random bits, Crockford base32, as Klaviyo's profile ids."""
    millis = int((time.time() if now is None else now) * 1000)
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join([_PAIRS[(value >> shift) & 1023] for shift in _PAIR_SHIFTS])  # 130 bits, the top 2 zero


def request_id(now: float) -> str:
    """A request's id in the log: a UUID laid out as version 7 (RFC 9562: 48 bits of milliseconds first, then
    random bits), so ids made in turn sort in turn and the log's id index grows at its end, not everywhere."""
    value = ((int(now * 1000) & _MILLIS) << 80) | int.from_bytes(os.urandom(10), "big")
    value = (value & _CLEAR_VERSION_VARIANT) | _VERSION_7_VARIANT
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_MILLIS = (1 << 48) - 1
_CLEAR_VERSION_VARIANT = ~((0xF << 76) | (0x3 << 62))
_VERSION_7_VARIANT = (0x7 << 76) | (0x2 << 62)


def metric_id() -> str:
    """A 6-character metric id, like Klaviyo's ``TxVpCr``."""
    return "".join(_ALNUM[b % len(_ALNUM)] for b in os.urandom(6))
