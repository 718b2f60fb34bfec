"""Subcommands that judge: verify what arrived, shrink a failing input, compare a recording with another Klaviyo."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from ._common import FAILED, OK, UNREACHABLE, USAGE, fail, target


def verify(args: argparse.Namespace) -> int:
    import httpx

    from contracts.verifier import junit, verify
    from emulator.client import EmulatorClient

    base_url, api_key = target(args)
    if not api_key:
        return fail("verify", "no API key: pass --api-key or set KLAVIYO_API_KEY (the account to judge)")
    client = EmulatorClient(base_url, api_key)
    try:
        key, traffic = client.key(), client.traffic()
    except httpx.TransportError as exc:
        return fail("verify", f"cannot reach {base_url}: {exc}", UNREACHABLE)
    except httpx.HTTPStatusError as exc:
        return fail(
            "verify",
            f"{base_url} answered {exc.response.status_code} for {exc.request.url.path}: is it a trifft-klaviyo "
            "emulator or proxy?",
        )
    report = verify(traffic, require_all_metrics=args.require_all_metrics, allow_empty=args.allow_empty)
    if not key.get("accepted", True):
        print(
            f"FAIL: the emulator at {base_url} refuses the key {key['masked_key']} (it was started with --api-key): "
            "whatever a producer sent with it was answered 403"
        )
    print(report.text())
    try:
        if args.json:
            with open(args.json, "w", encoding="utf-8") as out:
                json.dump(report.to_dict(), out, ensure_ascii=False, indent=2)
        if args.junit:
            junit(report, args.junit)
    except OSError as exc:
        return fail("verify", f"cannot write report: {exc.strerror} ({exc.filename})")
    return OK if report.ok and key.get("accepted", True) else FAILED


def shrink(args: argparse.Namespace) -> int:
    from rich.console import Console

    from contracts.report import RULES
    from emulator.progress import Report
    from emulator.shrink import REFERENCE_SYNC, Shrinker, ShrinkError
    from emulator.trifft import write_jsonl
    from sync.source import input_name, load_events

    if args.rule is not None and args.rule not in RULES:
        return fail("shrink", f"unknown rule {args.rule!r} (rules: {', '.join(RULES)})")
    try:
        events = load_events(args.input)
    except OSError as exc:
        return fail("shrink", f"cannot read {args.input}: {exc.strerror or exc}")
    except ValueError as exc:
        return fail("shrink", str(exc))
    out = args.out or str(Path(args.input).with_suffix("")) + ".shrunk.jsonl"

    if not events:
        return fail("shrink", f"no events in {input_name(args.input)} (empty input): nothing to shrink")
    console = Console(stderr=True, soft_wrap=True)
    producer = args.producer or REFERENCE_SYNC
    shrinker = Shrinker(producer, args.rule, args.max_tries, args.time_limit)

    def counts() -> list[str]:
        return (
            []
            if shrinker.smallest is None
            else [f"smallest failing input so far: {shrinker.smallest} events"]
        )

    try:
        # Tries are counted against --max-tries, a bound rather than a plan: no time left is guessed.
        with Report(console, "shrinking", "tries", counts, eta=False) as report, shrinker:
            report.update(0, args.max_tries)
            shrinker.progress = lambda line: console.print(line, markup=False, highlight=False)
            shrinker.on_try = lambda attempt: report.update(attempt.number, args.max_tries)
            result = shrinker.shrink(events)
    except ShrinkError as exc:
        return fail("shrink", str(exc), exc.code)
    try:
        write_jsonl(result.events, out)
    except OSError as exc:
        return fail("shrink", f"cannot write {out}: {exc.strerror}")
    print(result.summary())
    print(f"wrote {out}; see what arrives: trifft-klaviyo replay {out}")
    return OK


def compare(args: argparse.Namespace) -> int:
    import httpx

    from emulator.compare import compare, load_recording

    base_url = args.base_url or os.environ.get("KLAVIYO_BASE_URL") or "http://127.0.0.1:8525"
    try:
        recording = load_recording(args.recording)
    except OSError as exc:
        return fail("compare", f"cannot read {args.recording}: {exc.strerror}")
    except ValueError as exc:
        return fail("compare", str(exc))
    if not recording:
        return fail(
            "compare", f"{args.recording} holds no exchange: export one with GET /_emulator/export?key=…"
        )
    try:
        result = compare(recording, base_url, args.api_key)
    except httpx.TransportError as exc:
        return fail("compare", f"cannot reach {base_url}: {exc}", UNREACHABLE)
    print(result.table())
    if args.json:
        try:
            with open(args.json, "w", encoding="utf-8") as out:
                json.dump(result.to_dict(), out, ensure_ascii=False, indent=2)
        except OSError as exc:
            return fail("compare", f"cannot write {args.json}: {exc.strerror}")
    return FAILED if result.differences else OK


__all__ = ["USAGE", "compare", "shrink", "verify"]
