"""Pure: an order placed upstream becomes a validation request for por-validator."""

from __future__ import annotations

from contracts.events import OrderPlaced, ValidationLine, ValidationRequested
from contracts.trusted import trusted_builder

_trusted_request = trusted_builder(ValidationRequested)
_trusted_line = trusted_builder(ValidationLine)


def validation_request(order: OrderPlaced, source_event_id: str) -> ValidationRequested:
    # The order's fields were validated when it was decoded, and every one of them is valid
    # for the request as it is: the request is built without validating them again.
    return _trusted_request(
        source_event_id=source_event_id,
        transaction_kind="new_order",
        order_id=order.order_id,
        distributor_id=order.distributor_id,
        customer_id=order.customer_id,
        requested_at=order.placed_at,
        lines=[
            _trusted_line(
                line_item_id=li.line_item_id, partner_id_on_record=li.partner_id_on_record
            )
            for li in order.line_items
        ],
    )
