"""por-validator's unit of work in memory: the registry projection and the decisions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from contracts.envelope import CloudEvent
from contracts.events import (
    DistributorUpserted,
    PartnerAccountUpserted,
    PartnershipUpserted,
    ResellerTenantUpserted,
    TransactionDecision,
    ValidationRequested,
)
from services.domain.explain import Provenance
from services.domain.por_rules import Distributor, Registry, Source, normalize_partner_id
from services.domain.regions import RegionTable
from services.domain.registry_rows import add_account
from services.por_validator.decision_store import BlockedDecision
from tests.fakes.unit_of_work import FakeUnitOfWork

# (the fact, as of, the event that set it)
Row = tuple[Any, datetime, str]


class FakeValidatorUnitOfWork(FakeUnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        self.distributors: dict[str, Row] = {}
        self.accounts: dict[str, Row] = {}
        self.tenants: dict[str, Row] = {}
        self.partnerships: dict[tuple[str, str], Row] = {}
        # decision id -> (request, decision), in the order recorded
        self.decisions: dict[str, tuple[ValidationRequested, TransactionDecision]] = {}
        self.locks: list[str] = []
        # Parked validation requests, in the order parked: (event, reason).
        self.parked: list[tuple[CloudEvent[Any], str]] = []

    async def lock_for_deciding(self) -> None:
        self.locks.append("deciding")

    async def lock_for_registry_change(self) -> None:
        self.locks.append("registry-change")

    async def project(self, fact: object, as_of: datetime, event_id: str) -> bool:
        match fact:
            case DistributorUpserted():
                table, key = self.distributors, fact.distributor_id
            case PartnerAccountUpserted():
                table, key = self.accounts, fact.partner_id.strip()
            case ResellerTenantUpserted():
                table, key = self.tenants, fact.reseller_tenant_id
            case PartnershipUpserted():
                table, key = self.partnerships, (fact.distributor_id, fact.reseller_tenant_id)
            case _:
                return False
        known = table.get(key)
        if known is None or known[1] <= as_of:  # an older fact never overwrites a newer one
            table[key] = (fact, as_of, event_id)
        return True

    async def registry_for(
        self, partner_ids: Iterable[object], distributor_ids: Iterable[str], regions: RegionTable
    ) -> Registry:
        pids = {p for p in map(normalize_partner_id, partner_ids) if p is not None}
        dids = set(distributor_ids)
        registry = Registry()
        for did in dids & self.distributors.keys():
            d: DistributorUpserted = self.distributors[did][0]
            registry.distributors[did] = Distributor(
                did,
                regions.region_for(d.country, d.csp_region),
                d.preferred_language,
                d.enforcement_mode,
            )
        for pid in pids & self.accounts.keys():
            a: PartnerAccountUpserted = self.accounts[pid][0]
            t: ResellerTenantUpserted | None = (
                self.tenants[a.reseller_tenant_id][0]
                if a.reseller_tenant_id in self.tenants
                else None
            )
            row = {
                "partner_id": pid,
                "account_type": a.account_type,
                "status": a.status,
                "reseller_tenant_id": a.reseller_tenant_id,
                "tenant_id": t and t.reseller_tenant_id,
                "kind": t and t.kind,
                "tenant_status": t and t.status,
                "indirect_reseller_authorized": t and t.indirect_reseller_authorized,
                "country": t and t.country,
                "csp_region": t and t.csp_region,
            }
            add_account(registry, row, regions)
            for (did, tid), (p, _, _) in self.partnerships.items():
                if tid == a.reseller_tenant_id and did in dids and p.status == "active":
                    registry.active_partnerships.add((did, tid))
        return registry

    async def provenance_for(
        self, partner_ids: Iterable[object], distributor_ids: Iterable[str]
    ) -> dict[Source, Provenance]:
        pids = {p for p in map(normalize_partner_id, partner_ids) if p is not None}
        dids = set(distributor_ids)
        out: dict[Source, Provenance] = {}
        # Account and tenant rows are shared by every distributor: none of their provenance.
        tenant_ids = {
            self.accounts[pid][0].reseller_tenant_id for pid in pids & self.accounts.keys()
        }
        for did in dids & self.distributors.keys():
            out[("distributor", did)] = Provenance(*self.distributors[did][1:])
        for (did, tid), (_, as_of, event_id) in self.partnerships.items():
            if did in dids and tid in tenant_ids:
                out[("partnership", did, tid)] = Provenance(as_of, event_id)
        return out

    async def distributor_region(self, distributor_id: str) -> tuple | None:
        known = self.distributors.get(distributor_id)
        return None if known is None else (known[0].country, known[0].csp_region)

    async def partner_ids_of_tenant(self, tenant_id: str) -> list[str]:
        return [
            pid for pid, (a, _, _) in self.accounts.items() if a.reseller_tenant_id == tenant_id
        ]

    async def record_decisions(
        self,
        pairs: list[tuple[ValidationRequested, TransactionDecision]],
        decision_json: Sequence[str] | None = None,
    ) -> set[str]:
        inserted = set()
        superseded = {d.supersedes_decision_id for _, d in self.decisions.values()}
        for request, decision in pairs:
            # Recorded once; a decision superseded at most once.
            if decision.decision_id in self.decisions or (
                decision.supersedes_decision_id is not None
                and decision.supersedes_decision_id in superseded
            ):
                continue
            self.decisions[decision.decision_id] = (request, decision)
            superseded.add(decision.supersedes_decision_id)
            inserted.add(decision.decision_id)
        return inserted

    async def still_blocked(
        self,
        *,
        distributor: str | None = None,
        since: datetime | None = None,
        partner_ids: Sequence[str] | None = None,
    ) -> list[BlockedDecision]:
        superseded = {d.supersedes_decision_id for _, d in self.decisions.values()}
        found = [
            BlockedDecision(
                d.decision_id,
                request.model_dump(mode="json", by_alias=True),
                d.decided_at,
                list(d.error_codes),
            )
            for request, d in self.decisions.values()
            if d.outcome == "blocked"
            and d.decision_id not in superseded
            and (distributor is None or d.distributor_id == distributor)
            and (since is None or d.decided_at >= since)
            and (
                partner_ids is None
                or any(
                    line.error_codes
                    and normalize_partner_id(line.partner_id_on_record) in partner_ids
                    for line in d.lines
                )
            )
        ]
        return sorted(found, key=lambda b: (b.decided_at, b.decision_id))

    async def parked_among(self, distributor_ids: Iterable[str]) -> set[str]:
        return set(distributor_ids) & {e.data.distributor_id for e, _ in self.parked}

    async def park(self, parked: Sequence[tuple[CloudEvent[Any], str]]) -> None:
        self.parked.extend(parked)
