"""The fake Klaviyo: Klaviyo's API as TRIFFT's integration uses it, from the published spec, on SQLite."""

from __future__ import annotations

from .app import Emulator, create_app
from .faults import Faults
from .store import Store

__all__ = ["Emulator", "Faults", "Store", "create_app"]
