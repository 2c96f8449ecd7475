"""subscription-change's unit of work: its changes beside the inbox and the outbox. The port
its handler uses and its PostgreSQL side; the in-memory fake is tests/fakes/subscription_change.py."""

from __future__ import annotations

from functools import partial
from typing import Protocol

import asyncpg

from contracts.events import SubscriptionChangeRequested
from services.common.unit_of_work import PostgresUnitOfWork, UnitOfWork
from services.subscription_change import store


class ChangeUnitOfWork(UnitOfWork, Protocol):
    async def record_change(
        self, source_event_id: str, change: SubscriptionChangeRequested, basis: str
    ) -> None:
        """A source event's change and its basis; recorded once."""
        ...


class PostgresChangeUnitOfWork(PostgresUnitOfWork):
    __slots__ = ("record_change",)

    def __init__(self, conn: asyncpg.Connection) -> None:
        super().__init__(conn)
        self.record_change = partial(store.record_change, conn)
