"""What every subcommand shares: one-line errors with the documented exit codes, and where Klaviyo is."""

from __future__ import annotations

import argparse
import os
import sys

#: Exit codes, as ``--help`` and the README give them.
OK, FAILED, USAGE, UNREACHABLE = 0, 1, 2, 3


def fail(command: str, message: str, code: int = USAGE) -> int:
    """Say what is wrong in one line on standard error; the exit code (2, usage or input, unless told)."""
    print(f"trifft-klaviyo {command}: error: {message}", file=sys.stderr)
    return code


def target(args: argparse.Namespace) -> tuple[str, str | None]:
    """Base URL and API key: the flags, else $KLAVIYO_BASE_URL and $KLAVIYO_API_KEY; the emulator by default."""
    base_url = args.base_url or os.environ.get("KLAVIYO_BASE_URL") or "http://127.0.0.1:8525"
    return base_url, args.api_key or os.environ.get("KLAVIYO_API_KEY")
