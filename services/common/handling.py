"""The handler vocabulary: what a consumer's handler is given, returns and may ask for.

A leaf: it imports nothing else of services/common, so the pipeline, the outbox, tracing and
every service can use these words without importing each other.

A handler is a plain module-level function: `async def handler(events, uow)`, the batch's
new events (typed) and the unit of work of the batch's transaction (its inbox claim, the
service's stores, its outbox); it returns what each event emits, in order. Its settings,
if any, are bound by keyword in the service's app.py (functools.partial).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial
from typing import Any

from contracts.envelope import CloudEvent
from contracts.topics import Topic


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message a handler emits; written to the outbox in the handler's transaction."""

    topic: Topic
    key: str | None
    event: CloudEvent[Any]
    # The event's bytes, when its handler encoded it already (else the outbox encodes it).
    value: bytes | None = None


Emitted = Sequence[Outgoing]
# (the batch's new events, the unit of work) -> what each event emits, in order.
Handler = Callable[[list[CloudEvent[Any]], Any], Awaitable[list[Emitted]]]


class Held(Exception):
    """Raised by a consumer's `prefetch` when the batch cannot be handled yet: nothing is
    applied, the consumer rewinds and the batch comes again (lag grows; nothing is lost)."""


# The record each event of the batch being handled came from, by event id; None outside a
# pipeline's handler.
_records: ContextVar[dict[str, Any] | None] = ContextVar("records", default=None)


@contextlib.contextmanager
def from_records(items: Sequence[tuple[Any, CloudEvent[Any]]]) -> Iterator[None]:
    """While handling these (Kafka record, event) pairs: `record_of` finds each one's record."""
    token = _records.set({event.id: record for record, event in items})
    try:
        yield
    finally:
        _records.reset(token)


def record_of(event: CloudEvent[Any]) -> Any | None:
    """The Kafka record `event` was decoded from, inside a pipeline's handler (for what keeps
    an event to deal with later and may have to dead-letter it as it came); else None."""
    records = _records.get()
    return None if records is None else records.get(event.id)


# What a handler asked to run once its transaction commits; None outside a pipeline.
_after_commit: ContextVar[list[Callable[[], None]] | None] = ContextVar(
    "after_commit", default=None
)


def after_commit(count: Callable[..., None], *args: Any) -> None:
    """Run `count(*args)` once the handler's transaction has committed: a retried or split
    transaction must not count its metrics twice. Outside a pipeline, at once."""
    pending = _after_commit.get()
    if pending is None:
        count(*args)
    else:
        pending.append(partial(count, *args))


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
