"""How a sync run is told: the counts (each noun agreeing with its number), a line per dead letter, what is left."""

from __future__ import annotations

from sync import DeadLetter, Summary
from sync.summary import counted


def test_a_clean_run_is_one_line_of_counts_each_noun_agreeing_with_its_number() -> None:
    summary = Summary(
        received=3, events_sent=2, refreshes=1, bulk_jobs=1, skipped=1, requests=1, seconds=0.04
    )

    assert summary.ok
    assert summary.lines(bad_lines=1) == [
        "3 events read, 1 bad line skipped, 0 already in the outbox; 2 Klaviyo events sent (1 bulk job), "
        "1 profile refresh, 0 custom webhooks, 0 subscription changes, 1 system-segment event ignored; "
        "1 request in 0.0s, 0 throttled waits, 0 retries, 0 dead letters"
    ]


def test_counted_uses_the_singular_for_one_only() -> None:
    assert [counted(n, "request") for n in (0, 1, 2)] == ["0 requests", "1 request", "2 requests"]
    assert counted(1, "retry", "retries") == "1 retry" and counted(3, "retry", "retries") == "3 retries"


def test_what_was_in_the_outbox_before_the_run_and_repeats_are_told_apart() -> None:
    summary = Summary(received=10, repeated=1, known=5, resumed=3, events_sent=7, requests=2)

    assert summary.new == 4 and summary.duplicates == 6
    assert summary.lines()[0].startswith(
        "10 events read, 0 bad lines skipped, 5 already in the outbox, 1 repeated in the input (stored once), "
        "3 left pending by an earlier run; 7 Klaviyo events sent"
    )


def test_throttled_waits_retries_and_dead_letters_are_separate_counts() -> None:
    dead = DeadLetter("e1", "m1", "app_opened", "400 invalid", None, None, {})
    summary = Summary(throttled_waits=2, throttled_seconds=61.0, retries=1, dead=[dead], requests=9)

    assert summary.lines()[0].endswith("9 requests in 0.0s, 2 throttled waits, 1 retry, 1 dead letter")


def test_pending_events_say_where_they_are_kept_and_only_then_to_run_again() -> None:
    dead = DeadLetter("e1", "m1", "custom_webhook", "400 invalid: Invalid email address", None, None, {})
    summary = Summary(received=2, dead=[dead], pending=1, stopped="POST /api/events: Klaviyo still failing")

    assert not summary.ok
    assert summary.lines(state="sync.db")[1:] == [
        "dead letter: event e1 (custom_webhook, member m1): 400 invalid: Invalid email address",
        "1 event still pending (POST /api/events: Klaviyo still failing); kept in sync.db: run again to resume",
    ]
    assert summary.lines()[-1] == (
        "1 event not delivered (POST /api/events: Klaviyo still failing); nothing was kept: pass --state FILE "
        "to make a run resumable"
    )
    assert "run again" not in " ".join(summary.lines())
    assert Summary(pending=4).lines(state="s.db", why=False)[-1] == (
        "4 events still pending; kept in s.db: run again to resume"
    )
