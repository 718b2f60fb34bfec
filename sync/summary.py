"""What a sync run did, counted, and how ``trifft-klaviyo sync`` tells it."""

from __future__ import annotations

from dataclasses import dataclass, field

from .outbox import DeadLetter


@dataclass
class Summary:
    """What a run did; ``ok`` is False when anything was dead-lettered or left pending."""

    received: int = 0
    duplicates: int = 0
    events_sent: int = 0
    refreshes: int = 0
    bulk_jobs: int = 0
    webhooks_sent: int = 0
    subscriptions: int = 0
    skipped: int = 0
    retries: int = 0
    throttled_waits: int = 0
    requests: int = 0
    dead: list[DeadLetter] = field(default_factory=list)
    pending: int = 0
    stopped: str | None = None  # why the run stopped early (Klaviyo unavailable, the key refused)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.dead and not self.pending

    def lines(self, bad_lines: int = 0) -> list[str]:
        """The run told in lines: the counts, then each dead letter, then what is still pending.

        ``bad_lines`` is how many input lines were skipped before the run (they never reach the outbox).
        """
        told = [
            f"{self.received} events read, {bad_lines} bad lines skipped, {self.duplicates} already in the "
            f"outbox; {self.events_sent} Klaviyo events sent ({self.bulk_jobs} bulk jobs), {self.refreshes} "
            f"profile refreshes, {self.webhooks_sent} custom webhooks, {self.subscriptions} subscription "
            f"changes, {self.skipped} system-segment events ignored; {self.retries} retries, "
            f"{self.throttled_waits} throttled waits, {self.requests} requests in {self.seconds:.1f}s"
        ]
        told += [
            f"dead letter: event {dead.event_id} ({dead.kind}, member {dead.member_id}): {dead.reason}"
            for dead in self.dead
        ]
        if self.pending:
            why = self.stopped or "Klaviyo kept failing"
            told.append(f"{self.pending} events still pending ({why}); run again to resume")
        return told
