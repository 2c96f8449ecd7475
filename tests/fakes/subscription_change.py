"""subscription-change's unit of work in memory."""

from __future__ import annotations

from contracts.events import SubscriptionChangeRequested
from tests.fakes.unit_of_work import FakeUnitOfWork


class FakeChangeUnitOfWork(FakeUnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        # source event id -> (change, basis)
        self.changes: dict[str, tuple[SubscriptionChangeRequested, str]] = {}

    async def record_change(
        self, source_event_id: str, change: SubscriptionChangeRequested, basis: str
    ) -> None:
        self.changes.setdefault(source_event_id, (change, basis))
