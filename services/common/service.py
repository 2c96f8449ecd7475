"""What a service declares: its schema, its consumers and their handlers, its workers.

A handler takes a batch: an open connection (the transaction its effects commit in, with
the inbox claim and the outbox) and the batch's new events, typed; it returns what each
event emits, in order. `per_event` adapts a function of one event for consumers that gain
nothing from batching.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg

from contracts.envelope import CloudEvent
from contracts.topics import Topic
from services.common import tracing

if TYPE_CHECKING:
    from services.common.retry import Retrier
    from services.common.workers import WorkerContext


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message a handler emits; written to the outbox in the handler's transaction."""

    topic: Topic
    key: str | None
    event: CloudEvent[Any]


Emitted = Sequence[Outgoing]
Handler = Callable[[asyncpg.Connection, list[CloudEvent[Any]]], Awaitable[list[Emitted]]]
EventHandler = Callable[[asyncpg.Connection, CloudEvent[Any]], Awaitable[Emitted]]
Worker = Callable[["WorkerContext"], Awaitable[None]]
# Runs before a batch's transaction, outside it, to fetch what the handler needs from a remote
# service (no transaction stays open while it answers); returns the batch's handler.
Prefetch = Callable[[asyncpg.Pool, "Retrier", list[CloudEvent[Any]]], Awaitable[Handler]]


# What a handler asked to run once its transaction commits; None outside a pipeline.
_after_commit: ContextVar[list[Callable[[], None]] | None] = ContextVar(
    "after_commit", default=None
)


def after_commit(count: Callable[[], None]) -> None:
    """Run `count` once the handler's transaction has committed: a retried or split
    transaction must not count its metrics twice. Outside a pipeline, at once."""
    pending = _after_commit.get()
    if pending is None:
        count()
    else:
        pending.append(count)


@contextlib.contextmanager
def deferring_counts() -> Iterator[list[Callable[[], None]]]:
    """Within it, `after_commit` collects into the list it yields; the pipeline runs them
    once the transaction has committed, and drops them if it failed."""
    pending: list[Callable[[], None]] = []
    token = _after_commit.set(pending)
    try:
        yield pending
    finally:
        _after_commit.reset(token)


class Held(Exception):
    """Raised by `prefetch` when the batch cannot be handled yet: nothing is applied, the
    consumer rewinds and the batch comes again (lag grows; nothing is lost)."""


def per_event(handle: EventHandler) -> Handler:
    """A batch handler that applies `handle` to each event in turn, in the same transaction."""

    async def handle_batch(
        conn: asyncpg.Connection, events: list[CloudEvent[Any]]
    ) -> list[Emitted]:
        if not tracing.enabled():
            return [await handle(conn, event) for event in events]
        emitted: list[Emitted] = []
        for event in events:
            # What the handler queues (a notification, a termination) stores this context.
            with tracing.event_scope(event):
                emitted.append(await handle(conn, event))
        return emitted

    handle_batch.__name__ = handle.__name__
    handle_batch.__qualname__ = handle.__qualname__
    return handle_batch


def by_data_type(handlers: dict[type, EventHandler], *, otherwise: Emitted = ()) -> EventHandler:
    """One event handler that dispatches on the type of the event's data; events of other
    types are no concern of this consumer and emit `otherwise` (nothing)."""

    async def dispatch(conn: asyncpg.Connection, event: CloudEvent[Any]) -> Emitted:
        handle = handlers.get(type(event.data))
        return otherwise if handle is None else await handle(conn, event)

    return dispatch


def projecting(
    write: Callable[[asyncpg.Connection, Any, datetime], Awaitable[object]],
) -> EventHandler:
    """An event handler that writes the event's data into a projection, as of the event's
    time, and emits nothing."""

    async def project(conn: asyncpg.Connection, event: CloudEvent[Any]) -> Emitted:
        await write(conn, event.data, event.time)
        return ()

    return project


def projecting_with_id(
    write: Callable[[asyncpg.Connection, Any, datetime, str], Awaitable[object]],
) -> EventHandler:
    """`projecting`, also passing the event's id: for projections that say which event set
    each fact (por-validator's registry, read by explanations)."""

    async def project(conn: asyncpg.Connection, event: CloudEvent[Any]) -> Emitted:
        await write(conn, event.data, event.time, event.id)
        return ()

    return project


@dataclass(frozen=True)
class Consumer:
    # Names the consumer group (porgate.SERVICE.NAME): each consumer commits its own offsets.
    name: str
    topics: tuple[Topic, ...]
    handle: Handler
    description: str = ""
    prefetch: Prefetch | None = None


@dataclass(frozen=True)
class Service:
    """A service: its schema and migrations, its consumers, its background workers."""

    name: str
    schema: str
    migrations: Path
    consumers: tuple[Consumer, ...]
    # Topics it publishes to, declared for the AsyncAPI document.
    publishes: tuple[Topic, ...] = ()
    # Long-running loops (delivery, termination), each given the started service's context.
    workers: tuple[Worker, ...] = ()
    pool_size: int = 5
    # What /healthz reports as degraded (name -> reason), while the service still runs.
    degraded: Callable[[], dict[str, str]] = dict
    # Called once when the service stops: clients it holds.
    closing: tuple[Callable[[], Awaitable[None]], ...] = ()
