"""notifier's unit of work in memory: its registry projection, the subscriptions seen and
the notifications queued."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from contracts.events import (
    CustomerAssignmentUpserted,
    DistributorUpserted,
    GdapPrivilegesRevoked,
    GdapRelationshipUpserted,
    PartnerAccountUpserted,
    PartnershipUpserted,
    ResellerTenantUpserted,
    TransactionDecision,
)
from services.domain.at_risk import SeenSubscription, seen_in
from services.domain.por_rules import Distributor, Registry, normalize_partner_id
from services.domain.regions import RegionTable
from services.domain.registry_rows import add_account
from services.notifier.notifications import Notification
from services.notifier.remediation_store import MAX_ORGANISATION
from services.notifier.store import PartnershipState
from tests.fakes.unit_of_work import FakeUnitOfWork


class FakeNotifierUnitOfWork(FakeUnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        # table -> key -> (fact, as of)
        self.registry: dict[type, dict[Any, tuple[Any, datetime]]] = {
            kind: {} for kind in (*_KEYS, PartnershipUpserted)
        }
        self.revoked: dict[str, GdapPrivilegesRevoked] = {}
        self.seen: dict[tuple[str, str, str], SeenSubscription] = {}
        self.notifications: dict[str, Notification] = {}

    def _keep(self, fact: Any, key: Any, as_of: datetime) -> None:
        table = self.registry[type(fact)]
        known = table.get(key)
        if known is None or known[1] <= as_of:  # an older fact never overwrites a newer one
            table[key] = (fact, as_of)

    def _facts(self, kind: type) -> list[Any]:
        return [fact for fact, _ in self.registry[kind].values()]

    async def project(self, fact: object, as_of: datetime) -> bool:
        key = _KEYS.get(type(fact))
        if key is None:
            return False
        self._keep(fact, key(fact), as_of)
        return True

    async def upsert_partnership(
        self, p: PartnershipUpserted, as_of: datetime
    ) -> PartnershipState | None:
        key = (p.distributor_id, p.reseller_tenant_id)
        known = self.registry[PartnershipUpserted].get(key)
        self._keep(p, key, as_of)
        return PartnershipState(known[0].status, known[1]) if known else None

    async def mark_revoked(self, r: GdapPrivilegesRevoked, cause_event_id: str) -> None:
        self.revoked.setdefault(r.relationship_id, r)

    async def languages(self, distributor_ids: Sequence[str]) -> dict[str, str]:
        known = self.registry[DistributorUpserted]
        return {d: known[d][0].preferred_language for d in distributor_ids if d in known}

    async def assigned_distributors(self, customer_id: str, reseller_tenant_id: str) -> list[str]:
        return sorted(
            {
                a.distributor_id
                for a in self._facts(CustomerAssignmentUpserted)
                if (a.customer_id, a.reseller_tenant_id) == (customer_id, reseller_tenant_id)
            }
        )

    async def partnered_distributors(self, reseller_tenant_id: str) -> list[str]:
        return [
            p.distributor_id
            for p in self._facts(PartnershipUpserted)
            if p.reseller_tenant_id == reseller_tenant_id
        ]

    async def still_administered(
        self, distributor_id: str, reseller_tenant_id: str, as_of: datetime
    ) -> list[Mapping[str, Any]]:
        customers = {
            a.customer_id
            for a in self._facts(CustomerAssignmentUpserted)
            if (a.reseller_tenant_id, a.distributor_id) == (reseller_tenant_id, distributor_id)
        }
        rows = [
            {"customer_id": g.customer_id, "relationship_id": g.relationship_id, "roles": g.roles}
            for g in self._facts(GdapRelationshipUpserted)
            if g.reseller_tenant_id == reseller_tenant_id
            and g.status == "active"
            and (g.ends_at is None or g.ends_at > as_of)
            and g.relationship_id not in self.revoked
            and g.customer_id in customers
        ]
        return sorted(rows, key=lambda r: (r["customer_id"], r["relationship_id"]))

    async def insert_notification(self, n: Notification) -> bool:
        if n.notification_id in self.notifications:
            return False
        self.notifications[n.notification_id] = n
        return True

    async def record_seen(self, decision: TransactionDecision) -> None:
        for s in seen_in(decision):
            if s.subscription_id is not None:
                key = ("subscription", s.subscription_id, s.line_item_id or "")
            else:
                key = ("order_line", s.order_id, s.line_item_id or "")
            known = self.seen.get(key)
            if known is not None and known.last_seen_at > s.last_seen_at:
                continue
            if known is not None and s.partner_id_on_record is None:
                # A change without a PLA id leaves the POR known before it.
                s = replace(s, partner_id_on_record=known.partner_id_on_record)
            self.seen[key] = s

    async def remediation_registry(
        self, partner_ids: Iterable[str | None], distributor_id: str, regions: RegionTable
    ) -> tuple[Registry, str | None]:
        accounts = {a.partner_id.strip(): a for a in self._facts(PartnerAccountUpserted)}
        pids = sorted({p for p in map(normalize_partner_id, partner_ids) if p is not None})
        # The organisations are the PGA ids the given PLAs name, and given PGAs' own ids.
        organisations = {
            (a.global_partner_id or "").strip()
            or (a.partner_id.strip() if a.account_type == "PGA" else None)
            for p in pids
            if (a := accounts.get(p)) is not None
        } - {None}
        members = sorted(
            pid
            for pid, a in accounts.items()
            if pid in organisations or (a.global_partner_id or "").strip() in organisations
        )[:MAX_ORGANISATION]
        registry = Registry()
        distributor = self.registry[DistributorUpserted].get(distributor_id)
        if distributor is not None:
            d: DistributorUpserted = distributor[0]
            registry.distributors[distributor_id] = Distributor(
                distributor_id, regions.region_for(d.country, d.csp_region), d.preferred_language
            )
        tenants = self.registry[ResellerTenantUpserted]
        partnerships = self.registry[PartnershipUpserted]
        for pid in {*pids, *members} & accounts.keys():
            a = accounts[pid]
            t = tenants[a.reseller_tenant_id][0] if a.reseller_tenant_id in tenants else None
            row = {
                "partner_id": pid,
                "account_type": a.account_type,
                "status": a.status,
                "reseller_tenant_id": a.reseller_tenant_id,
                "global_partner_id": a.global_partner_id.strip() if a.global_partner_id else None,
                "tenant_id": t and t.reseller_tenant_id,
                "kind": t and t.kind,
                "tenant_status": t and t.status,
                "indirect_reseller_authorized": t and t.indirect_reseller_authorized,
                "country": t and t.country,
                "csp_region": t and t.csp_region,
            }
            add_account(registry, row, regions)
            partnership = partnerships.get((distributor_id, a.reseller_tenant_id))
            if partnership is not None and partnership[0].status == "active":
                registry.active_partnerships.add((distributor_id, a.reseller_tenant_id))
        url = distributor[0].partnership_request_url if distributor is not None else None
        return registry, url

    def queued(self, kind: str | None = None) -> list[Notification]:
        """The notifications queued (of one kind), in the order queued: for assertions."""
        return [n for n in self.notifications.values() if kind in (None, n.kind)]


# How each projected fact is keyed, as the PostgreSQL tables are.
_KEYS = {
    DistributorUpserted: lambda d: d.distributor_id,
    PartnerAccountUpserted: lambda a: a.partner_id.strip(),
    ResellerTenantUpserted: lambda t: t.reseller_tenant_id,
    CustomerAssignmentUpserted: lambda a: (a.customer_id, a.reseller_tenant_id, a.distributor_id),
    GdapRelationshipUpserted: lambda g: g.relationship_id,
}
