"""The unit of work: the port over one consumer transaction, and its PostgreSQL side.

The pipeline opens the transaction, claims the batch's events in the inbox through the unit
of work, hands it to the handler (which reaches the service's stores through it) and writes
what the handler emits to the outbox through it; all of it commits together or not at all.
A service with stores declares its own unit of work, a subclass adding them
(`services/por_validator/unit_of_work.py`); its in-memory fake (tests/fakes/) passes the
same contract test (tests/contract/).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from functools import partial
from typing import Any, Protocol

import asyncpg
from aiokafka import ConsumerRecord

from services.common import inbox, outbox
from services.common.handling import Outgoing
from services.common.inbox import Claim, Item

# An outbox row as the outbox publishes it: id, source_event_id, topic, key, value,
# traceparent, tracestate.
OutboxRow = Mapping[str, Any]


class UnitOfWork(Protocol):
    """What the pipeline needs of every unit of work; a service's adds its stores."""

    async def claim(self, items: Sequence[Item]) -> Claim:
        """Claim the events' ids: the ones seen for the first time, and the duplicates."""
        ...

    async def reused(self, duplicates: Sequence[Item]) -> list[tuple[ConsumerRecord, str]]:
        """The duplicates whose id was claimed with another body, with the reason."""
        ...

    async def write_outbox(
        self,
        outgoing: Sequence[tuple[str, Outgoing]],
        carriers: Sequence[dict[str, str]] | None = None,
    ) -> list[OutboxRow]:
        """Write (source event id, message) pairs; the rows to publish after commit."""
        ...

    async def pending_for(self, source_event_ids: Sequence[str]) -> list[OutboxRow]:
        """Rows still owed to the broker for these source events, in the order written."""
        ...

    def savepoint(self) -> AbstractAsyncContextManager[Any]:
        """A part of the transaction that a failure undoes alone."""
        ...


class PostgresUnitOfWork:
    """A unit of work on the connection of an open PostgreSQL transaction: each part of the
    port is the store function that does it, on that connection (no layer in between, as
    this is every batch's path)."""

    __slots__ = ("claim", "conn", "pending_for", "reused", "savepoint", "write_outbox")

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.claim = partial(inbox.claim, conn)
        self.reused = partial(inbox.reused, conn)
        self.write_outbox = partial(outbox.write, conn)
        self.pending_for = partial(outbox.pending_for, conn)
        self.savepoint = conn.transaction
