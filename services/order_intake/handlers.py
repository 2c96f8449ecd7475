"""order-intake's handler: ask for the validation of each order."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from contracts.codec import new_event
from contracts.envelope import CloudEvent
from contracts.events import OrderPlaced
from contracts.ids import derived_event_id
from contracts.topics import VALIDATION_REQUESTS
from services.common.handling import Emitted, Outgoing
from services.order_intake import intake

SOURCE = "/porgate/order-intake"


def _request(event: CloudEvent[OrderPlaced]) -> Outgoing:
    order = event.data
    request = intake.validation_request(order, event.id)
    return Outgoing(
        VALIDATION_REQUESTS,
        order.order_id,
        # The same bytes whenever the order event comes again (its id derived from the
        # order event's, its time the order event's): por-validator's inbox takes a copy with
        # other bytes under a known id for an id reused, and dead-letters it.
        new_event(
            request,
            source=SOURCE,
            id=derived_event_id("validation-request", event.id),
            subject=order.order_id,
            time=event.time.astimezone(UTC),
        ),
    )


async def on_orders_placed(events: list[CloudEvent[Any]], _: None = None) -> list[Emitted]:
    """Ask for the validation of each order. Its only effect (a `messages_only` consumer):
    the request, under an id derived from the order event's, keeps the order as received,
    and por-validator stores it with its decision."""
    return [[_request(e)] for e in events]
