"""Pure: a token bucket per API key, so one caller cannot take the API (or the console's
re-check) from the others.

In process memory: with N replicas a key may make up to N times the rate in all. Only keys
that authenticated get a bucket, so the table is bounded by the configured keys."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, rate_per_s: float, clock: Callable[[], float]) -> None:
        # Burst of one second's worth: a caller batching its requests is not punished for it.
        self.rate = rate_per_s
        self.capacity = max(1.0, rate_per_s)
        self.clock = clock
        self._buckets: dict[object, _Bucket] = {}

    def retry_after(self, key: object) -> int | None:
        """None when `key` may go ahead (a token is taken), else whole seconds to wait (≥ 1)."""
        if self.rate <= 0:
            return None
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - bucket.tokens) / self.rate))
