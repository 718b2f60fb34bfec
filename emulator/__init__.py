"""The fake Klaviyo (the API that TRIFFT's integration calls) and, in ``emulator.trifft``, a fake TRIFFT."""

from __future__ import annotations

__all__: list[str] = []
