"""por-validator's unit of work: its stores (the registry projection, the decisions) in the
transaction of a batch, beside the inbox and the outbox. The port its handlers use, and
its PostgreSQL side; the in-memory fake is tests/fakes/por_validator.py."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import partial
from typing import Any, Protocol

import asyncpg

from contracts.envelope import CloudEvent
from contracts.events import (
    DistributorUpserted,
    PartnerAccountUpserted,
    PartnershipUpserted,
    ResellerTenantUpserted,
    TransactionDecision,
    ValidationRequested,
)
from services.common.unit_of_work import PostgresUnitOfWork, UnitOfWork
from services.domain.explain import Provenance
from services.domain.por_rules import Registry, Source
from services.domain.regions import RegionTable
from services.por_validator import decision_store, parked_store, store
from services.por_validator.decision_store import BlockedDecision
from services.por_validator.provenance_store import provenance_for

# The registry facts the validator keeps; customer assignments and GDAP relationships are
# not its concern.
RegistryFact = (
    DistributorUpserted | PartnerAccountUpserted | ResellerTenantUpserted | PartnershipUpserted
)
_UPSERTS = {
    DistributorUpserted: store.upsert_distributor,
    PartnerAccountUpserted: store.upsert_partner_account,
    ResellerTenantUpserted: store.upsert_reseller_tenant,
    PartnershipUpserted: store.upsert_partnership,
}


class ValidatorUnitOfWork(UnitOfWork, Protocol):
    async def lock_for_deciding(self) -> None:
        """Taken by a batch of decisions while registry changes release blocked ones."""
        ...

    async def lock_for_registry_change(self) -> None:
        """Taken by a batch of registry facts that releases blocked decisions."""
        ...

    async def project(self, fact: object, as_of: datetime, event_id: str) -> bool:
        """Keep a registry fact, unless the projection holds a newer one; False when it is
        no fact the validator keeps."""
        ...

    async def registry_for(
        self, partner_ids: Iterable[object], distributor_ids: Iterable[str], regions: RegionTable
    ) -> Registry:
        """The registry slice that validating these PLA ids for these distributors reads."""
        ...

    async def provenance_for(
        self, partner_ids: Iterable[object], distributor_ids: Iterable[str]
    ) -> dict[Source, Provenance]:
        """The as-of time and setting event of each registry row that slice reads."""
        ...

    async def distributor_region(self, distributor_id: str) -> tuple | None:
        """(country, csp_region) of a known distributor."""
        ...

    async def partner_ids_of_tenant(self, tenant_id: str) -> list[str]: ...

    async def record_decisions(
        self,
        pairs: list[tuple[ValidationRequested, TransactionDecision]],
        decision_json: Sequence[str] | None = None,
    ) -> set[str]:
        """Record the decisions not recorded yet; the ids recorded now (only these may be
        published: a decision is superseded at most once). `decision_json`: their JSON, when
        the caller has it already."""
        ...

    async def still_blocked(
        self,
        *,
        distributor: str | None = None,
        since: datetime | None = None,
        partner_ids: Sequence[str] | None = None,
    ) -> list[BlockedDecision]:
        """The decisions still blocked (decision_store.still_blocked)."""
        ...

    async def parked_among(self, distributor_ids: Iterable[str]) -> set[str]:
        """The distributors among these with requests parked (parking.py)."""
        ...

    async def park(self, parked: Sequence[tuple[CloudEvent[Any], str]]) -> None:
        """Queue (validation request event, reason) pairs behind their distributor's."""
        ...


class PostgresValidatorUnitOfWork(PostgresUnitOfWork):
    __slots__ = (
        "distributor_region",
        "lock_for_deciding",
        "lock_for_registry_change",
        "park",
        "parked_among",
        "partner_ids_of_tenant",
        "provenance_for",
        "record_decisions",
        "registry_for",
    )

    def __init__(self, conn: asyncpg.Connection) -> None:
        super().__init__(conn)
        self.lock_for_deciding = partial(store.lock_for_deciding, conn)
        self.lock_for_registry_change = partial(store.lock_for_registry_change, conn)
        self.registry_for = partial(store.registry_for, conn)
        self.provenance_for = partial(provenance_for, conn)
        self.distributor_region = partial(store.distributor_region, conn)
        self.partner_ids_of_tenant = partial(store.partner_ids_of_tenant, conn)
        self.record_decisions = partial(decision_store.record_decisions, conn)
        self.parked_among = partial(parked_store.parked_among, conn)
        self.park = partial(parked_store.park, conn)

    async def project(self, fact: object, as_of: datetime, event_id: str) -> bool:
        upsert = _UPSERTS.get(type(fact))
        if upsert is None:
            return False
        await upsert(self.conn, fact, as_of, event_id)
        return True

    async def still_blocked(
        self,
        *,
        distributor: str | None = None,
        since: datetime | None = None,
        partner_ids: Sequence[str] | None = None,
    ) -> list[BlockedDecision]:
        return await decision_store.still_blocked(
            self.conn, distributor=distributor, since=since, partner_ids=partner_ids
        )
