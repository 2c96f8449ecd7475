"""notifier's handlers: keep the registry projection; turn causes into queued notifications.

Handlers only insert rows in the batch's transaction; the deliverer (webhook.py) sends them
later, so a slow or broken webhook never holds back a consumer. Each event is handled with
its trace current: a queued notification stores it, so its delivery joins the cause's trace.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from contracts import events as ev
from contracts.envelope import CloudEvent
from contracts.errors import Language, language_of
from services.common import tracing
from services.common.handling import Emitted
from services.domain.authority import drifts
from services.domain.regions import RegionTable
from services.notifier import decision_notices as dn
from services.notifier import gdap_notices as gn
from services.notifier import notifications as nt
from services.notifier.remediation import line_remediations
from services.notifier.unit_of_work import NotifierUnitOfWork

log = logging.getLogger(__name__)


async def on_registry_events(
    events: list[CloudEvent[Any]], uow: NotifierUnitOfWork
) -> list[Emitted]:
    """Keep the registry facts; a partnership's removal tells its distributor which customers
    the reseller still administers."""
    for event in events:
        with tracing.event_scope(event):
            if isinstance(event.data, ev.PartnershipUpserted):
                await _on_partnership(uow, event)
            else:
                await uow.project(event.data, event.time)
    return [() for _ in events]


async def on_decisions(
    events: list[CloudEvent[Any]], uow: NotifierUnitOfWork, *, regions: RegionTable
) -> list[Emitted]:
    """Blocked, would-block, released and drifting decisions to tell the distributor about;
    a blocked one with each blocked line's remediation (`regions`: its registry slice's).
    Every decision's subscriptions are recorded for the at-risk report."""
    for event in events:
        if isinstance(event.data, ev.TransactionBlocked | ev.TransactionAccepted):
            with tracing.event_scope(event):
                await _on_decision(uow, event, regions)
    return [() for _ in events]


async def on_revocations(events: list[CloudEvent[Any]], uow: NotifierUnitOfWork) -> list[Emitted]:
    """Revoked GDAP privileges, and terminations that failed, to tell the distributors about."""
    for event in events:
        with tracing.event_scope(event):
            match event.data:
                case ev.GdapPrivilegesRevoked():
                    await _on_revocation(uow, event)
                case ev.GdapTerminationFailed():
                    await _on_termination_failed(uow, event)
    return [() for _ in events]


async def _language(uow: NotifierUnitOfWork, distributor_id: str) -> Language:
    return language_of((await uow.languages([distributor_id])).get(distributor_id))


async def _on_partnership(uow: NotifierUnitOfWork, event: CloudEvent[Any]) -> None:
    data: ev.PartnershipUpserted = event.data
    previous = await uow.upsert_partnership(data, event.time)
    if not nt.is_removal_transition(
        previous.status if previous else None,
        previous.as_of if previous else None,
        data.status,
        event.time,
    ):
        return
    rows = await uow.still_administered(data.distributor_id, data.reseller_tenant_id, event.time)
    await uow.insert_notification(
        nt.partnership_removed(
            distributor_id=data.distributor_id,
            reseller_tenant_id=data.reseller_tenant_id,
            customers=nt.still_administered(rows),
            cause_event_id=event.id,
            language=await _language(uow, data.distributor_id),
            created_at=datetime.now(UTC),
        )
    )


async def _on_decision(
    uow: NotifierUnitOfWork, event: CloudEvent[Any], regions: RegionTable
) -> None:
    decision: ev.TransactionDecision = event.data
    await uow.record_seen(decision)
    blocked = decision.outcome == "blocked"
    notices = [
        notice
        for applies, notice in (
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
    if not blocked and not notices and not found:
        return  # accepted transactions need nobody
    language = await _language(uow, decision.distributor_id)
    now = datetime.now(UTC)
    if blocked:
        registry, url = await uow.remediation_registry(
            [line.partner_id_on_record for line in decision.lines if line.error_codes],
            decision.distributor_id,
            regions,
        )
        await uow.insert_notification(
            nt.transaction_blocked(
                decision,
                cause_event_id=event.id,
                language=language,
                created_at=now,
                remediations=line_remediations(decision, registry, url, language),
            )
        )
    for notice in notices:
        await uow.insert_notification(
            notice(decision, cause_event_id=event.id, language=language, created_at=now)
        )
    for drift in found:
        await uow.insert_notification(
            dn.registry_drift(
                decision, drift, cause_event_id=event.id, language=language, created_at=now
            )
        )


async def _recipients(
    uow: NotifierUnitOfWork, customer_id: str, reseller_tenant_id: str
) -> list[str]:
    return nt.revocation_recipients(
        await uow.assigned_distributors(customer_id, reseller_tenant_id),
        await uow.partnered_distributors(reseller_tenant_id),
    )


async def _on_termination_failed(uow: NotifierUnitOfWork, event: CloudEvent[Any]) -> None:
    failure: ev.GdapTerminationFailed = event.data
    recipients = await _recipients(uow, failure.customer_id, failure.reseller_tenant_id)
    if failure.distributor_id is not None and failure.distributor_id not in recipients:
        recipients.append(failure.distributor_id)  # whose Graph refused: it must know
    langs = await uow.languages(recipients)
    now = datetime.now(UTC)
    for distributor_id in recipients:
        await uow.insert_notification(
            gn.termination_failed(
                failure,
                distributor_id=distributor_id,
                cause_event_id=event.id,
                language=language_of(langs.get(distributor_id)),
                created_at=now,
            )
        )
    if not recipients:
        log.error(
            "GDAP termination failed and no distributor is known to tell",
            extra={"event_id": event.id, "relationship_id": failure.relationship_id},
        )


async def _on_revocation(uow: NotifierUnitOfWork, event: CloudEvent[Any]) -> None:
    revoked: ev.GdapPrivilegesRevoked = event.data
    await uow.mark_revoked(revoked, event.id)
    recipients = await _recipients(uow, revoked.customer_id, revoked.reseller_tenant_id)
    if not recipients:
        log.warning(
            "revocation with no distributor to notify",
            extra={
                "event_id": event.id,
                "relationship_id": revoked.relationship_id,
                "reseller_tenant_id": revoked.reseller_tenant_id,
            },
        )
        return
    langs = await uow.languages(recipients)
    now = datetime.now(UTC)
    for distributor_id in recipients:
        await uow.insert_notification(
            nt.privileges_revoked(
                revoked,
                distributor_id=distributor_id,
                cause_event_id=event.id,
                language=language_of(langs.get(distributor_id)),
                created_at=now,
            )
        )
