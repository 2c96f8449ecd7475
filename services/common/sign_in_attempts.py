"""Pure: how many wrong keys a caller may present before it must wait.

Keys are long and random (config.MIN_KEY_LENGTH), so guessing one is hopeless; this makes it
slow and loud as well, and keeps a client that retries a revoked key from spinning. Each
wrong key counts against the client's address and against the fingerprint of the key it
presented. The first FREE_FAILURES (PORGATE_SIGN_IN_FREE_FAILURES) cost nothing (the count starts afresh after WINDOW_S
without one); each one after locks the address (or the key) out for twice as long as the
last, up to MAX_LOCK_S. While locked out
every attempt, the right key's too, is answered 429 with Retry-After, so that guessing gains
nothing. In process memory, like the API's rate limit: N replicas allow N times as many.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

FREE_FAILURES = 10
WINDOW_S = 15 * 60.0
FIRST_LOCK_S = 1.0
MAX_LOCK_S = 15 * 60.0
# Bounds the table whatever the number of addresses an attacker has: past it, the oldest
# entries (whose window is longest gone) are forgotten first.
MAX_TRACKED = 10_000


@dataclass(slots=True)
class _Failures:
    count: int
    last_at: float
    locked_until: float


class SignInAttempts:
    def __init__(self, clock: Callable[[], float], free_failures: int = FREE_FAILURES) -> None:
        self.clock = clock
        self.free_failures = free_failures
        self._by_subject: dict[object, _Failures] = {}

    def retry_after(self, subjects: Iterable[object]) -> int | None:
        """None when none of these subjects (a client address, a key's fingerprint) is locked
        out, else whole seconds until the last of their locks ends (≥ 1)."""
        now = self.clock()
        until = max(
            (f.locked_until for s in subjects if (f := self._by_subject.get(s)) is not None),
            default=0.0,
        )
        return max(1, math.ceil(until - now)) if until > now else None

    def failed(self, subjects: Iterable[object]) -> None:
        now = self.clock()
        for subject in subjects:
            f = self._by_subject.pop(subject, None)  # re-inserted last: the newest
            if f is None or now - f.last_at > WINDOW_S:
                f = _Failures(0, now, 0.0)
            f.count += 1
            f.last_at = now
            if f.count > self.free_failures:
                doublings = min(f.count - self.free_failures - 1, 30)
                lock = min(MAX_LOCK_S, FIRST_LOCK_S * 2**doublings)
                f.locked_until = now + lock
            self._by_subject[subject] = f
        while len(self._by_subject) > MAX_TRACKED:
            del self._by_subject[next(iter(self._by_subject))]
