"""subscription-change's unit of work: its changes beside the inbox and the outbox. The port
its handler uses and its PostgreSQL side; the in-memory fake is tests/fakes/subscription_change.py."""

from __future__ import annotations

from typing import Protocol

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
    __slots__ = ()

    async def record_change(
        self, source_event_id: str, change: SubscriptionChangeRequested, basis: str
    ) -> None:
        await store.record_change(self.conn, source_event_id, change, basis)
