"""The dashboard at ``/``: what the fake Klaviyo received, live, with each member's timeline and verdict.

It sits above both the fake Klaviyo (whose store it reads) and the contracts (whose verifier it runs), and is
mounted beside them where the server is assembled (``emulator.server.create_app``).

- ``_routes``: the page, its assets and its JSON under ``/_emulator/dashboard/``.
- ``_charts``: the charts' JSON: traffic over time (from the store) and rate limits used (from the limiter).
- ``timeline``: one profile's story from the emulator's observations.
- ``static/``: the page (HTML, CSS, vanilla JS; no CDN, works offline).
"""

from __future__ import annotations

from ._routes import routes

__all__ = ["routes"]
