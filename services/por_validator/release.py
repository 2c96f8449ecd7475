"""Automatic release: after a registry fact, re-decide the blocked transactions that depend
on it and record the decisions of the ones that pass now.

Bounded per event: the dependents are found by index (a PLA id, a tenant's PLA ids, or a
distributor, within PORGATE_RELEASE_WINDOW), never by a scan of all decisions. The registry
consumer is its own consumer group and pipeline, so a flood of registry events (a full
sync) queues behind itself, not in front of validation requests.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts.envelope import CloudEvent
from contracts.events import TransactionDecision, ValidationRequested
from services.common.handling import after_commit
from services.common.retry import is_transient
from services.domain.regions import RegionTable
from services.domain.release import dependents_of, released
from services.por_validator import metrics
from services.por_validator.unit_of_work import ValidatorUnitOfWork

log = logging.getLogger(__name__)


async def release_after(
    event: CloudEvent[Any],
    uow: ValidatorUnitOfWork,
    *,
    enforcement_start: datetime,
    regions: RegionTable,
    window_s: float,
) -> list[TransactionDecision]:
    """The decisions, recorded, that release what the registry fact `event` frees.

    Releasing may fail (a stored request the model no longer reads, a timeout): that must
    not dead-letter the fact itself, which the validator needs whatever happens, so it runs
    in a savepoint and a failure undoes only the release."""
    try:
        async with uow.savepoint():
            return await _release(event, uow, enforcement_start, regions, window_s)
    except Exception as exc:
        if is_transient(exc):
            raise  # the database or the connection: the whole batch is retried
        after_commit(_count, "failed", 1)
        log.exception("releasing after a registry change failed", extra={"event_id": event.id})
        return []


async def _release(
    event: CloudEvent[Any],
    uow: ValidatorUnitOfWork,
    enforcement_start: datetime,
    regions: RegionTable,
    window_s: float,
) -> list[TransactionDecision]:
    dependents = dependents_of(event.data)
    if dependents is None:
        return []
    since = datetime.now(UTC) - timedelta(seconds=window_s)
    if dependents.partner_ids or dependents.tenant_id:
        partner_ids = list(dependents.partner_ids)
        if dependents.tenant_id:
            partner_ids += await uow.partner_ids_of_tenant(dependents.tenant_id)
        blocked = await uow.still_blocked(
            partner_ids=partner_ids, since=since, distributor=dependents.distributor_id
        )
    else:
        blocked = await uow.still_blocked(distributor=dependents.distributor_id, since=since)
    if not blocked:
        return []
    requests = [ValidationRequested.model_validate(b.request) for b in blocked]
    registry = await uow.registry_for(
        (line.partner_id_on_record for r in requests for line in r.lines),
        {r.distributor_id for r in requests},
        regions,
    )
    decided_at = datetime.now(UTC)
    pairs = []
    for b, request in zip(blocked, requests, strict=True):
        release = released(
            b.decision_id,
            request,
            registry,
            registry_event_id=event.id,
            enforcement_start=enforcement_start,
            decided_at=decided_at,
        )
        if release is not None:
            pairs.append(release)
    after_commit(_count, "still_blocked", len(blocked) - len(pairs))
    if not pairs:
        return []
    inserted = await uow.record_decisions(pairs)
    pairs = [(r, d) for r, d in pairs if d.decision_id in inserted]
    after_commit(_count, "released", len(pairs))
    log.info(
        "released blocked transactions",
        extra={
            "event_id": event.id,
            "released": [(r.supersedes_decision_id, d.decision_id) for r, d in pairs],
        },
    )
    return [d for _, d in pairs]


def _count(outcome: str, n: int) -> None:
    metrics.RELEASED.labels(outcome).inc(n)
