"""Automatic release: which blocked transactions a registry fact can free, and the decision
that frees one. Pure.

A transaction blocked because its reseller's tenant was suspended goes through the moment
the tenant is active again: por-validator re-decides the blocked transactions whose lines
depend on the fact that changed, and publishes an accepted decision superseding each one
that passes now. The new decision's id derives from (blocked decision, registry event), so
a replay of the registry topic publishes nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from contracts.events import (
    DistributorUpserted,
    PartnerAccountUpserted,
    PartnershipUpserted,
    ResellerTenantUpserted,
    TransactionDecision,
    ValidationRequested,
)
from contracts.ids import derived_event_id
from services.domain.decisions import decide
from services.domain.por_rules import Registry


@dataclass(frozen=True, slots=True)
class Dependents:
    """Where the blocked lines a fact can free are: by PLA id, by the PLA ids of a reseller
    tenant, or by distributor; `distributor_id` narrows the first two to one distributor."""

    partner_ids: tuple[str, ...] = ()
    tenant_id: str | None = None
    distributor_id: str | None = None


def dependents_of(fact: object) -> Dependents | None:
    """The lines a registry upsert may free; None when it can free nothing (it makes a fact
    worse, or is not a fact the rules read)."""
    match fact:
        case PartnerAccountUpserted(status="active"):
            return Dependents(partner_ids=(fact.partner_id.strip(),))
        case ResellerTenantUpserted(status="active"):
            return Dependents(tenant_id=fact.reseller_tenant_id)
        case PartnershipUpserted(status="active"):
            return Dependents(tenant_id=fact.reseller_tenant_id, distributor_id=fact.distributor_id)
        case DistributorUpserted():
            # Its region can change which resellers match it.
            return Dependents(distributor_id=fact.distributor_id)
    return None


def release_id(blocked_decision_id: str, registry_event_id: str) -> str:
    return derived_event_id("release", blocked_decision_id, registry_event_id)


def released(
    blocked_decision_id: str,
    request: ValidationRequested,
    registry: Registry,
    *,
    registry_event_id: str,
    enforcement_start: datetime,
    decided_at: datetime,
) -> tuple[ValidationRequested, TransactionDecision] | None:
    """The accepted decision superseding a blocked one, if it passes now (and the request
    as re-decided, naming the decision it supersedes); None if it is still blocked."""
    revised = request.model_copy(update={"supersedes_decision_id": blocked_decision_id})
    decision = decide(
        revised,
        registry,
        enforcement_start=enforcement_start,
        decided_at=decided_at,
        decision_id=release_id(blocked_decision_id, registry_event_id),
    )
    return None if decision.outcome == "blocked" else (revised, decision)
