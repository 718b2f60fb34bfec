"""A producer for shrink's tests: the reference mapping, sent one Create Event at a time, that forgets the
profile refresh for the kinds named in ``--forget``: always, or with ``--alternate COUNTER_FILE`` only on every
other run (a flaky producer, deterministically).

    python tests/producers/careless.py --forget language_changed,favorite_venue_changed EVENTS.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import httpx

from contracts import KLAVIYO_REVISION
from sync import map_event


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--forget", default="")
    parser.add_argument("--alternate", metavar="COUNTER_FILE")
    parser.add_argument("file")
    args = parser.parse_args()
    forget = set(args.forget.split(","))
    if args.alternate:
        counter = Path(args.alternate)
        runs = int(counter.read_text()) if counter.exists() else 0
        counter.write_text(str(runs + 1))
        forget = forget if runs % 2 == 0 else set()
    headers = {
        "Authorization": f"Klaviyo-API-Key {os.environ['KLAVIYO_API_KEY']}",
        "revision": KLAVIYO_REVISION,
        "Content-Type": "application/vnd.api+json",
    }
    with (
        open(args.file, encoding="utf-8") as lines,
        httpx.Client(base_url=os.environ["KLAVIYO_BASE_URL"], headers=headers) as klaviyo,
    ):
        for line in lines:
            event = json.loads(line)
            mapped = map_event(event)
            if mapped.skipped or mapped.problems:
                continue
            if mapped.webhook is not None:
                klaviyo.post(mapped.webhook.path, json=mapped.webhook.body)
                continue
            body = mapped.event_body()
            if event["kind"] in forget:
                profile = body["data"]["attributes"]["profile"]["data"]
                profile["attributes"] = {"external_id": mapped.member_id}
            klaviyo.post("/api/events", json=body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
