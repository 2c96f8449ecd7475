"""order-intake's unit of work in memory."""

from __future__ import annotations

from contracts.events import OrderPlaced
from tests.fakes.unit_of_work import FakeUnitOfWork


class FakeIntakeUnitOfWork(FakeUnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        self.orders: dict[str, OrderPlaced] = {}  # by source event id

    async def record_orders(self, orders: list[tuple[str, OrderPlaced]]) -> None:
        for source_event_id, order in orders:
            self.orders.setdefault(source_event_id, order)
