"""Transient failures: which they are, and retrying them with capped backoff until stopped."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

import asyncpg
from aiokafka.errors import KafkaError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_never

from services.common import metrics

log = logging.getLogger(__name__)
T = TypeVar("T")


def backoff_s(failures: int, initial_s: float, max_s: float, *, jitter: bool = False) -> float:
    """The delay after `failures` failed attempts: `initial_s` after the first, doubling
    with each one after it, capped at `max_s`; with `jitter`, a uniform draw below that
    ("full jitter"), so that callers failing together do not come back together."""
    delay = min(max_s, initial_s * 2 ** max(0, failures - 1))
    return random.uniform(0, delay) if jitter else delay


class Stopping(Exception):
    """The process is shutting down: abandon the work uncommitted; it will be redelivered."""


def is_transient(exc: BaseException) -> bool:
    """A failure that may pass by itself: a server unreachable, a conflict between transactions."""
    if isinstance(exc, KafkaError):
        # MessageSizeTooLargeError and the like will fail the same way forever.
        return bool(getattr(exc, "retriable", False))
    return isinstance(
        exc,
        (
            OSError,
            TimeoutError,
            asyncpg.PostgresConnectionError,
            asyncpg.InterfaceError,
            asyncpg.CannotConnectNowError,
            asyncpg.TooManyConnectionsError,
            asyncpg.OperatorInterventionError,  # admin shutdown, crash recovery
            asyncpg.SerializationError,
            asyncpg.DeadlockDetectedError,
        ),
    )


@dataclass
class Retrier:
    """Retries one service's transient failures; shutdown (`stopping`) cuts every wait short."""

    service: str
    initial_s: float
    max_s: float
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, operation: str, fn: Callable[[], Awaitable[T]]) -> T:
        """Run `fn` until it succeeds, backing off on transient failures; give up only on stop."""

        def before_sleep(state) -> None:
            metrics.RETRIES.labels(self.service, operation).inc()
            exc = state.outcome.exception()
            log.warning(
                "transient failure, retrying",
                extra={
                    "service": self.service,
                    "operation": operation,
                    "attempt": state.attempt_number,
                    "error": f"{type(exc).__name__}: {exc}",
                },
            )

        async for attempt in AsyncRetrying(
            retry=retry_if_exception(lambda e: is_transient(e) and not self.stopping.is_set()),
            wait=self._wait,
            stop=stop_never,
            before_sleep=before_sleep,
            sleep=self.sleep,
            reraise=True,
        ):
            with attempt:
                return await fn()
        raise AssertionError("unreachable: stop_never")

    def _wait(self, state: RetryCallState) -> float:
        return backoff_s(state.attempt_number, self.initial_s, self.max_s, jitter=True)

    async def sleep(self, seconds: float) -> None:
        """Sleep, or raise Stopping as soon as shutdown begins: SIGTERM never waits out a backoff."""
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)
        except TimeoutError:
            return
        raise Stopping()

    async def sleep_unless_stopping(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True if it slept them all, False once shutdown begins."""
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)
        except TimeoutError:
            return True
        return False


def retry_after_s(value: str | None) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date), or None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
