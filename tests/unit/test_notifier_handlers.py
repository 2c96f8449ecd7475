"""notifier's handlers against its unit of work in memory (tests/fakes/notifier.py, which
passes the PostgreSQL side's contract): what each cause queues, for whom, in which language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contracts.codec import new_event
from contracts.events import (
    CustomerAssignmentUpserted,
    DistributorUpserted,
    GdapPrivilegesRevoked,
    GdapRelationshipUpserted,
    GdapTerminationFailed,
    PartnerAccountUpserted,
    PartnershipUpserted,
    ResellerTenantUpserted,
    ValidationLine,
    ValidationRequested,
)
from services.domain.decisions import decide
from services.domain.por_rules import Distributor, PartnerAccount, Registry, ResellerTenant
from services.domain.regions import RegionTable
from services.notifier.handlers import on_decisions, on_registry_events, on_revocations
from tests.fakes.notifier import FakeNotifierUnitOfWork

NOW = datetime.now(UTC)
START = datetime(2025, 12, 1, tzinfo=UTC)
DIST, OTHER, RESELLER = "dist-eu-1", "dist-jp-1", "ten-1"
REGIONS = RegionTable.default()
ROLE = "62e90394-69f5-4237-9190-012177145e10"


def fact(data, at: datetime = NOW):
    return new_event(data, source="/tests", time=at)


def partnership(status: str, at: datetime = NOW, did: str = DIST):
    return fact(
        PartnershipUpserted(distributor_id=did, reseller_tenant_id=RESELLER, status=status), at
    )


def known_reseller() -> list:
    return [
        fact(DistributorUpserted(distributor_id=DIST, name="EU", country="DE")),
        fact(
            DistributorUpserted(
                distributor_id=OTHER, name="JP", country="JP", preferred_language="ja"
            )
        ),
        fact(
            CustomerAssignmentUpserted(
                customer_id="cust-1",
                reseller_tenant_id=RESELLER,
                distributor_id=DIST,
                status="assigned",
            )
        ),
        fact(
            GdapRelationshipUpserted(
                relationship_id="r-1",
                customer_id="cust-1",
                reseller_tenant_id=RESELLER,
                roles=[ROLE],
                status="active",
            )
        ),
        partnership("active", NOW - timedelta(hours=1)),
    ]


async def test_registry_facts_are_kept_and_emit_nothing():
    uow = FakeNotifierUnitOfWork()
    events = known_reseller()
    assert await on_registry_events(events, uow) == [()] * len(events)
    assert await uow.languages([DIST, OTHER]) == {DIST: "en", OTHER: "ja"}
    assert uow.queued() == []


async def test_a_partnerships_removal_names_the_customers_the_reseller_still_administers_once():
    uow = FakeNotifierUnitOfWork()
    await on_registry_events(known_reseller(), uow)
    removal = partnership("removed")
    await on_registry_events([removal], uow)
    [notice] = uow.queued("partnership_removed")
    assert (notice.distributor_id, notice.cause_event_id) == (DIST, removal.id)
    assert notice.payload["customersStillAdministered"] == [
        {"customerId": "cust-1", "relationships": [{"relationshipId": "r-1", "roles": [ROLE]}]}
    ]
    # Replayed, or removed again: nothing more.
    await on_registry_events([removal, partnership("removed", NOW + timedelta(1))], uow)
    assert len(uow.queued()) == 1


def decided(*pids: str, order_id: str = "o-1", **update):
    request = ValidationRequested(
        source_event_id=f"src-{order_id}",
        transaction_kind="new_order",
        order_id=order_id,
        distributor_id=DIST,
        customer_id="cust-1",
        requested_at=NOW,
        lines=[
            ValidationLine(line_item_id=str(i), partner_id_on_record=p) for i, p in enumerate(pids)
        ],
    )
    registry = Registry()
    if update.pop("known", False):
        registry = _registry_of_one_valid_account()
    decision = decide(request, registry, enforcement_start=START, decided_at=NOW, **update)
    return fact(decision)


def _registry_of_one_valid_account() -> Registry:
    registry = Registry()
    registry.distributors[DIST] = Distributor(DIST, "EU")
    registry.accounts["1000001"] = PartnerAccount("1000001", "PLA", True, RESELLER)
    registry.tenants[RESELLER] = ResellerTenant(
        RESELLER, "csp_indirect_reseller", "active", True, "EU"
    )
    registry.active_partnerships.add((DIST, RESELLER))
    return registry


async def test_a_blocked_decision_tells_the_distributor_with_each_blocked_lines_remediation():
    uow = FakeNotifierUnitOfWork()
    await on_registry_events(known_reseller(), uow)
    event = decided("1000009")
    assert event.data.outcome == "blocked"
    assert await on_decisions([event], uow, regions=REGIONS) == [()]
    [notice] = uow.queued()
    assert (notice.kind, notice.distributor_id, notice.cause_event_id) == (
        "transaction_blocked",
        DIST,
        event.id,
    )
    [line] = notice.payload["lines"]
    assert line["partnerIdOnRecord"] == "1000009"
    assert line["remediation"]["errorCodes"] == event.data.lines[0].error_codes
    await on_decisions([event], uow, regions=REGIONS)
    assert len(uow.queued()) == 1


async def test_an_accepted_order_needs_nobody_but_its_subscriptions_are_seen():
    uow = FakeNotifierUnitOfWork()
    event = decided("1000001", known=True)
    assert event.data.outcome == "accepted"
    await on_decisions([event], uow, regions=REGIONS)
    assert uow.queued() == []
    assert [s.order_id for s in uow.seen.values()] == ["o-1"]


async def test_observe_mode_and_a_release_each_tell_the_distributor():
    uow = FakeNotifierUnitOfWork()
    would_block = decided("1000009", order_id="o-observed", mode="observe")
    released = decided("1000001", order_id="o-released", known=True)
    released = fact(released.data.model_copy(update={"supersedes_decision_id": "dec-blocked"}))
    other = fact(
        PartnershipUpserted(distributor_id=DIST, reseller_tenant_id=RESELLER, status="active")
    )
    assert await on_decisions([would_block, released, other], uow, regions=REGIONS) == [(), (), ()]
    assert [(n.kind, n.cause_event_id) for n in uow.queued()] == [
        ("transaction_would_block", would_block.id),
        ("transaction_released", released.id),
    ]


def revoked(customer: str = "cust-1"):
    return fact(
        GdapPrivilegesRevoked(
            relationship_id="r-1",
            customer_id=customer,
            reseller_tenant_id=RESELLER,
            reason="reseller_suspended",
            cause_event_id="evt-0",
            revoked_at=NOW,
        )
    )


async def test_a_revocation_tells_the_customers_distributors_else_the_resellers_in_their_language():
    uow = FakeNotifierUnitOfWork()
    await on_registry_events([*known_reseller(), partnership("active", did=OTHER)], uow)
    assert await on_revocations([revoked()], uow) == [()]
    assert [(n.distributor_id, n.language) for n in uow.queued("privileges_revoked")] == [
        (DIST, "en")
    ]
    assert "r-1" in uow.revoked
    unassigned = revoked(customer="cust-9")
    await on_revocations([unassigned], uow)
    assert [
        (n.distributor_id, n.language) for n in uow.queued() if n.cause_event_id == unassigned.id
    ] == [(DIST, "en"), (OTHER, "ja")]
    # Revoked, it is no longer administered: a later removal names no customer.
    await on_registry_events([partnership("removed", NOW + timedelta(1))], uow)
    [removal] = uow.queued("partnership_removed")
    assert "r-1" not in str(removal.payload)


async def test_a_revocation_with_nobody_to_tell_queues_nothing():
    uow = FakeNotifierUnitOfWork()
    await on_revocations([revoked()], uow)
    assert uow.queued() == [] and "r-1" in uow.revoked


async def test_a_failed_termination_tells_the_distributor_whose_graph_refused_too():
    uow = FakeNotifierUnitOfWork()
    await on_registry_events(known_reseller(), uow)
    failure = GdapTerminationFailed(
        relationship_id="r-1",
        customer_id="cust-1",
        reseller_tenant_id=RESELLER,
        distributor_id=OTHER,
        reason="reseller_suspended",
        cause_event_id="evt-0",
        attempts=5,
        last_error="403",
        failed_at=NOW,
    )
    await on_revocations([fact(failure)], uow)
    assert [(n.kind, n.distributor_id) for n in uow.queued()] == [
        ("gdap_termination_failed", DIST),
        ("gdap_termination_failed", OTHER),
    ]


async def test_accounts_and_tenants_are_kept_for_the_remediation_a_blocked_notice_carries():
    uow = FakeNotifierUnitOfWork()
    await on_registry_events(
        [
            *known_reseller(),
            fact(
                ResellerTenantUpserted(
                    reseller_tenant_id=RESELLER,
                    name=RESELLER,
                    kind="csp_indirect_reseller",
                    status="active",
                    indirect_reseller_authorized=True,
                    country="DE",
                )
            ),
            fact(
                PartnerAccountUpserted(
                    partner_id="1000002",
                    account_type="PLA",
                    status="inactive",
                    name="x",
                    reseller_tenant_id=RESELLER,
                )
            ),
        ],
        uow,
    )
    registry, _ = await uow.remediation_registry(["1000002"], DIST, REGIONS)
    assert registry.accounts["1000002"].active is False and RESELLER in registry.tenants
