"""How a sync run is told: the counts, a line per dead letter, and what is left pending."""

from __future__ import annotations

from sync import DeadLetter, Summary


def test_a_clean_run_is_one_line_of_counts() -> None:
    summary = Summary(
        received=3, events_sent=2, refreshes=1, bulk_jobs=1, skipped=1, requests=1, seconds=0.04
    )

    assert summary.ok
    assert summary.lines(bad_lines=2) == [
        "3 events read, 2 bad lines skipped, 0 already in the outbox; 2 Klaviyo events sent (1 bulk jobs), "
        "1 profile refreshes, 0 custom webhooks, 0 subscription changes, 1 system-segment events ignored; "
        "0 retries, 0 throttled waits, 1 requests in 0.0s"
    ]


def test_dead_letters_and_pending_events_follow_the_counts() -> None:
    dead = DeadLetter("e1", "m1", "custom_webhook", "400 invalid: Invalid email address", None, None, {})
    summary = Summary(received=2, dead=[dead], pending=1, stopped="POST /api/events: Klaviyo still failing")

    assert not summary.ok
    assert summary.lines()[1:] == [
        "dead letter: event e1 (custom_webhook, member m1): 400 invalid: Invalid email address",
        "1 events still pending (POST /api/events: Klaviyo still failing); run again to resume",
    ]
    assert (
        Summary(pending=4).lines()[-1] == "4 events still pending (Klaviyo kept failing); run again to resume"
    )
