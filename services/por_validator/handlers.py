"""por-validator's handlers: project the registry; decide validation requests."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import asyncpg

from contracts import events as ev
from contracts.codec import decision_event
from contracts.envelope import CloudEvent
from contracts.events import TransactionDecision
from contracts.topics import DECISIONS
from services.common import metrics
from services.common.service import (
    Emitted,
    Handler,
    Outgoing,
    by_data_type,
    per_event,
    projecting_with_id,
)
from services.domain.authority import decide_with_answers, drifts
from services.domain.decisions import decide
from services.domain.por_rules import Registry
from services.domain.regions import RegionTable
from services.por_validator import store
from services.por_validator.explanation import with_explanations
from services.por_validator.partner_center import Answers

SOURCE = "/porgate/por-validator"
log = logging.getLogger(__name__)


# Customer assignments and GDAP relationships are not the validator's concern.
on_registry_events = per_event(
    by_data_type(
        {
            ev.DistributorUpserted: projecting_with_id(store.upsert_distributor),
            ev.PartnerAccountUpserted: projecting_with_id(store.upsert_partner_account),
            ev.ResellerTenantUpserted: projecting_with_id(store.upsert_reseller_tenant),
            ev.PartnershipUpserted: projecting_with_id(store.upsert_partnership),
        }
    )
)


def make_validation_handler(
    enforcement_start: datetime, regions: RegionTable, answers: Answers | None = None
) -> Handler:
    """The handler for a batch of validation requests: decided by the registry, or by
    Partner Center's `answers` (by distributor) when it is the authority.

    A batch reads the registry once and writes its decisions in one statement: per-event
    round trips to PostgreSQL were the validator's main cost.
    """

    def decide_one(request: ev.ValidationRequested, registry: Registry, decided_at: datetime):
        by_partner_center = None if answers is None else answers.get(request.distributor_id)
        if by_partner_center is None:
            return decide(
                request, registry, enforcement_start=enforcement_start, decided_at=decided_at
            )
        return decide_with_answers(
            request,
            registry,
            by_partner_center,
            enforcement_start=enforcement_start,
            decided_at=decided_at,
        )

    async def on_validation_requests(
        conn: asyncpg.Connection, events: list[CloudEvent[Any]]
    ) -> list[Emitted]:
        requests: list[ev.ValidationRequested] = [e.data for e in events]
        registry = await store.registry_for(
            conn,
            (line.partner_id_on_record for r in requests for line in r.lines),
            {r.distributor_id for r in requests},
            regions,
        )
        decided_at = datetime.now(UTC)
        decisions = [decide_one(r, registry, decided_at) for r in requests]
        decisions = await with_explanations(conn, decisions, registry)
        await store.record_decisions(conn, list(zip(requests, decisions, strict=True)))
        _count(decisions, partner_center_mode=answers is not None)
        # One line per batch, not per decision: logging is on the hot path.
        log.info(
            "decided",
            extra={
                "decisions": [
                    {
                        "event_id": e.id,
                        "decision_id": d.decision_id,
                        "outcome": d.outcome,
                        "codes": d.error_codes,
                        "authority": d.authority,
                    }
                    for e, d in zip(events, decisions, strict=True)
                ]
            },
        )
        return [
            [Outgoing(DECISIONS, d.transaction_key, decision_event(d, source=SOURCE))]
            for d in decisions
        ]

    return on_validation_requests


def _count(decisions: list[TransactionDecision], *, partner_center_mode: bool) -> None:
    counts = Counter((d.outcome, d.basis, str(d.primary_error_code or "")) for d in decisions)
    for labels, n in counts.items():
        metrics.DECISIONS.labels(*labels).inc(n)
    if not partner_center_mode:
        return
    for authority, n in Counter(d.authority for d in decisions).items():
        metrics.PARTNER_CENTER_AUTHORITY.labels(authority).inc(n)
    for d in decisions:
        if d.registry_drift:
            for drift in drifts(d):
                metrics.PARTNER_CENTER_DRIFT.labels(
                    str(drift.partner_center_code or "none"),
                    ",".join(map(str, drift.registry_codes)) or "none",
                ).inc()
