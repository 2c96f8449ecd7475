"""The per-key token bucket: a second's worth of burst, then the rate, and an honest Retry-After."""

from __future__ import annotations

import pytest

from services.common.rate_limit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_of_one_seconds_worth_passes_then_the_key_waits():
    clock = Clock()
    limiter = RateLimiter(5, clock)
    assert [limiter.retry_after("k") for _ in range(5)] == [None] * 5
    assert limiter.retry_after("k") == 1
    clock.now += 0.2  # one token back at 5 a second
    assert limiter.retry_after("k") is None
    assert limiter.retry_after("k") == 1


def test_keys_have_their_own_buckets():
    limiter = RateLimiter(1, Clock())
    assert limiter.retry_after("a") is None
    assert limiter.retry_after("a") == 1
    assert limiter.retry_after("b") is None


@pytest.mark.parametrize(("rate", "expected"), [(0.5, 2), (0.1, 10), (0.25, 4)])
def test_retry_after_is_the_whole_seconds_until_the_next_token(rate, expected):
    clock = Clock()
    limiter = RateLimiter(rate, clock)
    assert limiter.retry_after("k") is None
    assert limiter.retry_after("k") == expected
    clock.now += expected
    assert limiter.retry_after("k") is None


def test_an_idle_key_saves_no_more_than_one_burst():
    clock = Clock()
    limiter = RateLimiter(3, clock)
    clock.now += 3600
    assert [limiter.retry_after("k") for _ in range(4)] == [None, None, None, 1]


def test_zero_turns_the_limit_off():
    limiter = RateLimiter(0, Clock())
    assert all(limiter.retry_after("k") is None for _ in range(10_000))
