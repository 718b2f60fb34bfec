"""``python -m emulator.cli``: the same as the ``trifft-klaviyo`` console script."""

from __future__ import annotations

import sys

from . import main

sys.exit(main())
