"""One contract for both sides of gdap-revoker's unit of work: PostgreSQL and the in-memory
fake its handler's unit tests use (tests/fakes/gdap_revoker.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from contracts.events import (
    CustomerAssignmentUpserted,
    GdapRelationshipUpserted,
    ResellerTenantUpserted,
)
from services.gdap_revoker import store
from services.gdap_revoker.revocation import Relationship, Termination
from services.gdap_revoker.unit_of_work import PostgresRevokerUnitOfWork
from tests.contract.databases import migrated_database, rolled_back
from tests.fakes.gdap_revoker import FakeRevokerUnitOfWork

T0 = datetime(2026, 1, 10, 9, tzinfo=UTC)
RESELLER = "ten-1"


@pytest.fixture(scope="module")
async def revoker_database(database_url) -> AsyncIterator[str]:
    async with migrated_database(
        database_url, store.SCHEMA, Path(store.__file__).parent / "migrations"
    ) as url:
        yield url


class PostgresSide:
    """The terminator's moves a case needs, done as the terminator does them."""

    def __init__(self, uow: PostgresRevokerUnitOfWork) -> None:
        self.uow = uow

    async def claim(self, rid: str, lease_s: float = 60) -> Any:
        await self.uow.conn.execute(
            "UPDATE terminations SET next_attempt_at = now() - interval '1 second'"
            " WHERE relationship_id = $1",
            rid,
        )
        rows = await store.claim_due(self.uow.conn, 100, lease_s)
        return next(r["claim_token"] for r in rows if r["relationship_id"] == rid)

    async def fail(self, rid: str) -> None:
        token = await self.claim(rid)
        await store.mark_attempt_failed(
            self.uow.conn, rid, token, "refused", retry_in_s=0, max_attempts=1, permanent=True
        )

    async def poll_later(self, rid: str) -> None:
        token = await self.claim(rid)
        await store.mark_requested(self.uow.conn, rid, token, "req-1", "terminate", poll_in_s=600)


class MemorySide:
    def __init__(self, uow: FakeRevokerUnitOfWork) -> None:
        self.uow = uow

    async def fail(self, rid: str) -> None:
        self.uow.fail(rid)

    async def poll_later(self, rid: str) -> None:
        self.uow.poll_later(rid)


@pytest.fixture(params=["postgres", "memory"])
def side(request) -> Any:
    return request.getfixturevalue(f"{request.param}_side")


@pytest.fixture
def memory_side() -> MemorySide:
    return MemorySide(FakeRevokerUnitOfWork())


@pytest.fixture
async def postgres_side(revoker_database) -> AsyncIterator[PostgresSide]:
    async with rolled_back(revoker_database, store.SCHEMA) as conn:
        yield PostgresSide(PostgresRevokerUnitOfWork(conn))


def tenant(status: str = "active") -> ResellerTenantUpserted:
    return ResellerTenantUpserted(
        reseller_tenant_id=RESELLER,
        name=RESELLER,
        kind="csp_indirect_reseller",
        status=status,
        indirect_reseller_authorized=True,
        country="DE",
    )


def assignment(distributor: str, status: str = "assigned", customer: str = "cust-1"):
    return CustomerAssignmentUpserted(
        customer_id=customer, reseller_tenant_id=RESELLER, distributor_id=distributor, status=status
    )


def relationship(rid: str, status: str = "active", customer: str = "cust-1", **more):
    return GdapRelationshipUpserted(
        relationship_id=rid,
        customer_id=customer,
        reseller_tenant_id=RESELLER,
        roles=["62e90394-69f5-4237-9190-012177145e10"],
        status=status,
        **more,
    )


def termination(rid: str, customer: str = "cust-1") -> Termination:
    return Termination(rid, customer, RESELLER, "reseller_suspended", "evt-1")


async def test_an_older_fact_is_not_applied_and_says_so(side):
    uow = side.uow
    await uow.lock_reseller(RESELLER)
    assert await uow.upsert_tenant(tenant("suspended"), T0, "evt-new")
    assert not await uow.upsert_tenant(tenant("active"), T0 - timedelta(1), "evt-old")
    assert dict(await uow.tenant(RESELLER)) == {"status": "suspended", "event_id": "evt-new"}
    assert await uow.tenant("ten-unknown") is None
    assert await uow.upsert_assignment(assignment("d-1"), T0)
    assert not await uow.upsert_assignment(assignment("d-1", "removed"), T0 - timedelta(1))
    assert await uow.upsert_relationship(relationship("r-1"), T0)
    assert not await uow.upsert_relationship(relationship("r-1", "created"), T0 - timedelta(1))
    assert (await uow.relationship("r-1")).status == "active"


async def test_a_terminated_relationship_stays_terminated(side):
    uow = side.uow
    await uow.upsert_relationship(relationship("r-1", "terminated"), T0)
    assert await uow.upsert_relationship(relationship("r-1", "active"), T0 + timedelta(1))
    assert await uow.relationship("r-1") == Relationship("r-1", "cust-1", RESELLER, "terminated")
    assert await uow.relationship("r-unknown") is None


