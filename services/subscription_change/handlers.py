"""subscription-change's handler."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg

from contracts.codec import new_event
from contracts.envelope import CloudEvent
from contracts.events import SubscriptionChangeRequested, ValidationRequested
from contracts.topics import VALIDATION_REQUESTS
from services.common.runtime import Outgoing
from services.domain.decisions import derived_event_id
from services.por_validator.handlers import decision_event
from services.subscription_change import store
from services.subscription_change.classify import classify

SOURCE = "/porgate/subscription-change"


def make_change_handler(enforcement_start: datetime):
    async def on_change_requested(
        conn: asyncpg.Connection, event: CloudEvent[Any]
    ) -> list[Outgoing]:
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
        return [decision_event(result, change.subscription_id, source=SOURCE)]

    return on_change_requested
