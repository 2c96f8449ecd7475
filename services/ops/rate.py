"""The rate limit of the on-call tools' sends (`--rate`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any


class TokenBucket:
    """At most `rate` messages a second on average, bursts of at most `burst`.

    Reservations may drive the bucket negative: each caller then waits its own share of
    the debt, so concurrent callers are spaced correctly without a lock.
    """

    def __init__(
        self, rate: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        # A tenth of a second's worth by default: smooth, yet coarse enough that sleep
        # overshoot does not eat into the rate.
        self.capacity = burst if burst is not None else max(1.0, rate / 10)
        self.clock = clock
        self.tokens = self.capacity
        self.updated = clock()

    def reserve(self, n: float = 1) -> float:
        """Take `n` tokens now; return the seconds to wait before using them (0: go)."""
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        self.tokens -= n
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    async def acquire(
        self, n: float = 1, sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep
    ) -> None:
        wait = self.reserve(n)
        if wait > 0:
            await sleep(wait)


async def _no_limit() -> None:
    return None


def limiter(rate: float | None) -> Callable[[], Awaitable[None]]:
    """Waits for the next message's turn under `rate` per second; no limit when None."""
    return TokenBucket(rate).acquire if rate else _no_limit
