"""One GDAP sync: list a distributor's delegatedAdminRelationships in Graph, name the reseller
of each new one through Partner Center, record the changes and publish them.

Graph and Partner Center are read outside any transaction, but under the distributor's GDAP
run lock (a session advisory lock on the connection that then records): the scheduled sync,
a webhook's refresh and the CLI take turns, so an older listing is never recorded over a
newer one. Then, in one transaction on that connection, what was seen is read, the plan
computed (gdap_changes.py), the new state recorded and its upserts written to the outbox.
A dry run records nothing and takes no lock.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import asyncpg

from services.common import outbox
from services.common.outbox import Outbox
from services.graph.errors import GraphError
from services.graph.models import Relationship
from services.partner_center.client import PartnerCenterClient
from services.partner_center.credentials import DistributorCredentials
from services.partner_center.customers import customer_partners
from services.partner_center.errors import PartnerCenterError
from services.partner_center_sync import gdap_changes, gdap_store, metrics, store
from services.partner_center_sync.gdap_changes import GdapPlan, Resolution, SeenRelationship
from services.partner_center_sync.syncer import SYNC_FAILURES, MassRemoval, failure

log = logging.getLogger(__name__)

SERVICE = "partner-center-sync"


class GraphRelationships(Protocol):
    """What the sync reads from Graph (services/graph/client.py implements it)."""

    async def relationships(self, distributor_id: str) -> list[Relationship]: ...

    async def read(self, distributor_id: str, relationship_id: str) -> Relationship | None: ...


# (distributor id, customer tenant id) -> the tenant ids of the customer's indirect resellers.
ResellerLookup = Callable[[str, str], Awaitable[list[str]]]


@dataclass(frozen=True)
class GdapOutcome:
    distributor_id: str
    plan: GdapPlan | None = None
    error: str | None = None


@dataclass
class GdapSyncer:
    graph: GraphRelationships
    credentials: Mapping[str, DistributorCredentials]
    resellers_of: ResellerLookup
    pool: asyncpg.Pool
    # None for a dry run: nothing is recorded or published.
    outbox: Outbox | None
    allow_mass_removal: bool = False

    async def sync(self, distributor_id: str) -> GdapOutcome:
        """The distributor's whole list; never raises for a failure of its own."""
        return await self._guarded(distributor_id, self._sync, whole=True)

    async def refresh(self, distributor_id: str, relationship_id: str) -> GdapOutcome:
        """One relationship, read live (a Partner Center event named it): the same path as a
        sync, so a terminated relationship reaches the registry only as Graph reads it."""

        async def one(d: str) -> GdapOutcome:
            return await self._sync(d, relationship_id)

        return await self._guarded(distributor_id, one, whole=False)

    async def _guarded(self, distributor_id: str, run, *, whole: bool) -> GdapOutcome:
        try:
            outcome = await run(distributor_id)
        except (GraphError, asyncpg.InterfaceError, *SYNC_FAILURES) as exc:
            outcome = GdapOutcome(distributor_id, error=failure(distributor_id, exc))
        observe(outcome, dry_run=self.outbox is None, whole=whole)
        return outcome

    async def _sync(self, distributor_id: str, only: str | None = None) -> GdapOutcome:
        creds = self.credentials.get(distributor_id)
        if creds is None:
            raise PartnerCenterError(
                distributor_id, "no entry in PORGATE_PARTNER_CENTER_CREDENTIALS_FILE"
            )
        if self.outbox is None:
            return await self._plan_and_record(None, creds, only)
        # One connection for the lock, the reads of what was seen and the record: a pool of a
        # few connections shared by concurrent refreshes cannot run dry under held locks.
        async with self.pool.acquire() as conn:
            await gdap_store.lock_gdap_run(conn, distributor_id)
            try:
                return await self._plan_and_record(conn, creds, only)
            finally:
                await gdap_store.unlock_gdap_run(conn, distributor_id)

    async def _plan_and_record(
        self, conn: asyncpg.Connection | None, creds: DistributorCredentials, only: str | None
    ) -> GdapOutcome:
        distributor_id = creds.distributor_id
        if only is None:
            listing = await self.graph.relationships(distributor_id)
        else:
            live = await self.graph.read(distributor_id, only)
            listing = [live] if live is not None else []
        seen = await gdap_store.seen(conn or self.pool, distributor_id, only)
        customers = gdap_changes.customers_to_resolve(listing, seen, creds.tenant_id)
        resolved = await self._resolve(creds, customers)

        def planned(seen_now: Mapping[str, SeenRelationship]) -> GdapPlan:
            plan = gdap_changes.plan(distributor_id, creds.tenant_id, listing, seen_now, resolved)
            # One relationship refreshed removes at most itself: no list to distrust.
            refusal = (
                None
                if only or self.allow_mass_removal
                else gdap_changes.mass_removal(plan, seen_now)
            )
            if refusal is not None:
                raise MassRemoval(refusal)
            return plan

        if conn is None or self.outbox is None:
            return GdapOutcome(distributor_id, planned(seen))

        # Once, on the locked connection (a retry loop on a broken one would never end): a
        # failure is the run's, and the next sync or the event's next attempt reads afresh.
        async with conn.transaction():
            await store.lock_distributor(conn, distributor_id, "gdap")
            plan = planned(await gdap_store.seen(conn, distributor_id, only))
            at = datetime.now(UTC)
            await gdap_store.record(conn, distributor_id, plan.changes, at)
            source = f"gdap-sync:{distributor_id}"
            out = gdap_changes.outgoing(plan, at)
            rows = await outbox.write(conn, [(source, o) for o in out])
        await self.outbox.publish(rows)
        return GdapOutcome(distributor_id, plan)

    async def _resolve(
        self, creds: DistributorCredentials, customers: Iterable[str]
    ) -> dict[str, Resolution]:
        """What Partner Center says of each customer's indirect resellers (app+user)."""
        customers = list(customers)
        if customers and not creds.acts_as_user:
            why = (
                "naming the reseller needs Partner Center app+user access: the distributor's"
                " credentials have no refreshToken or refreshTokenEnv"
            )
            return dict.fromkeys(customers, why)
        resolved: dict[str, Resolution] = {}
        for customer in customers:
            try:
                resolved[customer] = await self.resellers_of(creds.distributor_id, customer)
            except PartnerCenterError as exc:
                reason = str(exc).removeprefix(f"{creds.distributor_id}: ")
                resolved[customer] = f"Partner Center: {reason}"
        return resolved


