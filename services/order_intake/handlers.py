"""order-intake's handler: record the orders, ask for their validation."""

from __future__ import annotations

from typing import Any

from contracts.codec import new_event
from contracts.envelope import CloudEvent
from contracts.events import OrderPlaced
from contracts.ids import derived_event_id
from contracts.topics import VALIDATION_REQUESTS
from services.common.handling import Emitted, Outgoing
from services.order_intake import intake
from services.order_intake.unit_of_work import IntakeUnitOfWork

SOURCE = "/porgate/order-intake"


def _request(event: CloudEvent[OrderPlaced]) -> Outgoing:
    order = event.data
    request = intake.validation_request(order, event.id)
    return Outgoing(
        VALIDATION_REQUESTS,
        order.order_id,
        # Derived from the order event's id, so a replayed order asks again under the same id.
        new_event(
            request,
            source=SOURCE,
            id=derived_event_id("validation-request", event.id),
            subject=order.order_id,
        ),
    )


async def on_orders_placed(events: list[CloudEvent[Any]], uow: IntakeUnitOfWork) -> list[Emitted]:
    """Record the orders; ask for the validation of each."""
    await uow.record_orders([(e.id, e.data) for e in events])
    return [[_request(e)] for e in events]