async def test_assigned_elsewhere_counts_only_other_distributors_assignments(side):
    uow = side.uow
    await uow.upsert_assignment(assignment("d-1"), T0)
    assert not await uow.assigned_elsewhere(assignment("d-1", "removed"))
    await uow.upsert_assignment(assignment("d-2", "removed"), T0)
    assert not await uow.assigned_elsewhere(assignment("d-1", "removed"))
    await uow.upsert_assignment(assignment("d-2"), T0 + timedelta(1))
    assert await uow.assigned_elsewhere(assignment("d-1", "removed"))


async def test_a_termination_is_queued_once_and_its_relationship_is_no_longer_unrevoked(side):
    uow = side.uow
    for rid, customer in (("r-1", "cust-1"), ("r-2", "cust-2"), ("r-3", "cust-1")):
        await uow.upsert_relationship(relationship(rid, customer=customer), T0)
    ids = [r.relationship_id for r in await uow.unrevoked_relationships(RESELLER)]
    assert ids == ["r-1", "r-2", "r-3"]
    assert [r.relationship_id for r in await uow.unrevoked_relationships(RESELLER, "cust-1")] == [
        "r-1",
        "r-3",
    ]
    assert await uow.record_terminations([]) == 0
    assert await uow.record_terminations([termination("r-1"), termination("r-2", "cust-2")]) == 2
    assert await uow.record_terminations([termination("r-1"), termination("r-3")]) == 1
    assert await uow.unrevoked_relationships(RESELLER) == []
    assert await uow.unrevoked_relationships("ten-other") == []


async def test_settle_soon_moves_only_a_termination_awaiting_its_next_poll(side):
    uow = side.uow
    await uow.upsert_relationship(relationship("r-1"), T0)
    assert not await uow.settle_soon("r-1")  # nothing queued
    await uow.record_terminations([termination("r-1")])
    assert not await uow.settle_soon("r-1")  # due now already
    await side.poll_later("r-1")
    assert await uow.settle_soon("r-1")
    assert not await uow.settle_soon("r-1")


async def test_act_again_restarts_only_a_failed_termination(side):
    uow = side.uow
    await uow.upsert_relationship(relationship("r-1"), T0)
    assert not await uow.act_again("r-1")
    await uow.record_terminations([termination("r-1")])
    assert not await uow.act_again("r-1")  # open: its next attempt reads the new state
    await side.fail("r-1")
    assert await uow.act_again("r-1")
    assert not await uow.act_again("r-1")


async def test_only_the_current_claim_holder_can_record_an_outcome(postgres_side):
    side, conn = postgres_side, postgres_side.uow.conn
    await side.uow.upsert_relationship(relationship("r-1"), T0)
    await side.uow.record_terminations([termination("r-1")])
    stale = await side.claim("r-1")
    fresh = await side.claim("r-1")  # the first lease ran out and another worker claimed it
    assert stale != fresh
    assert not await store.mark_terminated(conn, "r-1", stale, T0, "absent")
    assert not await store.mark_polled(conn, "r-1", stale, "x", poll_in_s=1)
    assert not await store.mark_requested(conn, "r-1", stale, "req-9", "terminate", poll_in_s=1)
    assert (
        await store.mark_attempt_failed(
            conn, "r-1", stale, "late", retry_in_s=0, max_attempts=1, permanent=True
        )
        is None
    )
    assert await store.mark_requested(conn, "r-1", fresh, "req-1", "terminate", poll_in_s=600)
    # Written once: the token is spent.
    assert not await store.mark_polled(conn, "r-1", fresh, "x", poll_in_s=1)
    row = await conn.fetchrow("SELECT state, request_id FROM terminations")
    assert tuple(row) == ("requested", "req-1")


async def test_settle_soon_keeps_a_live_lease_and_the_holder_reads_back_at_once(postgres_side):
    side, conn = postgres_side, postgres_side.uow.conn
    await side.uow.upsert_relationship(relationship("r-1"), T0)
    await side.uow.record_terminations([termination("r-1")])
    token = await side.claim("r-1", lease_s=600)
    leased_until = await conn.fetchval("SELECT next_attempt_at FROM terminations")
    assert await side.uow.settle_soon("r-1")
    # Not handed to a second worker: the lease stands.
    assert await conn.fetchval("SELECT next_attempt_at FROM terminations") == leased_until
    assert await store.claim_due(conn, 100, 60) == []
    # The holder's outcome honours it: due now instead of in ten minutes.
    assert await store.mark_requested(conn, "r-1", token, "req-1", "terminate", poll_in_s=600)
    assert await conn.fetchval("SELECT next_attempt_at <= now() FROM terminations")


async def test_a_failed_attempt_remembers_that_a_terminate_was_asked(postgres_side):
    side, conn = postgres_side, postgres_side.uow.conn
    await side.uow.upsert_relationship(relationship("r-1"), T0)
    await side.uow.record_terminations([termination("r-1")])
    token = await side.claim("r-1")
    assert await store.mark_requested(conn, "r-1", token, "req-1", "terminate", poll_in_s=0)
    token = await side.claim("r-1")
    done = await store.mark_attempt_failed(
        conn, "r-1", token, "not settled", retry_in_s=0, max_attempts=5, permanent=False
    )
    assert done["state"] == "pending"
    row = await conn.fetchrow("SELECT request_id, request_action FROM terminations")
    assert tuple(row) == (None, "terminate")
