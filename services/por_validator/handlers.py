"""por-validator's handlers: project the registry; decide validation requests."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import asyncpg

from contracts import events as ev
from contracts.codec import new_event
from contracts.envelope import CloudEvent
from contracts.topics import DECISIONS
from services.common import metrics
from services.common.runtime import Outgoing
from services.domain.decisions import decide, derived_event_id
from services.domain.regions import RegionTable
from services.por_validator import store

SOURCE = "/porgate/por-validator"

_UPSERTS = {
    ev.DistributorUpserted: store.upsert_distributor,
    ev.PartnerAccountUpserted: store.upsert_partner_account,
    ev.ResellerTenantUpserted: store.upsert_reseller_tenant,
    ev.PartnershipUpserted: store.upsert_partnership,
}


async def on_registry_event(conn: asyncpg.Connection, event: CloudEvent[Any]) -> list[Outgoing]:
    upsert = _UPSERTS.get(type(event.data))
    if upsert is not None:  # customer assignments and GDAP relationships are not the validator's
        await upsert(conn, event.data, event.time)
    return []


def decision_event(decision: ev.TransactionDecision, key: str, source: str = SOURCE) -> Outgoing:
    return Outgoing(
        DECISIONS,
        key,
        new_event(
            decision,
            source=source,
            id=derived_event_id("decision-event", decision.decision_id),
            subject=key,
            time=decision.decided_at,
        ),
    )


def make_validation_handler(enforcement_start: datetime, regions: RegionTable):
    async def on_validation_requested(conn: asyncpg.Connection, event: CloudEvent[Any]) -> list[Outgoing]:
        request: ev.ValidationRequested = event.data
        registry = await store.registry_for(
            conn, (line.partner_id_on_record for line in request.lines), (request.distributor_id,), regions
        )
        decision = decide(
            request, registry, enforcement_start=enforcement_start, decided_at=datetime.now(timezone.utc)
        )
        await store.record_decision(conn, request, decision)
        metrics.DECISIONS.labels(decision.outcome, decision.basis, str(decision.primary_error_code or "")).inc()
        return [decision_event(decision, request.order_id or request.subscription_id or request.source_event_id)]

    return on_validation_requested
