"""What each distributor's calls share: a concurrency limit, Retry-After, a circuit breaker.

Microsoft throttles per partner tenant, so a 429 to one call holds back every call of that
distributor until `Retry-After` has passed, and never those of another distributor.
"""

from __future__ import annotations

import asyncio
import random
import time

from services.partner_center.breaker import CircuitBreaker
from services.partner_center.errors import Throttled


class DistributorGuard:
    def __init__(self, distributor_id: str, concurrency: int, breaker: CircuitBreaker) -> None:
        self.distributor_id = distributor_id
        self.slots = asyncio.Semaphore(concurrency)
        self.breaker = breaker
        self.not_before = 0.0  # monotonic time before which no call may go

    def throttled_for(self, seconds: float) -> None:
        self.not_before = max(self.not_before, time.monotonic() + seconds)

    async def wait_out_throttle(self, deadline: float) -> None:
        """Sleep until Retry-After has passed; raise Throttled if that is later than `deadline`."""
        while (left := self.not_before - time.monotonic()) > 0:
            if self.not_before > deadline:
                raise Throttled(
                    self.distributor_id,
                    f"Partner Center throttles this distributor for {left:.1f} s more, longer "
                    "than the call may wait (PORGATE_PARTNER_CENTER_MAX_THROTTLE_WAIT_S)",
                    retry_after_s=left,
                )
            # A little jitter, so that the calls one 429 held back do not all go at once.
            await asyncio.sleep(left + random.uniform(0, min(0.1, left / 10)))
