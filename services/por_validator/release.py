"""por-validator's registry consumer with automatic release: project each registry fact,
then re-decide the blocked transactions that depend on it and publish the ones that pass.

Bounded per event: the dependents are found by index (a PLA id, a tenant's PLA ids, or a
distributor, within PORGATE_REVALIDATE_WINDOW), never by a scan of all decisions. The
registry consumer is its own consumer group and pipeline, so a flood of registry events
(a full sync) queues behind itself, not in front of validation requests.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from contracts.codec import decision_event
from contracts.envelope import CloudEvent
from contracts.events import DistributorUpserted, ValidationRequested
from contracts.topics import DECISIONS
from services.common import metrics
from services.common.retry import is_transient
from services.common.service import Emitted, Handler, Outgoing, after_commit
from services.domain.regions import RegionTable
from services.domain.release import dependents_of, released
from services.por_validator import release_store, store
from services.por_validator.handlers import SOURCE, project_registry_event

log = logging.getLogger(__name__)


def make_registry_handler(
    enforcement_start: datetime, regions: RegionTable, window_s: float
) -> Handler:
    window = timedelta(seconds=window_s)

    async def release_after(conn: asyncpg.Connection, event: CloudEvent[Any]) -> Emitted:
        dependents = dependents_of(event.data)
        if dependents is None:
            return ()
        since = datetime.now(UTC) - window
        if dependents.partner_ids or dependents.tenant_id:
            partner_ids = list(dependents.partner_ids)
            if dependents.tenant_id:
                partner_ids += await release_store.partner_ids_of_tenant(conn, dependents.tenant_id)
            blocked = await release_store.blocked_with_partner_ids(
                conn, partner_ids, since, dependents.distributor_id
            )
        else:
            assert dependents.distributor_id is not None
            blocked = await release_store.blocked_of_distributor(
                conn, dependents.distributor_id, since
            )
        if not blocked:
            return ()
        requests = [ValidationRequested.model_validate(b.request) for b in blocked]
        registry = await store.registry_for(
            conn,
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
        still_blocked = len(blocked) - len(pairs)
        after_commit(lambda: metrics.RELEASED.labels("still_blocked").inc(still_blocked))
        if not pairs:
            return ()
        inserted = await store.record_decisions(conn, pairs)
        pairs = [(r, d) for r, d in pairs if d.decision_id in inserted]
        released_n = len(pairs)
        after_commit(lambda: metrics.RELEASED.labels("released").inc(released_n))
        log.info(
            "released blocked transactions",
            extra={
                "event_id": event.id,
                "released": [(r.supersedes_decision_id, d.decision_id) for r, d in pairs],
            },
        )
        return [
            Outgoing(DECISIONS, d.transaction_key, decision_event(d, source=SOURCE))
            for _, d in pairs
        ]

    async def release_safely(conn: asyncpg.Connection, event: CloudEvent[Any]) -> Emitted:
        """Releasing may fail (a stored request the model no longer reads, a timeout): that
        must not dead-letter the fact itself, which the validator needs whatever happens."""
        try:
            async with conn.transaction():  # a savepoint: a failure undoes only the release
                return await release_after(conn, event)
        except Exception as exc:
            if is_transient(exc):
                raise  # the database or the connection: the whole batch is retried
            after_commit(lambda: metrics.RELEASED.labels("failed").inc())
            log.exception("releasing after a registry change failed", extra={"event_id": event.id})
            return ()

    async def on_registry_events(
        conn: asyncpg.Connection, events: list[CloudEvent[Any]]
    ) -> list[Emitted]:
        await release_store.lock_for_registry_change(conn)
        emitted: list[Emitted] = []
        for event in events:  # in order: each release sees the facts before it
            region_before = await _region_before(conn, event.data)
            await project_registry_event(conn, event)
            if region_before is not None and region_before == await _region_before(
                conn, event.data
            ):
                emitted.append(())  # a distributor's name or language: frees nothing
                continue
            emitted.append(await release_safely(conn, event))
        return emitted

    return on_registry_events


async def _region_before(conn: asyncpg.Connection, fact: object) -> tuple | None:
    """For a distributor upsert, what region matching reads of it now; None for other facts."""
    if not isinstance(fact, DistributorUpserted):
        return None
    return await release_store.distributor_region(conn, fact.distributor_id) or ("unknown",)