def observe(outcome: GdapOutcome, *, dry_run: bool, whole: bool = True) -> None:
    """Log the outcome; count it in the metrics unless it was a dry run."""
    who = outcome.distributor_id
    extra = {"service": SERVICE, "distributor_id": who, "dry_run": dry_run, "whole_list": whole}
    if outcome.plan is None:
        log.error("GDAP sync failed", extra={**extra, "error": outcome.error})
        if not dry_run:
            metrics.GDAP_SYNC_RUNS.labels(who, "failed").inc()
        return
    plan = outcome.plan
    counts = {kind: plan.count(kind) for kind in ("added", "changed", "removed")}
    for reason in plan.skipped:
        log.warning("GDAP relationship not published", extra={**extra, "reason": reason})
    log.info("GDAP sync done", extra={**extra, **counts, "listed": plan.listed, "own": plan.own})
    if dry_run:
        return
    metrics.GDAP_SYNC_RUNS.labels(who, "ok").inc()
    for kind, n in counts.items():
        if n:
            metrics.GDAP_SYNC_CHANGES.labels(who, kind).inc(n)
    if whole:
        metrics.GDAP_SYNC_SKIPPED.labels(who).set(len(plan.skipped))
        metrics.GDAP_SYNC_LAST_SUCCESS.labels(who).set_to_current_time()


def partner_center_lookup(
    client: PartnerCenterClient, credentials: Mapping[str, DistributorCredentials]
) -> ResellerLookup:
    """The customer's indirect resellers as Partner Center lists them for the distributor."""

    async def resellers_of(distributor_id: str, customer_id: str) -> list[str]:
        partners = await customer_partners(client, distributor_id, customer_id)
        return partners.reseller_tenant_ids(credentials[distributor_id].tenant_id)

    return resellers_of
