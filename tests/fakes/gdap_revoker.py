"""gdap-revoker's unit of work in memory: its registry projection and termination intents."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from contracts.events import (
    CustomerAssignmentUpserted,
    GdapRelationshipUpserted,
    ResellerTenantUpserted,
)
from services.gdap_revoker.revocation import Relationship, Termination
from tests.fakes.unit_of_work import FakeUnitOfWork


class FakeRevokerUnitOfWork(FakeUnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        self.tenants: dict[str, dict[str, Any]] = {}  # status, event_id, as_of
        # (distributor, customer, reseller) -> (status, as_of)
        self.assignments: dict[tuple[str, str, str], tuple[str, datetime]] = {}
        # relationship id -> (relationship, distributor id, as_of)
        self.relationships: dict[str, tuple[Relationship, str | None, datetime]] = {}
        # relationship id -> the intent and its queue state ("pending", "failed", ...)
        self.terminations: dict[str, dict[str, Any]] = {}
        self.locked: list[str] = []

    async def lock_reseller(self, reseller_tenant_id: str) -> None:
        self.locked.append(reseller_tenant_id)

    async def upsert_tenant(
        self, t: ResellerTenantUpserted, as_of: datetime, event_id: str
    ) -> bool:
        known = self.tenants.get(t.reseller_tenant_id)
        if known is not None and known["as_of"] > as_of:
            return False
        self.tenants[t.reseller_tenant_id] = {
            "status": t.status,
            "event_id": event_id,
            "as_of": as_of,
        }
        return True

    async def upsert_assignment(self, a: CustomerAssignmentUpserted, as_of: datetime) -> bool:
        key = (a.distributor_id, a.customer_id, a.reseller_tenant_id)
        known = self.assignments.get(key)
        if known is not None and known[1] > as_of:
            return False
        self.assignments[key] = (a.status, as_of)
        return True

    async def upsert_relationship(self, r: GdapRelationshipUpserted, as_of: datetime) -> bool:
        known = self.relationships.get(r.relationship_id)
        if known is not None and known[2] > as_of:
            return False
        status = "terminated" if known and known[0].status == "terminated" else r.status
        distributor = r.distributor_id or (known[1] if known else None)
        rel = Relationship(
            r.relationship_id, r.customer_id, r.reseller_tenant_id, status, r.ends_at
        )
        self.relationships[r.relationship_id] = (rel, distributor, as_of)
        return True

    async def settle_soon(self, relationship_id: str) -> bool:
        t = self.terminations.get(relationship_id)
        if t is None or t["state"] not in ("pending", "requested") or t["due_now"]:
            return False
        t["due_now"] = True
        return True

    async def act_again(self, relationship_id: str) -> bool:
        t = self.terminations.get(relationship_id)
        if t is None or t["state"] != "failed":
            return False
        t.update(state="pending", due_now=True)
        return True

    async def relationship(self, relationship_id: str) -> Relationship | None:
        known = self.relationships.get(relationship_id)
        return known[0] if known else None

    async def unrevoked_relationships(
        self, reseller_tenant_id: str, customer_id: str | None = None
    ) -> list[Relationship]:
        return [
            rel
            for rid, (rel, _, _) in sorted(self.relationships.items())
            if rel.reseller_tenant_id == reseller_tenant_id
            and customer_id in (None, rel.customer_id)
            and rid not in self.terminations
        ]

    async def tenant(self, reseller_tenant_id: str) -> Mapping[str, Any] | None:
        known = self.tenants.get(reseller_tenant_id)
        return None if known is None else {"status": known["status"], "event_id": known["event_id"]}

    async def assigned_elsewhere(self, a: CustomerAssignmentUpserted) -> bool:
        return any(
            (c, r) == (a.customer_id, a.reseller_tenant_id)
            and d != a.distributor_id
            and status == "assigned"
            for (d, c, r), (status, _) in self.assignments.items()
        )

    async def record_terminations(self, terminations: Sequence[Termination]) -> int:
        queued = 0
        for t in terminations:
            if t.relationship_id in self.terminations:
                continue
            self.terminations[t.relationship_id] = {
                "termination": t,
                "state": "pending",
                "due_now": True,  # a new intent is tried at once
            }
            queued += 1
        return queued

    def fail(self, relationship_id: str) -> None:
        """As the terminator does when a termination runs out of attempts."""
        self.terminations[relationship_id].update(state="failed", due_now=False)

    def poll_later(self, relationship_id: str) -> None:
        """As the terminator does when Graph accepted the request: read it back later."""
        self.terminations[relationship_id].update(state="requested", due_now=False)

    def queued(self) -> list[Termination]:
        return [t["termination"] for t in self.terminations.values()]
