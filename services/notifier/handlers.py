"""notifier's handlers: keep the registry projection; turn causes into queued notifications.

Handlers only insert rows in the runtime's transaction; the deliverer (webhook.py) sends
them later, so a slow or broken webhook never holds back a consumer.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import asyncpg

from contracts import events as ev
from contracts.envelope import CloudEvent
from services.common.runtime import Outgoing
from services.notifier import notifications as nt
from services.notifier import store

log = logging.getLogger(__name__)


async def _language(conn: asyncpg.Connection, distributor_id: str) -> nt.Language:
    return nt.language_of((await store.languages(conn, [distributor_id])).get(distributor_id))


async def on_registry_event(conn: asyncpg.Connection, event: CloudEvent[Any]) -> list[Outgoing]:
    data = event.data
    if isinstance(data, ev.DistributorUpserted):
        await store.upsert_distributor(conn, data, event.time)
    elif isinstance(data, ev.CustomerAssignmentUpserted):
        await store.upsert_customer_assignment(conn, data, event.time)
    elif isinstance(data, ev.GdapRelationshipUpserted):
        await store.upsert_gdap_relationship(conn, data, event.time)
    elif isinstance(data, ev.PartnershipUpserted):
        previous = await store.upsert_partnership(conn, data, event.time)
        if nt.is_removal_transition(
            previous.status if previous else None,
            previous.as_of if previous else None,
            data.status,
            event.time,
        ):
            rows = await store.still_administered(
                conn, data.distributor_id, data.reseller_tenant_id, event.time
            )
            await store.insert_notification(
                conn,
                nt.partnership_removed(
                    distributor_id=data.distributor_id,
                    reseller_tenant_id=data.reseller_tenant_id,
                    customers=nt.still_administered(rows),
                    cause_event_id=event.id,
                    language=await _language(conn, data.distributor_id),
                    created_at=datetime.now(UTC),
                ),
            )
    # Partner accounts and reseller tenants are the validator's concern, not ours.
    return []


async def on_decision(conn: asyncpg.Connection, event: CloudEvent[Any]) -> list[Outgoing]:
    decision = event.data
    if not isinstance(decision, ev.TransactionBlocked):
        return []
    await store.insert_notification(
        conn,
        nt.transaction_blocked(
            decision.to_wire(),
            cause_event_id=event.id,
            language=await _language(conn, decision.distributor_id),
            created_at=datetime.now(UTC),
        ),
    )
    return []


async def on_revocation(conn: asyncpg.Connection, event: CloudEvent[Any]) -> list[Outgoing]:
    revoked: ev.GdapPrivilegesRevoked = event.data
    await store.mark_revoked(conn, revoked, event.id)
    recipients = nt.revocation_recipients(
        await store.assigned_distributors(conn, revoked.customer_id, revoked.reseller_tenant_id),
        await store.partnered_distributors(conn, revoked.reseller_tenant_id),
    )
    if not recipients:
        log.warning(
            "revocation with no distributor to notify",
            extra={
                "event_id": event.id,
                "relationship_id": revoked.relationship_id,
                "reseller_tenant_id": revoked.reseller_tenant_id,
            },
        )
        return []
    langs = await store.languages(conn, recipients)
    now = datetime.now(UTC)
    wire = revoked.to_wire()
    for distributor_id in recipients:
        await store.insert_notification(
            conn,
            nt.privileges_revoked(
                wire,
                distributor_id=distributor_id,
                cause_event_id=event.id,
                language=nt.language_of(langs.get(distributor_id)),
                created_at=now,
            ),
        )
    return []
