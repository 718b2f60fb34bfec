"""The sync core: TRIFFT member events in, Klaviyo API calls out, as TRIFFT's standard integration does.

``mapping`` is pure (``map_event``); ``delivery.Syncer`` sends what it maps, per member in order, through the
durable ``outbox``, the client-side ``limiter`` and shared ``bulk`` jobs; ``source`` reads saved events
(``read_events``, ``load_events``); a run's ``Summary`` tells what it did; ``trifft-klaviyo sync`` runs it.
"""

from __future__ import annotations

from .mapping import Mapped, Subscription, Webhook, map_event, profile_attributes
from .outbox import DeadLetter
from .source import load_events, read_events
from .summary import Summary

__all__ = [
    "DeadLetter",
    "Mapped",
    "Subscription",
    "Summary",
    "Webhook",
    "load_events",
    "map_event",
    "profile_attributes",
    "read_events",
]
