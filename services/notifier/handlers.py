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
from contracts.errors import Language, language_of
from services.common.service import Emitted, by_data_type, per_event, projecting
from services.domain.authority import drifts
from services.notifier import at_risk_store, store
from services.notifier import decision_notices as dn
from services.notifier import gdap_notices as gn
from services.notifier import notifications as nt

log = logging.getLogger(__name__)


async def _language(conn: asyncpg.Connection, distributor_id: str) -> Language:
    return language_of((await store.languages(conn, [distributor_id])).get(distributor_id))


async def _on_partnership(conn: asyncpg.Connection, event: CloudEvent[Any]) -> Emitted:
    data: ev.PartnershipUpserted = event.data
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
    return ()


# Partner accounts and reseller tenants only for the at-risk report: the rules read them.
on_registry_events = per_event(
    by_data_type(
        {
            ev.DistributorUpserted: projecting(store.upsert_distributor),
            ev.PartnerAccountUpserted: projecting(at_risk_store.upsert_partner_account),
            ev.ResellerTenantUpserted: projecting(at_risk_store.upsert_reseller_tenant),
            ev.CustomerAssignmentUpserted: projecting(store.upsert_customer_assignment),
            ev.GdapRelationshipUpserted: projecting(store.upsert_gdap_relationship),
            ev.PartnershipUpserted: _on_partnership,
        }
    )
)


async def _on_decision(conn: asyncpg.Connection, event: CloudEvent[Any]) -> Emitted:
    decision: ev.TransactionDecision = event.data
    await at_risk_store.record_seen(conn, decision)
    notices = [
        notice
        for applies, notice in (
            (decision.outcome == "blocked", nt.transaction_blocked),
            (decision.would_block, dn.transaction_would_block),
            # A re-decision (automatic release, `porgate revalidate`) that lets it through.
            (
                decision.outcome == "accepted"
                and decision.supersedes_decision_id is not None
                and not decision.would_block,
                dn.transaction_released,
            ),
        )
        if applies
    ]
    found = drifts(decision)
    if not notices and not found:
        return ()  # accepted transactions need nobody
    language = await _language(conn, decision.distributor_id)
    now = datetime.now(UTC)
    for notice in notices:
        await store.insert_notification(
            conn, notice(decision, cause_event_id=event.id, language=language, created_at=now)
        )
    for drift in found:
        await store.insert_notification(
            conn,
            dn.registry_drift(
                decision, drift, cause_event_id=event.id, language=language, created_at=now
            ),
        )
    return ()


async def _recipients(
    conn: asyncpg.Connection, customer_id: str, reseller_tenant_id: str
) -> list[str]:
    return nt.revocation_recipients(
        await store.assigned_distributors(conn, customer_id, reseller_tenant_id),
        await store.partnered_distributors(conn, reseller_tenant_id),
    )


async def _on_termination_failed(conn: asyncpg.Connection, event: CloudEvent[Any]) -> Emitted:
    failure: ev.GdapTerminationFailed = event.data
    recipients = await _recipients(conn, failure.customer_id, failure.reseller_tenant_id)
    if failure.distributor_id is not None and failure.distributor_id not in recipients:
        recipients.append(failure.distributor_id)  # whose Graph refused: it must know
    langs = await store.languages(conn, recipients)
    now = datetime.now(UTC)
    for distributor_id in recipients:
        await store.insert_notification(
            conn,
            gn.termination_failed(
                failure,
                distributor_id=distributor_id,
                cause_event_id=event.id,
                language=language_of(langs.get(distributor_id)),
                created_at=now,
            ),
        )
    if not recipients:
        log.error(
            "GDAP termination failed and no distributor is known to tell",
            extra={"event_id": event.id, "relationship_id": failure.relationship_id},
        )
    return ()


async def _on_revocation(conn: asyncpg.Connection, event: CloudEvent[Any]) -> Emitted:
    revoked: ev.GdapPrivilegesRevoked = event.data
    await store.mark_revoked(conn, revoked, event.id)
    recipients = await _recipients(conn, revoked.customer_id, revoked.reseller_tenant_id)
    if not recipients:
        log.warning(
            "revocation with no distributor to notify",
            extra={
                "event_id": event.id,
                "relationship_id": revoked.relationship_id,
                "reseller_tenant_id": revoked.reseller_tenant_id,
            },
        )
        return ()
    langs = await store.languages(conn, recipients)
    now = datetime.now(UTC)
    for distributor_id in recipients:
        await store.insert_notification(
            conn,
            nt.privileges_revoked(
                revoked,
                distributor_id=distributor_id,
                cause_event_id=event.id,
                language=language_of(langs.get(distributor_id)),
                created_at=now,
            ),
        )
    return ()


on_decisions = per_event(
    by_data_type({ev.TransactionBlocked: _on_decision, ev.TransactionAccepted: _on_decision})
)
on_revocations = per_event(
    by_data_type(
        {
            ev.GdapPrivilegesRevoked: _on_revocation,
            ev.GdapTerminationFailed: _on_termination_failed,
        }
    )
)
