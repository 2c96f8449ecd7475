"""Bookkeeping off the critical path: items handed over batch by batch, flushed in bulk.

Deleting sent outbox rows and committing Kafka offsets must happen, but no message waits
for either, and each flush costs a round trip (and, for the delete, a WAL flush) that is
better paid once for everything that piled up than once per batch. One flush runs at a
time, at most one per `every_s` under a steady stream; whatever arrives meanwhile goes in
the next. The first item after a quiet spell is flushed at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

# Offsets and outbox deletes under a steady stream. Longer means fewer requests to the broker
# and the database, and more records redelivered (inbox no-ops) or resent after a crash.
BOOKKEEPING_EVERY_S = 0.2


class Coalescing(Generic[T]):
    """Items to flush, and the one task that flushes them. A failed flush is logged and its
    items dropped: the caller's flush retries what is worth retrying, and what is left
    (offsets not committed, sent rows not deleted) only means a redelivery or a resend."""

    def __init__(
        self, name: str, flush: Callable[[list[T]], Awaitable[None]], every_s: float = 0.0
    ) -> None:
        self.name = name
        self.every_s = every_s
        self._flush = flush
        self._pending: list[T] = []
        self._task: asyncio.Task[None] | None = None
        # Set while anyone waits in drain(): flush without waiting out the interval.
        self._hurry = asyncio.Event()
        self._draining = 0

    def add(self, items: Iterable[T]) -> None:
        self._pending.extend(items)
        if self._pending and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            items, self._pending = self._pending, []
            started = loop.time()
            try:
                await self._flush(items)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s failed", self.name)
            rest = self.every_s - (loop.time() - started)
            if rest > 0 and not self._hurry.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._hurry.wait(), rest)

    async def drain(self) -> None:
        """Flush now, without waiting out the interval, until nothing is pending."""
        self._draining += 1
        self._hurry.set()
        try:
            while self._task is not None and not self._task.done():
                await asyncio.wait({self._task})
        finally:
            self._draining -= 1
            if not self._draining:
                self._hurry.clear()

    def cancel(self) -> asyncio.Task[None] | None:
        if self._task is None or self._task.done():
            return None
        self._task.cancel()
        return self._task
