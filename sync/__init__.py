"""The sync core: TRIFFT member events in, Klaviyo API calls out, as TRIFFT's standard integration does.

Built so far: the pure mapping (``map_event``). Delivery (ordering, retries, rate limits, the durable outbox)
and the ``trifft-klaviyo sync`` command are issue 4's remaining work.
"""

from __future__ import annotations

from .mapping import Mapped, Subscription, map_event, profile_attributes

__all__ = ["Mapped", "Subscription", "map_event", "profile_attributes"]
