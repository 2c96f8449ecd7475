"""gdap-revoker's unit of work: its registry projection and its termination intents in the
transaction of a batch, beside the inbox and the outbox. The port its handler uses and its
PostgreSQL side; the in-memory fake is tests/fakes/gdap_revoker.py."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any, Protocol

import asyncpg

from contracts.events import (
    CustomerAssignmentUpserted,
    GdapRelationshipUpserted,
    ResellerTenantUpserted,
)
from services.common.unit_of_work import PostgresUnitOfWork, UnitOfWork
from services.gdap_revoker import store
from services.gdap_revoker.revocation import Relationship, Termination


class RevokerUnitOfWork(UnitOfWork, Protocol):
    """Each upsert keeps the newer state and says whether it applied: a stale event must not
    trigger revocations either."""

    async def lock_reseller(self, reseller_tenant_id: str) -> None:
        """Serialise one reseller's events across instances until commit."""
        ...

    async def upsert_tenant(
        self, t: ResellerTenantUpserted, as_of: datetime, event_id: str
    ) -> bool: ...

    async def upsert_assignment(self, a: CustomerAssignmentUpserted, as_of: datetime) -> bool: ...

    async def upsert_relationship(self, r: GdapRelationshipUpserted, as_of: datetime) -> bool:
        """A terminated relationship stays terminated; a missing distributor keeps the known one."""
        ...

    async def settle_soon(self, relationship_id: str) -> bool:
        """An open termination of this relationship is read back now, not at its next poll."""
        ...

    async def act_again(self, relationship_id: str) -> bool:
        """A termination that failed for good starts over with a fresh budget."""
        ...

    async def relationship(self, relationship_id: str) -> Relationship | None: ...

    async def unrevoked_relationships(
        self, reseller_tenant_id: str, customer_id: str | None = None
    ) -> list[Relationship]:
        """The reseller's relationships (with one customer, if given) not yet up for termination."""
        ...

    async def tenant(self, reseller_tenant_id: str) -> Mapping[str, Any] | None:
        """Its `status` and the `event_id` that set it."""
        ...

    async def assigned_elsewhere(self, a: CustomerAssignmentUpserted) -> bool:
        """The customer is assigned to the reseller through another distributor."""
        ...

    async def record_terminations(self, terminations: Sequence[Termination]) -> int:
        """Queue termination intents; one queued already (any state) stays as it is. The
        count queued now."""
        ...


class PostgresRevokerUnitOfWork(PostgresUnitOfWork):
    __slots__ = (
        "act_again",
        "assigned_elsewhere",
        "lock_reseller",
        "record_terminations",
        "relationship",
        "settle_soon",
        "tenant",
        "unrevoked_relationships",
        "upsert_assignment",
        "upsert_relationship",
        "upsert_tenant",
    )

    def __init__(self, conn: asyncpg.Connection) -> None:
        super().__init__(conn)
        self.lock_reseller = partial(store.lock_reseller, conn)
        self.upsert_tenant = partial(store.upsert_tenant, conn)
        self.upsert_assignment = partial(store.upsert_assignment, conn)
        self.upsert_relationship = partial(store.upsert_relationship, conn)
        self.settle_soon = partial(store.settle_soon, conn)
        self.act_again = partial(store.act_again, conn)
        self.relationship = partial(store.relationship, conn)
        self.unrevoked_relationships = partial(store.unrevoked_relationships, conn)
        self.tenant = partial(store.tenant, conn)
        self.assigned_elsewhere = partial(store.assigned_elsewhere, conn)
        self.record_terminations = partial(store.record_terminations, conn)
