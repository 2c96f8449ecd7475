"""The circuit breaker's states, on a clock the test moves: no I/O, no sleeping."""

from __future__ import annotations

import pytest

from services.common.retry import backoff_s, retry_after_s
from services.partner_center.breaker import BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(threshold: int = 3, cooldown_s: float = 10.0):
    clock, changes = Clock(), []
    return (
        CircuitBreaker(threshold, cooldown_s, clock=clock, on_change=changes.append),
        clock,
        changes,
    )


def test_the_circuit_opens_after_threshold_consecutive_failures_only():
    b, _, changes = breaker()
    b.failed()
    b.failed()
    assert b.state is BreakerState.CLOSED and b.allow()
    b.failed()
    assert b.state is BreakerState.OPEN
    assert changes == [BreakerState.OPEN]


def test_a_success_resets_the_count_of_failures():
    b, _, _ = breaker()
    b.failed()
    b.failed()
    b.succeeded()
    b.failed()
    b.failed()
    assert b.state is BreakerState.CLOSED


def test_an_open_circuit_lets_nothing_through_until_the_cooldown_has_passed():
    b, clock, _ = breaker(threshold=1, cooldown_s=10)
    b.failed()
    clock.now += 9.9
    assert not b.allow()
    assert b.retry_in_s() == pytest.approx(0.1)
    clock.now += 0.1
    assert b.state is BreakerState.HALF_OPEN


def test_half_open_lets_exactly_one_trial_through():
    b, clock, _ = breaker(threshold=1)
    b.failed()
    clock.now += 10
    assert b.allow()
    assert not b.allow()
    assert not b.allow()


def test_a_successful_trial_closes_the_circuit():
    b, clock, changes = breaker(threshold=1)
    b.failed()
    clock.now += 10
    assert b.allow()
    b.succeeded()
    assert b.state is BreakerState.CLOSED and b.allow() and b.allow()
    assert changes == [BreakerState.OPEN, BreakerState.HALF_OPEN, BreakerState.CLOSED]


def test_a_failed_trial_opens_the_circuit_for_a_whole_new_cooldown():
    b, clock, _ = breaker(threshold=3, cooldown_s=10)
    for _ in range(3):
        b.failed()
    clock.now += 10
    assert b.allow()
    b.failed()  # one failure suffices when half-open
    assert b.state is BreakerState.OPEN
    clock.now += 9.9
    assert not b.allow()
    clock.now += 0.1
    assert b.allow()


def test_an_abandoned_trial_frees_the_way_for_another():
    b, clock, _ = breaker(threshold=1)
    b.failed()
    clock.now += 10
    assert b.allow()
    b.abandoned()
    assert b.state is BreakerState.HALF_OPEN
    assert b.allow()


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("3", 3.0), (" 0.5 ", 0.5), ("-4", 0.0), (None, None), ("", None), ("soon", None)],
)
def test_retry_after_is_read_as_seconds(header, seconds):
    assert retry_after_s(header) == seconds


def test_retry_after_as_an_http_date_in_the_past_means_now():
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


@pytest.mark.parametrize("failures", [1, 2, 5, 30])
def test_backoff_is_jittered_below_its_exponential_bound_and_capped(failures):
    bound = min(2.0, 0.1 * 2 ** (failures - 1))
    delays = [backoff_s(failures, 0.1, 2.0, jitter=True) for _ in range(200)]
    assert all(0 <= d <= bound for d in delays)
    assert len(set(delays)) > 1


@pytest.mark.parametrize(("failures", "delay"), [(0, 0.1), (1, 0.1), (2, 0.2), (5, 1.6), (30, 2.0)])
def test_backoff_without_jitter_doubles_from_the_first_failure_up_to_its_cap(failures, delay):
    assert backoff_s(failures, 0.1, 2.0) == pytest.approx(delay)
