"""order-intake's unit of work: its orders beside the inbox and the outbox. The port its
handler uses and its PostgreSQL side; the in-memory fake is tests/fakes/order_intake.py."""

from __future__ import annotations

from functools import partial
from typing import Protocol

import asyncpg

from contracts.events import OrderPlaced
from services.common.unit_of_work import PostgresUnitOfWork, UnitOfWork
from services.order_intake import store


class IntakeUnitOfWork(UnitOfWork, Protocol):
    async def record_orders(self, orders: list[tuple[str, OrderPlaced]]) -> None:
        """(source event id, order) pairs; a source event is recorded once."""
        ...


class PostgresIntakeUnitOfWork(PostgresUnitOfWork):
    __slots__ = ("record_orders",)

    def __init__(self, conn: asyncpg.Connection) -> None:
        super().__init__(conn)
        self.record_orders = partial(store.record_orders, conn)
