"""notifier's unit of work: its registry projection, the subscriptions it has seen and its
notifications queue in the transaction of a batch, beside the inbox. The port its handlers
use and its PostgreSQL side; the in-memory fake is tests/fakes/notifier.py."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any, Protocol

import asyncpg

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
from services.common.unit_of_work import PostgresUnitOfWork, UnitOfWork
from services.domain.por_rules import Registry
from services.domain.regions import RegionTable
from services.notifier import at_risk_store, remediation_store, store
from services.notifier.notifications import Notification
from services.notifier.store import PartnershipState

# The registry facts the notifier keeps as they come (partnerships are upserted apart: their
# removal is a notification's cause). Accounts and tenants only for what the rules read.
ProjectedFact = (
    DistributorUpserted
    | PartnerAccountUpserted
    | ResellerTenantUpserted
    | CustomerAssignmentUpserted
    | GdapRelationshipUpserted
)
_UPSERTS = {
    DistributorUpserted: store.upsert_distributor,
    PartnerAccountUpserted: at_risk_store.upsert_partner_account,
    ResellerTenantUpserted: at_risk_store.upsert_reseller_tenant,
    CustomerAssignmentUpserted: store.upsert_customer_assignment,
    GdapRelationshipUpserted: store.upsert_gdap_relationship,
}


class NotifierUnitOfWork(UnitOfWork, Protocol):
    """Each projection keeps the newer state: a replayed older fact changes nothing."""

    async def project(self, fact: object, as_of: datetime) -> bool:
        """Keep a registry fact; False when it is none the notifier keeps as it comes."""
        ...

    async def upsert_partnership(
        self, p: PartnershipUpserted, as_of: datetime
    ) -> PartnershipState | None:
        """Upsert, and the state before it (read and written as one step)."""
        ...

    async def mark_revoked(self, r: GdapPrivilegesRevoked, cause_event_id: str) -> None: ...

    async def languages(self, distributor_ids: Sequence[str]) -> dict[str, str]:
        """The preferred language of each known distributor."""
        ...

    async def assigned_distributors(self, customer_id: str, reseller_tenant_id: str) -> list[str]:
        """The distributors the customer is assigned to the reseller through, in any status."""
        ...

    async def partnered_distributors(self, reseller_tenant_id: str) -> list[str]:
        """The distributors with a partnership (in any status) with the reseller."""
        ...

    async def still_administered(
        self, distributor_id: str, reseller_tenant_id: str, as_of: datetime
    ) -> list[Mapping[str, Any]]:
        """(customer_id, relationship_id, roles) of the reseller's active, unrevoked, unexpired
        GDAP relationships over this distributor's customers, by customer and relationship."""
        ...

    async def insert_notification(self, n: Notification) -> bool:
        """Queue it; False if it exists already (a replay of its cause adds nothing)."""
        ...

    async def record_seen(self, decision: TransactionDecision) -> None:
        """The subscriptions this decision shows, each keeping its latest decision."""
        ...

    async def remediation_registry(
        self, partner_ids: Iterable[str | None], distributor_id: str, regions: RegionTable
    ) -> tuple[Registry, str | None]:
        """The registry slice of these PLA ids and their organisations' accounts, and the
        distributor's partnership-request link."""
        ...


class PostgresNotifierUnitOfWork(PostgresUnitOfWork):
    __slots__ = (
        "assigned_distributors",
        "insert_notification",
        "languages",
        "mark_revoked",
        "partnered_distributors",
        "record_seen",
        "remediation_registry",
        "still_administered",
        "upsert_partnership",
    )

    def __init__(self, conn: asyncpg.Connection) -> None:
        super().__init__(conn)
        self.upsert_partnership = partial(store.upsert_partnership, conn)
        self.mark_revoked = partial(store.mark_revoked, conn)
        self.languages = partial(store.languages, conn)
        self.assigned_distributors = partial(store.assigned_distributors, conn)
        self.partnered_distributors = partial(store.partnered_distributors, conn)
        self.still_administered = partial(store.still_administered, conn)
        self.insert_notification = partial(store.insert_notification, conn)
        self.record_seen = partial(at_risk_store.record_seen, conn)
        self.remediation_registry = partial(remediation_store.remediation_registry, conn)

    async def project(self, fact: object, as_of: datetime) -> bool:
        upsert = _UPSERTS.get(type(fact))
        if upsert is None:
            return False
        await upsert(self.conn, fact, as_of)
        return True
