"""subscription-change's handler: exempt changes decided here, the rest sent for validation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from contracts.codec import decision_event, new_event
from contracts.envelope import CloudEvent
from contracts.events import SubscriptionChangeRequested, ValidationRequested
from contracts.ids import derived_event_id
from contracts.topics import DECISIONS, VALIDATION_REQUESTS
from services.common.handling import Emitted, Outgoing
from services.subscription_change.classify import classify
from services.subscription_change.unit_of_work import ChangeUnitOfWork

SOURCE = "/porgate/subscription-change"


async def on_changes_requested(
    events: list[CloudEvent[Any]], uow: ChangeUnitOfWork, *, enforcement_start: datetime
) -> list[Emitted]:
    """Record each change with its basis; decide the exempt ones, ask for the validation of
    the others."""
    emitted: list[Emitted] = []
    for event in events:
        change: SubscriptionChangeRequested = event.data
        basis, result = classify(change, event.id, enforcement_start, datetime.now(UTC))
        await uow.record_change(event.id, change, basis)
        if isinstance(result, ValidationRequested):
            request = new_event(
                result,
                source=SOURCE,
                id=derived_event_id("validation-request", event.id),
                subject=change.subscription_id,
            )
            emitted.append([Outgoing(VALIDATION_REQUESTS, change.subscription_id, request)])
        else:
            decision = decision_event(result, source=SOURCE)
            emitted.append([Outgoing(DECISIONS, result.transaction_key, decision)])
    return emitted
