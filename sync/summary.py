"""What a sync run did, counted, and how ``trifft-klaviyo sync`` tells it."""

from __future__ import annotations

from dataclasses import dataclass, field

from .outbox import DeadLetter

#: Why a run stopped early, as ``Summary.stop`` names it.
UNREACHABLE, REFUSED, EXHAUSTED, DEADLINE = "unreachable", "refused", "exhausted", "deadline"


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """``1 request``, ``2 requests``: a count with its noun agreeing."""
    return f"{count} {singular if count == 1 else plural or singular + 's'}"


@dataclass
class Summary:
    """What one run did; ``ok`` is False when anything was dead-lettered or left pending.

    The TRIFFT events this run had to deliver are ``new + resumed``; each ended sent (``events_sent`` Klaviyo
    events, ``webhooks_sent``), ignored (``skipped``), dead-lettered (``dead``) or still ``pending``.
    """

    received: int = 0  # valid events handed to the run
    repeated: int = 0  # events whose event_id came earlier in the same input (stored once)
    known: int = 0  # events of the input already in the outbox before this run, whatever became of them
    resumed: int = 0  # events an earlier run left pending, delivered in this one
    events_sent: int = 0
    refreshes: int = 0
    bulk_jobs: int = 0
    webhooks_sent: int = 0
    subscriptions: int = 0
    skipped: int = 0
    retries: int = 0  # attempts used up on a 5xx, a 408 or a request sent and never answered
    throttled_waits: int = 0  # 429s, each waited out
    throttled_seconds: float = 0.0  # summed over the waits, which overlap when members wait side by side
    requests: int = 0  # requests sent (a connection that never opened sent nothing)
    dead: list[DeadLetter] = field(default_factory=list)  # dead-lettered in this run
    pending: int = 0
    stopped: str | None = None  # why the run stopped early, in words
    stop: str | None = None  # UNREACHABLE, REFUSED, EXHAUSTED or DEADLINE
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.dead and not self.pending

    @property
    def new(self) -> int:
        """Events of the input that were not in the outbox before this run."""
        return self.received - self.repeated - self.known

    @property
    def duplicates(self) -> int:
        """Events of the input not added to the outbox: repeats within it, and those already there."""
        return self.repeated + self.known

    def lines(self, bad_lines: int = 0, state: str | None = None, why: bool = True) -> list[str]:
        """The run told in lines: the counts, then each dead letter, then what is still pending.

        ``bad_lines`` is how many input lines were skipped before the run (they never reach the outbox);
        ``state`` is where the outbox is kept (None: in memory, so nothing is left to resume); ``why`` False
        leaves the reason out of the pending line, for a caller that states it as an error of its own.
        """
        read = [
            f"{counted(self.received, 'event')} read",
            f"{counted(bad_lines, 'bad line')} skipped",
            f"{self.known} already in the outbox",
        ]
        if self.repeated:
            read.append(f"{self.repeated} repeated in the input (stored once)")
        if self.resumed:
            read.append(f"{self.resumed} left pending by an earlier run")
        # Waits are counted, not summed into seconds: members wait side by side, and a sum longer than the run
        # would read as a lie.
        throttled = counted(self.throttled_waits, "throttled wait")
        told = [
            ", ".join(read) + "; "
            f"{counted(self.events_sent, 'Klaviyo event')} sent ({counted(self.bulk_jobs, 'bulk job')}), "
            f"{counted(self.refreshes, 'profile refresh', 'profile refreshes')}, "
            f"{counted(self.webhooks_sent, 'custom webhook')}, "
            f"{counted(self.subscriptions, 'subscription change')}, "
            f"{counted(self.skipped, 'system-segment event')} ignored; "
            f"{counted(self.requests, 'request')} in {self.seconds:.1f}s, {throttled}, "
            f"{counted(self.retries, 'retry', 'retries')}, {counted(len(self.dead), 'dead letter')}"
        ]
        told += [
            f"dead letter: event {dead.event_id} ({dead.kind}, member {dead.member_id}): {dead.reason}"
            for dead in self.dead
        ]
        if self.pending:
            reason = f" ({self.stopped or 'Klaviyo kept failing'})" if why else ""
            if state:
                told.append(
                    f"{counted(self.pending, 'event')} still pending{reason}; kept in {state}: run again to resume"
                )
            else:
                told.append(
                    f"{counted(self.pending, 'event')} not delivered{reason}; nothing was kept: "
                    "pass --state FILE to make a run resumable"
                )
        return told
