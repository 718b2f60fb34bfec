"""Subcommands that serve: the fake Klaviyo, and the proxy in front of the real one."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from ._common import fail

if TYPE_CHECKING:
    import socket

    from emulator.klaviyo import Store


def _open(command: str, args: argparse.Namespace) -> tuple[socket.socket, Store] | int:
    """The listening socket and the store a server needs, or the exit code of a one-line error (a busy port, an
    unknown host, a database that cannot be used): both checked before the banner is printed."""
    from emulator.klaviyo import Store
    from emulator.server import listen

    try:
        listener = listen(args.host, args.port)
    except OSError as exc:
        return fail(command, f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    try:
        store = Store(args.db)
    except Exception as exc:  # sqlite3 errors name the problem; show it as one line
        listener.close()
        return fail(command, f"cannot open database {args.db}: {exc}")
    return listener, store


def emulator(args: argparse.Namespace) -> int:
    import logging

    from emulator.klaviyo import Emulator, Faults
    from emulator.klaviyo.control import label
    from emulator.klaviyo.limits import parse_mode
    from emulator.klaviyo.store import account_id
    from emulator.server import create_app, serve, url_of

    try:
        parse_mode(args.rate_limits)
        faults = Faults.parse(args.faults)
    except ValueError as exc:
        return fail("emulator", str(exc))
    opened = _open("emulator", args)
    if isinstance(opened, int):
        return opened
    listener, store = opened
    emulator = Emulator(
        store=store,
        api_keys=frozenset(args.api_key) if args.api_key else None,
        rate_limits=args.rate_limits,
        faults=faults,
        opt_in=args.opt_in,
    )
    for given in args.label or []:
        key, sep, name = given.partition("=")
        try:
            if not sep or not key:
                raise ValueError(f"--label wants KEY=NAME, not {given!r}")
            store.set_label(account_id(key), label(name))
        except ValueError as exc:
            listener.close()
            store.close()
            return fail("emulator", str(exc))
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    where = url_of(listener)
    print(
        f"fake Klaviyo on {where} (state: {args.db or 'in memory'}, rate limits: {args.rate_limits}"
        f"{', faults: ' + args.faults if args.faults else ''}); dashboard at {where}/, "
        f"control API at {where}/_emulator/health",
        file=sys.stderr,
        flush=True,
    )
    try:
        serve(create_app(emulator), listener)
    finally:
        store.close()
    return 0


def proxy(args: argparse.Namespace) -> int:
    import logging

    from emulator.klaviyo import Emulator, Faults
    from emulator.proxy import DEFAULT_UPSTREAM, Proxy, create_proxy_app
    from emulator.server import serve, url_of

    upstream = (args.upstream or os.environ.get("KLAVIYO_UPSTREAM") or DEFAULT_UPSTREAM).rstrip("/")
    if not upstream.startswith(("http://", "https://")):
        return fail("proxy", f"--upstream must be an http:// or https:// URL, not {upstream!r}")
    try:
        faults = Faults.parse(args.faults)
    except ValueError as exc:
        return fail("proxy", str(exc))
    opened = _open("proxy", args)
    if isinstance(opened, int):
        return opened
    listener, store = opened
    state = Emulator(store=store, rate_limits="off", faults=faults)
    app = create_proxy_app(Proxy(state, upstream, strict=args.strict, annotate=args.annotate))
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    where = url_of(listener)
    checks = "strict: refuses" if args.strict else "annotates" if args.annotate else "records"
    print(
        f"trifft-klaviyo proxy on {where} -> {upstream} (recording: {args.db or 'in memory'}; {checks} "
        f"contract violations{', faults: ' + args.faults if args.faults else ''}); dashboard at {where}/, "
        f"control API at {where}/_emulator/health",
        file=sys.stderr,
        flush=True,
    )
    try:
        serve(app, listener, lifespan="on")
    finally:
        store.close()
    return 0
