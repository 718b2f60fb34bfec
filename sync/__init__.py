"""The sync core: TRIFFT member events in, Klaviyo API calls out (not built yet; see issue 4)."""

from __future__ import annotations

__all__: list[str] = []
