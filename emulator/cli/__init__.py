"""``trifft-klaviyo``: one command, its subcommands dispatched by a table. Errors are one line naming what is
wrong, never a traceback; exit codes 0 ok, 1 violations or dead letters, 2 usage or input, 3 unreachable.

- ``_parser``: the grammar (subcommands, flags, types).
- ``_deliver``: generate, sync, replay, demo. ``_serve``: emulator, proxy. ``_judge``: verify, shrink, compare.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from ._deliver import demo, generate, replay, sync
from ._judge import compare, shrink, verify
from ._parser import parser as _parser
from ._serve import emulator, proxy

__all__ = ["main"]

_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "generate": generate,
    "demo": demo,
    "emulator": emulator,
    "sync": sync,
    "verify": verify,
    "replay": replay,
    "shrink": shrink,
    "proxy": proxy,
    "compare": compare,
}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:  # `trifft-klaviyo ... | head` is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _main(argv: Sequence[str] | None = None) -> int:
    grammar = _parser()
    if not (sys.argv[1:] if argv is None else argv):
        grammar.print_help(sys.stderr)  # a bare command gets the whole map, not just "arguments are required"
        return 2
    args = grammar.parse_args(argv)
    return _COMMANDS[args.command](args)
