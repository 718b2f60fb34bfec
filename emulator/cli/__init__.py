"""``trifft-klaviyo``: one command, its subcommands dispatched by a table. Errors are one line naming what is
wrong, never a traceback; exit codes 0 ok, 1 violations or dead letters, 2 usage or input, 3 unreachable.

- ``_parser``: the grammar (subcommands, flags, types).
- ``_deliver``: generate, sync, replay, demo. ``_serve``: emulator, proxy. ``_judge``: verify, shrink, compare.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import cast

from ._parser import parser as _parser

__all__ = ["main"]

#: Each subcommand's module, imported when it runs: the emulator starts without the sync's HTTP client, and
#: the sync without the emulator's web stack.
_COMMANDS = {
    "generate": "_deliver",
    "demo": "_deliver",
    "emulator": "_serve",
    "sync": "_deliver",
    "verify": "_judge",
    "replay": "_deliver",
    "shrink": "_judge",
    "proxy": "_serve",
    "compare": "_judge",
}


def _command(name: str) -> Callable[[argparse.Namespace], int]:
    module = importlib.import_module(f"{__name__}.{_COMMANDS[name]}")
    return cast(Callable[[argparse.Namespace], int], getattr(module, name))


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
    return _command(args.command)(args)
