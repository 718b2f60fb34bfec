"""The fake Klaviyo (an emulator of the API TRIFFT's integration uses) and, in ``emulator.trifft``, a fake TRIFFT."""

from __future__ import annotations

__all__: list[str] = []
