"""A circuit breaker per distributor, so that a Partner Center outage is not met with a retry storm.

closed: calls go through; `threshold` consecutive failed attempts open it. open: calls fail
fast, none reaches Partner Center, until `cooldown_s` has passed. half-open: one trial call
goes through; success closes the circuit, failure opens it for another cool-down. Failures
are 5xx answers and timeouts: a 4xx or a 429 proves the service is up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import IntEnum


class BreakerState(IntEnum):
    # The numbers are the metric's values.
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitBreaker:
    """Every attempt `allow()` let through ends in `succeeded()`, `failed()` or `abandoned()`."""

    def __init__(
        self,
        threshold: int,
        cooldown_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[BreakerState], None] = lambda state: None,
    ) -> None:
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self.clock = clock
        self.on_change = on_change
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_in_flight = False

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self.clock() - self._opened_at >= self.cooldown_s:
            self._move(BreakerState.HALF_OPEN)
        return self._state

    def retry_in_s(self) -> float:
        """How long until an open circuit lets a trial call through."""
        if self.state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.cooldown_s - self.clock())

    def allow(self) -> bool:
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._trial_in_flight:
            self._trial_in_flight = True
            return True
        return False

    def succeeded(self) -> None:
        self._failures = 0
        self._trial_in_flight = False
        self._move(BreakerState.CLOSED)

    def failed(self) -> None:
        self._trial_in_flight = False
        self._failures += 1
        if self._state is BreakerState.HALF_OPEN or self._failures >= self.threshold:
            self._opened_at = self.clock()
            self._move(BreakerState.OPEN)

    def abandoned(self) -> None:
        """The attempt ended without telling anything about the service (e.g. cancelled)."""
        self._trial_in_flight = False

    def _move(self, state: BreakerState) -> None:
        if state is not self._state:
            self._state = state
            self.on_change(state)
