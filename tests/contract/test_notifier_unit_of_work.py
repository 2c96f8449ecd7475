"""One contract for both sides of notifier's unit of work: PostgreSQL and the in-memory fake
its handlers' unit tests use (tests/fakes/notifier.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from contracts.events import (
    CustomerAssignmentUpserted,
    DecisionLine,
    DistributorUpserted,
    GdapPrivilegesRevoked,
    GdapRelationshipUpserted,
    PartnerAccountUpserted,
    PartnershipUpserted,
    ResellerTenantUpserted,
    TransactionAccepted,
)
from services.domain.regions import RegionTable
from services.notifier import at_risk_store, store
from services.notifier.notifications import Notification
from services.notifier.unit_of_work import PostgresNotifierUnitOfWork
from tests.contract.databases import migrated_database, rolled_back
from tests.fakes.notifier import FakeNotifierUnitOfWork

T0 = datetime(2026, 1, 10, 9, tzinfo=UTC)
DIST, OTHER, RESELLER = "dist-eu-1", "dist-jp-1", "ten-1"
REGIONS = RegionTable.default()
ROLE = "62e90394-69f5-4237-9190-012177145e10"


@pytest.fixture(scope="module")
async def notifier_database(database_url) -> AsyncIterator[str]:
    async with migrated_database(
        database_url, store.SCHEMA, Path(store.__file__).parent / "migrations"
    ) as url:
        yield url


@pytest.fixture(params=["postgres", "memory"])
def side(request) -> Any:
    return request.getfixturevalue(f"{request.param}_side")


class MemorySide:
    def __init__(self) -> None:
        self.uow = FakeNotifierUnitOfWork()

    async def seen(self, distributor_id: str) -> list:
        return [s for (_, _, _), s in sorted(self.uow.seen.items())]


class PostgresSide:
    def __init__(self, uow: PostgresNotifierUnitOfWork) -> None:
        self.uow = uow

    async def seen(self, distributor_id: str) -> list:
        found = await at_risk_store.seen_subscriptions(self.uow.conn, distributor_id)
        order = ("order_line", "subscription")
        return sorted(
            found,
            key=lambda s: (
                order[s.subscription_id is not None],
                s.subscription_id or s.order_id,
                s.line_item_id or "",
            ),
        )


@pytest.fixture
def memory_side() -> MemorySide:
    return MemorySide()


@pytest.fixture
async def postgres_side(notifier_database) -> AsyncIterator[PostgresSide]:
    async with rolled_back(notifier_database, store.SCHEMA) as conn:
        yield PostgresSide(PostgresNotifierUnitOfWork(conn))


def distributor(did: str = DIST, language: str = "ja", url: str | None = None):
    return DistributorUpserted(
        distributor_id=did,
        name=did,
        country="DE",
        preferred_language=language,
        partnership_request_url=url,
    )


def assignment(did: str, customer: str = "cust-1", status: str = "assigned"):
    return CustomerAssignmentUpserted(
        customer_id=customer, reseller_tenant_id=RESELLER, distributor_id=did, status=status
    )


def relationship(rid: str, customer: str = "cust-1", status: str = "active", **more):
    return GdapRelationshipUpserted(
        relationship_id=rid,
        customer_id=customer,
        reseller_tenant_id=RESELLER,
        roles=[ROLE],
        status=status,
        **more,
    )


def partnership(did: str, status: str = "active"):
    return PartnershipUpserted(distributor_id=did, reseller_tenant_id=RESELLER, status=status)


def account(pid: str, kind: str = "PLA", tenant: str | None = RESELLER, pga: str | None = None):
    return PartnerAccountUpserted(
        partner_id=pid,
        account_type=kind,
        status="active",
        name=pid,
        reseller_tenant_id=tenant,
        global_partner_id=pga,
    )


async def test_only_the_facts_it_keeps_are_projected_and_an_older_one_changes_nothing(side):
    uow = side.uow
    assert await uow.project(distributor(language="ja"), T0)
    assert await uow.project(distributor(language="en"), T0 - timedelta(1))
    # A partnership is upserted apart (its removal is a cause): not projected as it comes.
    assert not await uow.project(partnership(DIST), T0)
    assert await uow.partnered_distributors(RESELLER) == []
    assert await uow.languages([DIST, "dist-unknown"]) == {DIST: "ja"}


async def test_a_partnership_upsert_returns_the_state_before_it(side):
    uow = side.uow
    assert await uow.upsert_partnership(partnership(DIST), T0) is None
    before = await uow.upsert_partnership(partnership(DIST, "removed"), T0 + timedelta(1))
    assert (before.status, before.as_of) == ("active", T0)
    stale = await uow.upsert_partnership(partnership(DIST, "active"), T0)
    assert stale.status == "removed"
    assert await uow.partnered_distributors(RESELLER) == [DIST]
    assert await uow.partnered_distributors("ten-other") == []


async def test_assigned_distributors_are_each_named_once_in_any_status(side):
    uow = side.uow
    await uow.project(assignment(DIST), T0)
    await uow.project(assignment(OTHER, status="removed"), T0)
    await uow.project(assignment(DIST, customer="cust-2"), T0)
    assert sorted(await uow.assigned_distributors("cust-1", RESELLER)) == [DIST, OTHER]
    assert await uow.assigned_distributors("cust-3", RESELLER) == []


async def test_still_administered_is_active_unrevoked_unexpired_and_of_this_distributors_customers(
    side,
):
    uow = side.uow
    await uow.project(assignment(DIST, "cust-1"), T0)
    await uow.project(assignment(DIST, "cust-2"), T0)
    await uow.project(assignment(OTHER, "cust-3"), T0)
    for rel in (
        relationship("r-2", "cust-2"),
        relationship("r-1", "cust-2"),
        relationship("r-0", "cust-1"),
        relationship("r-expired", "cust-1", ends_at=T0 - timedelta(1)),
        relationship("r-ends-later", "cust-1", ends_at=T0 + timedelta(1)),
        relationship("r-pending", "cust-1", status="approvalPending"),
        relationship("r-revoked", "cust-1"),
        relationship("r-other", "cust-3"),
    ):
        await uow.project(rel, T0)
    await uow.mark_revoked(
        GdapPrivilegesRevoked(
            relationship_id="r-revoked",
            customer_id="cust-1",
            reseller_tenant_id=RESELLER,
            reason="reseller_suspended",
            cause_event_id="evt-1",
            revoked_at=T0,
        ),
        "evt-2",
    )
    rows = await uow.still_administered(DIST, RESELLER, T0)
    assert [(r["customer_id"], r["relationship_id"], list(r["roles"])) for r in rows] == [
        ("cust-1", "r-0", [ROLE]),
        ("cust-1", "r-ends-later", [ROLE]),
        ("cust-2", "r-1", [ROLE]),
        ("cust-2", "r-2", [ROLE]),
    ]


async def test_a_notification_is_queued_once(side):
    n = Notification("n-1", "partnership_removed", DIST, "en", "evt-1", {"a": 1})
    assert await side.uow.insert_notification(n)
    assert not await side.uow.insert_notification(n)


def accepted(decision_id: str, at: datetime, pid: str | None, **ref) -> TransactionAccepted:
    return TransactionAccepted(
        source_event_id=f"src-{decision_id}",
        distributor_id=DIST,
        customer_id="cust-1",
        decision_id=decision_id,
        basis="validated",
        error_codes=[],
        primary_error_code=None,
        lines=[DecisionLine(line_item_id="1", partner_id_on_record=pid, error_codes=[], errors=[])],
        decided_at=at,
        **ref,
    )


async def test_each_seen_subscription_keeps_its_latest_decision_and_its_known_pla_id(side):
    uow = side.uow
    change = {"transaction_kind": "subscription_change", "subscription_id": "sub-1"}
    await uow.record_seen(accepted("d-1", T0, "1000001", **change))
    await uow.record_seen(accepted("d-2", T0 + timedelta(1), None, **change))
    await uow.record_seen(accepted("d-0", T0 - timedelta(1), "1000009", **change))
    await uow.record_seen(
        accepted("d-3", T0, "1000002", transaction_kind="new_order", order_id="o-1")
    )
    found = await side.seen(DIST)
    assert [
        (s.subscription_id, s.order_id, s.decision_id, s.partner_id_on_record) for s in found
    ] == [
        (None, "o-1", "d-3", "1000002"),
        ("sub-1", None, "d-2", "1000001"),
    ]


async def test_the_remediation_registry_is_the_pla_ids_and_their_organisations_accounts(side):
    uow = side.uow
    await uow.project(distributor(url="https://example.com/partner"), T0)
    await uow.project(
        ResellerTenantUpserted(
            reseller_tenant_id=RESELLER,
            name=RESELLER,
            kind="csp_indirect_reseller",
            status="active",
            indirect_reseller_authorized=True,
            country="DE",
        ),
        T0,
    )
    for a in (
        account("1000001", pga="2000000"),
        account("1000002", pga="2000000"),
        account("2000000", kind="PGA", tenant=None),
        account("1000003", tenant="ten-2"),
        account("3000001", pga="3000000"),
    ):
        await uow.project(a, T0)
    await uow.upsert_partnership(partnership(DIST), T0)
    registry, url = await uow.remediation_registry([" 1000001", None, "x"], DIST, REGIONS)
    assert url == "https://example.com/partner"
    assert sorted(registry.accounts) == ["1000001", "1000002", "2000000"]
    assert registry.accounts["1000002"].global_partner_id == "2000000"
    assert sorted(registry.tenants) == [RESELLER]
    assert registry.active_partnerships == {(DIST, RESELLER)}
    assert registry.distributors[DIST].language == "ja"
    pga, none = await uow.remediation_registry(["2000000"], "dist-unknown", REGIONS)
    assert sorted(pga.accounts) == ["1000001", "1000002", "2000000"] and none is None
    assert pga.distributors == {} and pga.active_partnerships == set()
