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
    after_commit,
    by_data_type,
    per_event,
    projecting_with_id,
)
from services.domain.authority import decide_with_answers, drifts
from services.domain.decisions import decide
from services.domain.observe import mode_for, observed
from services.domain.por_rules import Registry
from services.domain.regions import RegionTable
from services.por_validator import release_store, store
from services.por_validator.explanation import with_explanations
from services.por_validator.partner_center import Answers

SOURCE = "/porgate/por-validator"
log = logging.getLogger(__name__)


# Customer assignments and GDAP relationships are not the validator's concern.
project_registry_event = by_data_type(
    {
        ev.DistributorUpserted: projecting_with_id(store.upsert_distributor),
        ev.PartnerAccountUpserted: projecting_with_id(store.upsert_partner_account),
        ev.ResellerTenantUpserted: projecting_with_id(store.upsert_reseller_tenant),
        ev.PartnershipUpserted: projecting_with_id(store.upsert_partnership),
    }
)
on_registry_events = per_event(project_registry_event)


def make_validation_handler(
    enforcement_start: datetime,
    regions: RegionTable,
    answers: Answers | None = None,
    *,
    enforcement_mode: str = "enforce",
    beside_release: bool = False,
) -> Handler:
    """The handler for a batch of validation requests: decided by the registry, or by
    Partner Center's `answers` (by distributor) when it is the authority; in observe mode
    (the setting, or the distributor's own) what would be blocked is accepted, saying so.
    `beside_release`: registry changes release blocked decisions (release_store.lock_for_deciding).

    A batch reads the registry once and writes its decisions in one statement: per-event
    round trips to PostgreSQL were the validator's main cost.
    """

    def decide_one(request: ev.ValidationRequested, registry: Registry, decided_at: datetime):
        by_partner_center = None if answers is None else answers.get(request.distributor_id)
        if by_partner_center is None:
            decision = decide(
                request, registry, enforcement_start=enforcement_start, decided_at=decided_at
            )
        else:
            decision = decide_with_answers(
                request,
                registry,
                by_partner_center,
                enforcement_start=enforcement_start,
                decided_at=decided_at,
            )
        observing = mode_for(request.distributor_id, registry, enforcement_mode) == "observe"
        return observed(decision) if observing else decision

    async def on_validation_requests(
        conn: asyncpg.Connection, events: list[CloudEvent[Any]]
    ) -> list[Emitted]:
        requests: list[ev.ValidationRequested] = [e.data for e in events]
        if beside_release:
            await release_store.lock_for_deciding(conn)
        registry = await store.registry_for(
            conn,
            (line.partner_id_on_record for r in requests for line in r.lines),
            {r.distributor_id for r in requests},
            regions,
        )
        decided_at = datetime.now(UTC)
        decisions = [decide_one(r, registry, decided_at) for r in requests]
        decisions = await with_explanations(conn, decisions, registry)
        inserted = await store.record_decisions(conn, list(zip(requests, decisions, strict=True)))
        after_commit(lambda: _count(decisions, partner_center_mode=answers is not None))
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
        # A decision not inserted was recorded, and queued in the outbox, before: or it lost
        # the race to supersede a blocked decision (a release got there first).
        return [
            [Outgoing(DECISIONS, d.transaction_key, decision_event(d, source=SOURCE))]
            if d.decision_id in inserted
            else []
            for d in decisions
        ]

    return on_validation_requests


def _count(decisions: list[TransactionDecision], *, partner_center_mode: bool) -> None:
    counts = Counter((d.outcome, d.basis, str(d.primary_error_code or "")) for d in decisions)
    for labels, n in counts.items():
        metrics.DECISIONS.labels(*labels).inc(n)
    would_block = Counter(d.observed_error_codes[0] for d in decisions if d.observed_error_codes)
    for code, n in would_block.items():
        metrics.WOULD_BLOCK.labels(str(code)).inc(n)
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
