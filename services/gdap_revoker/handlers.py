"""gdap-revoker's consumer: project the registry and record which relationships to terminate.

Nothing here calls Graph: the terminations are intents, committed with the projection, and
the terminator worker carries them out (and publishes the revocations) after commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg

from contracts import events as ev
from contracts.envelope import CloudEvent
from services.common.service import Emitted, by_data_type, per_event
from services.gdap_revoker import revocation, store

Terminations = list[revocation.Termination]


async def _on_tenant(conn: asyncpg.Connection, event: CloudEvent[Any]) -> Terminations:
    t: ev.ResellerTenantUpserted = event.data
    await store.lock_reseller(conn, t.reseller_tenant_id)
    if not await store.upsert_tenant(conn, t, event.time, event.id):
        return []
    return revocation.on_tenant(
        t.reseller_tenant_id,
        t.status,
        await store.unrevoked_relationships(conn, t.reseller_tenant_id),
        cause_event_id=event.id,
        now=datetime.now(UTC),
    )


async def _on_assignment(conn: asyncpg.Connection, event: CloudEvent[Any]) -> Terminations:
    a: ev.CustomerAssignmentUpserted = event.data
    await store.lock_reseller(conn, a.reseller_tenant_id)
    if not await store.upsert_assignment(conn, a, event.time):
        return []
    return revocation.on_assignment(
        a.customer_id,
        a.reseller_tenant_id,
        a.status,
        await store.unrevoked_relationships(conn, a.reseller_tenant_id, a.customer_id),
        still_assigned=await store.assigned_elsewhere(conn, a),
        cause_event_id=event.id,
        now=datetime.now(UTC),
    )


async def _on_relationship(conn: asyncpg.Connection, event: CloudEvent[Any]) -> Terminations:
    r: ev.GdapRelationshipUpserted = event.data
    await store.lock_reseller(conn, r.reseller_tenant_id)
    if not await store.upsert_relationship(conn, r, event.time):
        return []
    if r.status.strip().lower() in ("terminated", "expired"):
        # A pending revocation may be settled: the terminator reads Graph now to confirm.
        await store.settle_soon(conn, r.relationship_id)
        return []
    rel = await store.relationship(conn, r.relationship_id)
    tenant = await store.tenant(conn, r.reseller_tenant_id)
    if rel is None or tenant is None:
        return []
    return revocation.on_relationship(
        rel, tenant["status"], suspension_event_id=tenant["event_id"], now=datetime.now(UTC)
    )


def _recording(find: Callable[[asyncpg.Connection, CloudEvent[Any]], Awaitable[Terminations]]):
    async def handle(conn: asyncpg.Connection, event: CloudEvent[Any]) -> Emitted:
        await store.record_terminations(conn, await find(conn, event))
        # The revocation events are the terminator's to publish, once Graph has confirmed.
        return ()

    return handle


# Partnerships revoke nothing (a person decides); distributors and accounts do not matter here.
on_registry_events = per_event(
    by_data_type(
        {
            ev.ResellerTenantUpserted: _recording(_on_tenant),
            ev.CustomerAssignmentUpserted: _recording(_on_assignment),
            ev.GdapRelationshipUpserted: _recording(_on_relationship),
        }
    )
)
