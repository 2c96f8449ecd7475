"""What a service declares: its schema, its consumers and their handlers, its unit of work,
its workers. The words a handler uses (Outgoing, Emitted, Held, after_commit) are in
handling.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg

from contracts.envelope import CloudEvent
from contracts.topics import Topic
from services.common.handling import Emitted, Handler, Outgoing
from services.common.unit_of_work import PostgresUnitOfWork, UnitOfWork

if TYPE_CHECKING:
    from services.common.retry import Retrier
    from services.common.workers import WorkerContext

__all__ = ["Consumer", "Emitted", "Outgoing", "Prefetch", "Service", "Worker"]

Worker = Callable[["WorkerContext"], Awaitable[None]]
# Runs before a batch's transaction, outside it, to fetch what the handler needs from a remote
# service (no transaction stays open while it answers); returns the batch's handler.
Prefetch = Callable[[asyncpg.Pool, "Retrier", list[CloudEvent[Any]]], Awaitable[Handler]]


@dataclass(frozen=True)
class Consumer:
    # Names the consumer group (porgate.SERVICE.NAME): each consumer commits its own offsets.
    name: str
    topics: tuple[Topic, ...]
    handle: Handler
    description: str = ""
    prefetch: Prefetch | None = None
    # True when the handler's only effect is the messages it emits, each with an id derived
    # from its event's and the same whenever the event comes again. Such a batch needs no
    # transaction: no inbox (the consumers downstream dedupe by those ids), no outbox (the
    # messages go straight to the broker and the offsets are committed once it has them).
    # The handler is given None for its unit of work.
    messages_only: bool = False


@dataclass(frozen=True)
class Service:
    """A service: its schema and migrations, its consumers, its background workers."""

    name: str
    schema: str
    migrations: Path
    consumers: tuple[Consumer, ...]
    # Topics it publishes to, declared for the AsyncAPI document.
    publishes: tuple[Topic, ...] = ()
    # The unit of work its handlers get, on the connection of the batch's transaction.
    unit_of_work: Callable[[asyncpg.Connection], UnitOfWork] = PostgresUnitOfWork
    # Long-running loops (delivery, termination), each given the started service's context.
    workers: tuple[Worker, ...] = ()
    pool_size: int = 5
    # What /healthz reports as degraded (name -> reason), while the service still runs.
    degraded: Callable[[], dict[str, str]] = dict
    # Called once when the service stops: clients it holds.
    closing: tuple[Callable[[], Awaitable[None]], ...] = ()

    @property
    def consumes_without_database(self) -> bool:
        """Its consumers keep working through a database outage: each emits messages only,
        with no prefetch, and no worker needs the database. Only its start-up (the outbox
        a crash left) and housekeeping do."""
        return not self.workers and all(
            c.messages_only and c.prefetch is None for c in self.consumers
        )
