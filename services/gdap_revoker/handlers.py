"""gdap-revoker's handler: project the registry and record which relationships to terminate.

Nothing here calls Graph: the terminations are intents, committed with the projection, and
the terminator worker carries them out (and publishes the revocations) after commit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from contracts import events as ev
from contracts.envelope import CloudEvent
from services.common import tracing
from services.common.handling import Emitted
from services.gdap_revoker import revocation
from services.gdap_revoker.revocation import Termination
from services.gdap_revoker.unit_of_work import RevokerUnitOfWork


async def on_registry_events(
    events: list[CloudEvent[Any]], uow: RevokerUnitOfWork
) -> list[Emitted]:
    """Queue the terminations each registry fact calls for. Partnerships revoke nothing (a
    person decides); distributors and accounts do not matter here. The revocation events
    are the terminator's to publish, once Graph has confirmed."""
    for event in events:
        # A queued termination stores this event's trace, so the Graph call joins it.
        with tracing.event_scope(event):
            match event.data:
                case ev.ResellerTenantUpserted():
                    found = await _on_tenant(uow, event)
                case ev.CustomerAssignmentUpserted():
                    found = await _on_assignment(uow, event)
                case ev.GdapRelationshipUpserted():
                    found = await _on_relationship(uow, event)
                case _:
                    continue
            await uow.record_terminations(found)
    return [() for _ in events]


async def _on_tenant(uow: RevokerUnitOfWork, event: CloudEvent[Any]) -> list[Termination]:
    t: ev.ResellerTenantUpserted = event.data
    await uow.lock_reseller(t.reseller_tenant_id)
    if not await uow.upsert_tenant(t, event.time, event.id):
        return []
    return revocation.on_tenant(
        t.reseller_tenant_id,
        t.status,
        await uow.unrevoked_relationships(t.reseller_tenant_id),
        cause_event_id=event.id,
        now=datetime.now(UTC),
    )


async def _on_assignment(uow: RevokerUnitOfWork, event: CloudEvent[Any]) -> list[Termination]:
    a: ev.CustomerAssignmentUpserted = event.data
    await uow.lock_reseller(a.reseller_tenant_id)
    if not await uow.upsert_assignment(a, event.time):
        return []
    return revocation.on_assignment(
        a.customer_id,
        a.reseller_tenant_id,
        a.status,
        await uow.unrevoked_relationships(a.reseller_tenant_id, a.customer_id),
        still_assigned=await uow.assigned_elsewhere(a),
        cause_event_id=event.id,
        now=datetime.now(UTC),
    )


async def _on_relationship(uow: RevokerUnitOfWork, event: CloudEvent[Any]) -> list[Termination]:
    r: ev.GdapRelationshipUpserted = event.data
    await uow.lock_reseller(r.reseller_tenant_id)
    if not await uow.upsert_relationship(r, event.time):
        return []
    if r.status.strip().lower() in revocation.ENDED:
        # A pending revocation may be settled: the terminator reads Graph now to confirm.
        await uow.settle_soon(r.relationship_id)
        return []
    rel = await uow.relationship(r.relationship_id)
    tenant = await uow.tenant(r.reseller_tenant_id)
    if rel is None or tenant is None:
        return []
    found = revocation.on_relationship(
        rel, tenant["status"], suspension_event_id=tenant["event_id"], now=datetime.now(UTC)
    )
    if found:
        # Queued before, when it could not be acted on (approvalPending, say), and failed for
        # good: now that it can be, it is tried again.
        await uow.act_again(r.relationship_id)
    return found
