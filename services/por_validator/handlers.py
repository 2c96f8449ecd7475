"""por-validator's handlers: decide validation requests; keep the registry, releasing the
blocked transactions a registry change frees.

Each handler takes a batch: its new events and the unit of work of its transaction. A batch
reads the registry once and writes its decisions in one statement: per-event round trips to
PostgreSQL were the validator's main cost.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from contracts.codec import decision_event, encode_data, encode_with_data
from contracts.envelope import CloudEvent
from contracts.events import DistributorUpserted, TransactionDecision, ValidationRequested
from contracts.topics import DECISIONS
from services.common.handling import Emitted, Outgoing, after_commit
from services.domain.authority import Answer, drifts
from services.domain.decisions import decision, judge
from services.domain.regions import RegionTable
from services.por_validator import metrics
from services.por_validator.release import release_after
from services.por_validator.unit_of_work import ValidatorUnitOfWork

SOURCE = "/porgate/por-validator"
log = logging.getLogger(__name__)

# Partner Center's answers by PLA id for each distributor of a batch; None for a distributor
# without credentials (the registry decides its transactions).
Answers = Mapping[str, Mapping[str, Answer] | None]


@dataclass(frozen=True, slots=True)
class Validation:
    """What deciding reads of the settings."""

    enforcement_start: datetime
    regions: RegionTable
    # The setting; a distributor's own enforcement mode wins over it.
    enforcement_mode: str = "enforce"
    # Registry changes release the blocked decisions of this window that they free (seconds);
    # None: no automatic release.
    release_window_s: float | None = None


async def decide_requests(
    events: list[CloudEvent[Any]],
    uow: ValidatorUnitOfWork,
    *,
    validation: Validation,
    answers: Answers | None = None,
) -> list[Emitted]:
    """Decide each validation request: by the registry, or by Partner Center's `answers`
    where it is the authority (prefetched by partner_center.PartnerCenterGate)."""
    requests: list[ValidationRequested] = [e.data for e in events]
    if validation.release_window_s is not None:
        await uow.lock_for_deciding()
    registry = await uow.registry_for(
        [line.partner_id_on_record for r in requests for line in r.lines],
        {r.distributor_id for r in requests},
        validation.regions,
    )
    judgements = [
        judge(
            r,
            registry,
            enforcement_start=validation.enforcement_start,
            mode=validation.enforcement_mode,
            answers=None if answers is None else answers.get(r.distributor_id),
        )
        for r in requests
    ]
    # The walks of blocked lines read the registry rows' provenance: one more statement, for
    # the batches that have any. Here, not in the notifier: the notifier projects no accounts
    # or tenants, and a walk done later would explain a later registry.
    provenance = None
    if explained := [(j, pid) for j in judgements for pid in j.to_explain()]:
        provenance = await uow.provenance_for(
            [pid for _, pid in explained], {j.request.distributor_id for j, _ in explained}
        )
    decided_at = datetime.now(UTC)
    decisions = [
        decision(j, registry, decided_at=decided_at, provenance=provenance) for j in judgements
    ]
    # Each decision's JSON once, for its row and its event (its walks make it most of both).
    data = [encode_data(d) for d in decisions]
    inserted = await uow.record_decisions(
        list(zip(requests, decisions, strict=True)), [j.decode() for j in data]
    )
    after_commit(_count, decisions, answers is not None)
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
        [published(d, j)] if d.decision_id in inserted else []
        for d, j in zip(decisions, data, strict=True)
    ]


async def on_registry_events(
    events: list[CloudEvent[Any]], uow: ValidatorUnitOfWork, *, validation: Validation
) -> list[Emitted]:
    """Keep each registry fact; with automatic release, then publish the decisions that
    release the blocked transactions it frees."""
    if validation.release_window_s is None:
        for event in events:
            await uow.project(event.data, event.time, event.id)
        return [()] * len(events)
    await uow.lock_for_registry_change()
    emitted: list[Emitted] = []
    for event in events:  # in order: each release sees the facts before it
        fact = event.data
        region_before = await _region_of(uow, fact)
        if not await uow.project(fact, event.time, event.id) or (
            region_before is not None and region_before == await _region_of(uow, fact)
        ):
            emitted.append(())  # not the validator's, or a distributor's name or language
            continue
        released = await release_after(
            event,
            uow,
            enforcement_start=validation.enforcement_start,
            regions=validation.regions,
            window_s=validation.release_window_s,
        )
        emitted.append([published(d) for d in released])
    return emitted


def published(decision: TransactionDecision, data: bytes | None = None) -> Outgoing:
    """The decision's event; `data`: its JSON already at hand (codec.encode_data)."""
    event = decision_event(decision, source=SOURCE)
    value = None if data is None else encode_with_data(event, data)
    return Outgoing(DECISIONS, decision.transaction_key, event, value)


async def _region_of(uow: ValidatorUnitOfWork, fact: object) -> tuple | None:
    """For a distributor's fact, what region matching reads of the distributor now; None for
    other facts."""
    if not isinstance(fact, DistributorUpserted):
        return None
    return await uow.distributor_region(fact.distributor_id) or ("unknown",)


def _count(decisions: list[TransactionDecision], partner_center_mode: bool) -> None:
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
