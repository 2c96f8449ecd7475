"""subscription-change's handler: exempt changes decided here, the rest sent for validation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg

from contracts.codec import decision_event, new_event
from contracts.envelope import CloudEvent
from contracts.events import SubscriptionChangeRequested, ValidationRequested
from contracts.ids import derived_event_id
from contracts.topics import DECISIONS, VALIDATION_REQUESTS
from services.common.service import Emitted, EventHandler, Outgoing
from services.subscription_change import store
from services.subscription_change.classify import classify

SOURCE = "/porgate/subscription-change"


def make_change_handler(enforcement_start: datetime) -> EventHandler:
    async def on_change_requested(conn: asyncpg.Connection, event: CloudEvent[Any]) -> Emitted:
        change: SubscriptionChangeRequested = event.data
        basis, result = classify(change, event.id, enforcement_start, datetime.now(UTC))
        await store.record_change(conn, event.id, change, basis)
        if isinstance(result, ValidationRequested):
            request = new_event(
                result,
                source=SOURCE,
                id=derived_event_id("validation-request", event.id),
                subject=change.subscription_id,
            )
            return [Outgoing(VALIDATION_REQUESTS, change.subscription_id, request)]
        return [Outgoing(DECISIONS, result.transaction_key, decision_event(result, source=SOURCE))]

    return on_change_requested
