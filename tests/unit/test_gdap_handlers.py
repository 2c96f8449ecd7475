"""gdap-revoker's handler against its unit of work in memory (tests/fakes/gdap_revoker.py,
which passes the PostgreSQL side's contract): which terminations each registry fact queues."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contracts.codec import new_event
from contracts.events import (
    CustomerAssignmentUpserted,
    DistributorUpserted,
    GdapRelationshipUpserted,
    PartnershipUpserted,
    ResellerTenantUpserted,
)
from services.gdap_revoker.handlers import on_registry_events
from services.gdap_revoker.revocation import Termination
from tests.fakes.gdap_revoker import FakeRevokerUnitOfWork

RESELLER = "ten-1"
NOW = datetime.now(UTC)


def fact(data, at: datetime = NOW):
    return new_event(data, source="/tests", time=at)


def tenant(status: str, at: datetime = NOW):
    return fact(
        ResellerTenantUpserted(
            reseller_tenant_id=RESELLER,
            name=RESELLER,
            kind="csp_indirect_reseller",
            status=status,
            indirect_reseller_authorized=True,
            country="DE",
        ),
        at,
    )


def relationship(rid: str, status: str = "active", customer: str = "cust-1", at: datetime = NOW):
    return fact(
        GdapRelationshipUpserted(
            relationship_id=rid,
            customer_id=customer,
            reseller_tenant_id=RESELLER,
            roles=["62e90394-69f5-4237-9190-012177145e10"],
            status=status,
        ),
        at,
    )


def assignment(distributor: str, status: str, customer: str = "cust-1"):
    return fact(
        CustomerAssignmentUpserted(
            customer_id=customer,
            reseller_tenant_id=RESELLER,
            distributor_id=distributor,
            status=status,
        )
    )


async def test_a_suspension_queues_the_termination_of_every_relationship_that_grants_privileges():
    uow = FakeRevokerUnitOfWork()
    rels = [
        relationship("r-1"),
        relationship("r-2", customer="cust-2"),
        relationship("r-3", status="terminated"),
        relationship("r-4", status="approvalPending"),
    ]
    suspended = tenant("suspended")
    emitted = await on_registry_events([*rels, suspended], uow)
    assert emitted == [()] * 5  # the terminator publishes, once Graph confirms
    assert uow.queued() == [
        Termination("r-1", "cust-1", RESELLER, "reseller_suspended", suspended.id),
        Termination("r-2", "cust-2", RESELLER, "reseller_suspended", suspended.id),
    ]
    assert set(uow.locked) == {RESELLER}
    # Replayed, it queues nothing more.
    await on_registry_events([suspended], uow)
    assert len(uow.queued()) == 2


async def test_a_stale_suspension_queues_nothing():
    uow = FakeRevokerUnitOfWork()
    await on_registry_events([relationship("r-1"), tenant("active")], uow)
    await on_registry_events([tenant("suspended", NOW - timedelta(days=1))], uow)
    assert uow.queued() == []


async def test_a_relationship_arriving_for_a_suspended_reseller_goes_with_the_suspension_as_cause():
    uow = FakeRevokerUnitOfWork()
    suspended = tenant("suspended")
    await on_registry_events([suspended, relationship("r-1")], uow)
    assert uow.queued() == [
        Termination("r-1", "cust-1", RESELLER, "reseller_suspended", suspended.id)
    ]


async def test_an_unassigned_customer_loses_the_resellers_access_unless_assigned_elsewhere():
    uow = FakeRevokerUnitOfWork()
    await on_registry_events(
        [
            relationship("r-1"),
            relationship("r-2", customer="cust-2"),
            assignment("d-1", "assigned"),
            assignment("d-2", "assigned"),
            assignment("d-1", "assigned", customer="cust-2"),
        ],
        uow,
    )
    await on_registry_events([assignment("d-1", "removed")], uow)
    assert uow.queued() == []  # still served through d-2
    removed = assignment("d-1", "removed", customer="cust-2")
    await on_registry_events([removed], uow)
    assert uow.queued() == [
        Termination("r-2", "cust-2", RESELLER, "customer_unassigned", removed.id)
    ]


async def test_a_failed_termination_is_tried_again_once_its_relationship_can_be_acted_on():
    uow = FakeRevokerUnitOfWork()
    await on_registry_events([tenant("suspended"), relationship("r-1")], uow)
    uow.fail("r-1")
    await on_registry_events([relationship("r-1", status="approvalPending")], uow)
    assert uow.terminations["r-1"]["state"] == "failed"
    await on_registry_events([relationship("r-1", status="active")], uow)
    assert uow.terminations["r-1"]["state"] == "pending"


async def test_a_relationship_that_ended_has_its_open_termination_read_back_now():
    uow = FakeRevokerUnitOfWork()
    await on_registry_events([tenant("suspended"), relationship("r-1")], uow)
    uow.poll_later("r-1")
    await on_registry_events([relationship("r-1", status="terminated")], uow)
    assert uow.terminations["r-1"]["due_now"]
    assert len(uow.queued()) == 1


async def test_partnerships_and_distributors_revoke_nothing():
    uow = FakeRevokerUnitOfWork()
    await on_registry_events([tenant("suspended")], uow)
    events = [
        fact(
            PartnershipUpserted(distributor_id="d-1", reseller_tenant_id=RESELLER, status="removed")
        ),
        fact(DistributorUpserted(distributor_id="d-1", name="EU", country="DE")),
    ]
    assert await on_registry_events(events, uow) == [(), ()]
    assert uow.queued() == [] and uow.relationships == {}
