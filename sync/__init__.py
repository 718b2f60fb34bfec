"""The sync core: TRIFFT member events in, Klaviyo API calls out, as TRIFFT's standard integration does.

``mapping`` is pure (``map_event``); ``delivery.Syncer`` sends what it maps, per member in order, through the
durable ``outbox``, the client-side ``limiter`` and shared ``bulk`` jobs; ``trifft-klaviyo sync`` runs it.
"""

from __future__ import annotations

from .mapping import Mapped, Subscription, map_event, profile_attributes

__all__ = ["Mapped", "Subscription", "map_event", "profile_attributes"]
