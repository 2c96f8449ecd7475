"""What a webhook's answer means, and what the deliverer does next: pure, no I/O.

The Standard Webhooks convention gives the statuses their meaning: 2xx delivered; 410 Gone
disables the endpoint; 429, 502 and 504 ask the sender to slow down (honouring Retry-After).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

GONE = 410
# Statuses that say "slow down" rather than "this delivery failed": the whole endpoint
# waits, not just the one notification, or the others would keep hammering it.
SLOW_DOWN = frozenset({429, 502, 504})


@dataclass(frozen=True, slots=True)
class Outcome:
    delivered: bool = False
    retryable: bool = False
    gone: bool = False
    slow_down: bool = False
    retry_after_s: float | None = None
    error: str = ""


def delivery_outcome(status: int, text: str = "", retry_after_s: float | None = None) -> Outcome:
    if 200 <= status < 300:
        return Outcome(delivered=True)
    error = f"HTTP {status}" + (f": {text[:200]}" if text else "")
    if status == GONE:
        return Outcome(gone=True, error=error)
    # 408 and 429 say "later"; 5xx is the receiver's trouble. Any other status will not change by retrying.
    return Outcome(
        retryable=status in (408, 429) or status >= 500,
        slow_down=status in SLOW_DOWN,
        retry_after_s=retry_after_s,
        error=error,
    )


class Action(Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"
    # The endpoint is gone: disable it and put the delivery back, its attempt not counted.
    DISABLE = "disable"


@dataclass(frozen=True, slots=True)
class Step:
    action: Action
    delay_s: float = 0.0
    # Also hold back every other delivery to the endpoint for delay_s.
    pause_endpoint: bool = False


def next_step(
    outcome: Outcome,
    attempts: int,
    *,
    max_attempts: int,
    backoff_s: float,
    retry_after_max_s: float,
) -> Step:
    """`attempts` includes this one; `backoff_s` is the usual delay after that many attempts.

    A Retry-After only ever lengthens the wait: a receiver cannot make porgate use up a
    delivery's attempts faster than the backoff would, and a throttled attempt counts like
    any other, so a receiver that throttles for ever still ends in `failed` for an operator.
    """
    if outcome.delivered:
        return Step(Action.DELIVERED)
    if outcome.gone:
        return Step(Action.DISABLE)
    if not outcome.retryable or attempts >= max_attempts:
        return Step(Action.FAILED)
    delay = backoff_s
    if outcome.retry_after_s is not None:
        delay = max(delay, min(outcome.retry_after_s, retry_after_max_s))
    return Step(Action.RETRY, delay, pause_endpoint=outcome.slow_down)
