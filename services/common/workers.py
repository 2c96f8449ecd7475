"""Background workers: what they are given, and the leased-work loop they share.

A worker (the notifier's webhook deliverer, gdap-revoker's terminator) carries out work its
consumer committed as rows: claim due rows under a lease, call the remote side outside any
transaction, record the outcome, and sleep until the next row comes due or a consumer
commits something new. The lease outlives the call, so a row is never worked twice at
once; after a crash it is worked again once the lease runs out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import asyncpg

from services.common.config import RuntimeSettings
from services.common.dead_letters import DeadLetters
from services.common.kafka import consumer_group
from services.common.outbox import Outbox
from services.common.retry import Retrier, Stopping

log = logging.getLogger(__name__)
T = TypeVar("T")

# Polling as well as waking on commits picks up work another instance's consumer committed.
MAX_POLL_S = 5.0
MIN_POLL_S = 0.05


@dataclass(frozen=True)
class WorkerContext:
    """What a started service gives its workers."""

    service: str
    settings: RuntimeSettings
    pool: asyncpg.Pool
    outbox: Outbox
    retrying: Retrier
    # Set when one of the service's consumers commits a batch.
    wakeup: asyncio.Event
    # For what a worker took over from a consumer and can never process (drain.py).
    dead_letters: DeadLetters

    def group_id(self, consumer: str) -> str:
        """The consumer group of the service's `consumer`, as its dead letters name it."""
        return consumer_group(self.settings.topic_prefix, self.service, consumer)

    @property
    def stopping(self) -> bool:
        return self.retrying.stopping.is_set()

    async def wait_for_work(self, poll_s: float) -> bool:
        """Wait until a consumer committed something, or `poll_s` passed; False once stopping."""
        try:
            await asyncio.wait_for(self.wakeup.wait(), timeout=poll_s)
        except TimeoutError:
            pass
        self.wakeup.clear()
        return not self.stopping


async def run_leased(
    ctx: WorkerContext,
    name: str,
    *,
    claim: Callable[[], Awaitable[Sequence[T]]],
    work: Callable[[T], Awaitable[None]],
    seconds_until_due: Callable[[], Awaitable[float | None]],
) -> None:
    """Claim due items and work them concurrently, until the service stops.

    `work` calls the remote side and records the outcome; a failure it lets escape leaves
    the item's lease to run out, and the item is tried again.
    """
    poll = 0.0
    while await ctx.wait_for_work(poll):
        try:
            poll = await _work_due(ctx, name, claim, work, seconds_until_due)
        except Stopping:
            return
        except Exception:
            # A dead worker would stop every delivery silently; log and carry on.
            log.exception("%s pass failed", name, extra={"service": ctx.service})
            poll = ctx.settings.delivery_retry_max_s


async def _work_due(
    ctx: WorkerContext,
    name: str,
    claim: Callable[[], Awaitable[Sequence[T]]],
    work: Callable[[T], Awaitable[None]],
    seconds_until_due: Callable[[], Awaitable[float | None]],
) -> float:
    """Work every due item; seconds until the next one comes due (capped)."""
    while not ctx.stopping and (items := await ctx.retrying(f"{name}:claim", claim)):
        results = await asyncio.gather(*(work(item) for item in items), return_exceptions=True)
        for result in results:
            if isinstance(result, Stopping):
                raise result
            if isinstance(result, BaseException):
                log.error(
                    "%s: item not settled", name, exc_info=result, extra={"service": ctx.service}
                )
    due = await ctx.retrying(f"{name}:due", seconds_until_due)
    return MAX_POLL_S if due is None else min(MAX_POLL_S, max(MIN_POLL_S, due))
