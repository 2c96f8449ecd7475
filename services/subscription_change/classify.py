"""Pure: a requested change becomes either an exempt decision or a validation request."""

from __future__ import annotations

from datetime import datetime

from contracts.events import (
    SubscriptionChangeRequested,
    TransactionDecision,
    ValidationLine,
    ValidationRequested,
)
from services.domain.decisions import exempt_decision
from services.domain.scope import Basis, change_basis


def validation_request(
    change: SubscriptionChangeRequested, source_event_id: str
) -> ValidationRequested:
    return ValidationRequested(
        source_event_id=source_event_id,
        transaction_kind="subscription_change",
        change_id=change.change_id,
        subscription_id=change.subscription_id,
        change_kind=change.kind,
        distributor_id=change.distributor_id,
        customer_id=change.customer_id,
        requested_at=change.requested_at,
        # One line, named after the subscription, as the contract says.
        lines=[
            ValidationLine(
                line_item_id=change.subscription_id,
                partner_id_on_record=change.partner_id_on_record,
            )
        ],
    )


def classify(
    change: SubscriptionChangeRequested,
    source_event_id: str,
    enforcement_start: datetime,
    now: datetime,
) -> tuple[Basis, ValidationRequested | TransactionDecision]:
    """The change's basis, and what to publish: a request to validate, or the decision itself."""
    basis = change_basis(
        change.kind, change.requested_at, change.scheduled_change_set_at, enforcement_start
    )
    request = validation_request(change, source_event_id)
    if basis == "validated":
        return basis, request
    return basis, exempt_decision(request, basis, now)
