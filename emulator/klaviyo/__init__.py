"""The fake Klaviyo: Klaviyo's API as TRIFFT's integration uses it, from the published spec, on SQLite."""

from __future__ import annotations

from .app import create_app
from .faults import Faults
from .state import Emulator
from .store import Store

__all__ = ["Emulator", "Faults", "Store", "create_app"]
