"""The services' handlers against their units of work in memory (tests/fakes): what each
records and what it emits, with no broker and no database. The fakes pass the same
contract test as PostgreSQL (tests/contract/test_unit_of_work.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contracts.codec import encode, new_event
from contracts.events import (
    CustomerAssignmentUpserted,
    DistributorUpserted,
    OrderLineItem,
    OrderPlaced,
    PartnerAccountUpserted,
    PartnershipUpserted,
    ResellerTenantUpserted,
    SubscriptionChangeRequested,
    ValidationLine,
    ValidationRequested,
)
from contracts.ids import derived_event_id
from contracts.topics import DECISIONS, VALIDATION_REQUESTS
from services.domain.authority import Answer
from services.domain.regions import RegionTable
from services.order_intake.handlers import on_orders_placed
from services.por_validator.handlers import Validation, decide_requests, on_registry_events
from services.subscription_change.handlers import on_changes_requested
from tests.fakes.por_validator import FakeValidatorUnitOfWork
from tests.fakes.subscription_change import FakeChangeUnitOfWork

START = datetime(2025, 12, 1, tzinfo=UTC)
DIST = "dist-eu-1"
VALID, INACTIVE = "1000001", "1000002"
RELEASING = Validation(START, RegionTable.default(), release_window_s=86400.0)
DECIDING = Validation(START, RegionTable.default())


def fact(data, at: datetime | None = None):
    return new_event(data, source="/tests", time=at or datetime.now(UTC))


def registry_facts(inactive_status: str = "inactive") -> list:
    facts = [fact(DistributorUpserted(distributor_id=DIST, name="EU", country="DE"))]
    for pid, status in ((VALID, "active"), (INACTIVE, inactive_status)):
        tenant = f"ten-{pid}"
        facts += [
            fact(
                ResellerTenantUpserted(
                    reseller_tenant_id=tenant,
                    name=tenant,
                    kind="csp_indirect_reseller",
                    status="active",
                    indirect_reseller_authorized=True,
                    country="DE",
                )
            ),
            fact(
                PartnerAccountUpserted(
                    partner_id=pid,
                    account_type="PLA",
                    status=status,
                    name=pid,
                    reseller_tenant_id=tenant,
                )
            ),
            fact(
                PartnershipUpserted(distributor_id=DIST, reseller_tenant_id=tenant, status="active")
            ),
        ]
    return facts


def request(order_id: str, *pids: str):
    return new_event(
        ValidationRequested(
            source_event_id=f"src-{order_id}",
            transaction_kind="new_order",
            order_id=order_id,
            distributor_id=DIST,
            customer_id="cust-1",
            requested_at=datetime.now(UTC),
            lines=[
                ValidationLine(line_item_id=str(i), partner_id_on_record=p)
                for i, p in enumerate(pids, 1)
            ],
        ),
        source="/tests",
    )


async def validator_with_registry(validation: Validation = DECIDING) -> FakeValidatorUnitOfWork:
    uow = FakeValidatorUnitOfWork()
    emitted = await on_registry_events(registry_facts(), uow, validation=validation)
    assert as_lists(emitted) == [[]] * 7
    return uow


def as_lists(emitted) -> list[list]:
    return [list(outs) for outs in emitted]


# ----------------------------------------------------------------------------- por-validator


async def test_requests_are_decided_from_the_registry_recorded_and_published_once():
    uow = await validator_with_registry()
    events = [request("ord-ok", VALID), request("ord-blocked", VALID, INACTIVE)]
    emitted = await decide_requests(events, uow, validation=DECIDING)
    published = [out.event.data for outs in emitted for out in outs]
    assert [(d.order_id, d.outcome, d.error_codes) for d in published] == [
        ("ord-ok", "accepted", []),
        ("ord-blocked", "blocked", [900151]),
    ]
    assert all(
        out.topic is DECISIONS and out.key == out.event.data.order_id for o in emitted for out in o
    )
    # Encoded in the handler from the JSON it recorded: the bytes the outbox would encode.
    assert all(out.value == encode(out.event) for o in emitted for out in o)
    assert set(uow.decisions) == {d.decision_id for d in published}
    assert uow.locks == []  # no release beside it: nothing to keep in step with
    # The blocked line carries its walk, with the event that set the distributor's rows it read.
    walk = published[1].lines[1].explanation
    failed = [s for s in walk if s.outcome == "fail"]
    assert [s.error_code for s in failed] == [900151]
    partnership_event = uow.partnerships[(DIST, f"ten-{INACTIVE}")][2]
    assert partnership_event in {f.event_id for step in walk for f in step.facts}
    assert published[1].lines[0].explanation is None and published[0].lines[0].explanation is None
    # The same requests again (a replay under new event ids): recorded already, nothing new.
    again = [request("ord-ok", VALID), request("ord-blocked", VALID, INACTIVE)]
    assert as_lists(await decide_requests(again, uow, validation=DECIDING)) == [[], []]


async def test_observe_mode_accepts_what_would_block_and_says_so():
    uow = await validator_with_registry()
    observing = Validation(START, RegionTable.default(), enforcement_mode="observe")
    [[out]] = await decide_requests([request("ord-1", INACTIVE)], uow, validation=observing)
    decision = out.event.data
    assert (decision.outcome, decision.would_block, decision.observed_error_codes) == (
        "accepted",
        True,
        [900151],
    )
    assert decision.lines[0].explanation is None


async def test_partner_centers_answers_decide_and_the_registrys_codes_ride_along():
    uow = await validator_with_registry()
    answers = {DIST: {VALID: Answer(VALID, False, 900400), INACTIVE: Answer(INACTIVE, True)}}
    [[out]] = await decide_requests(
        [request("ord-1", VALID, INACTIVE)], uow, validation=DECIDING, answers=answers
    )
    decision = out.event.data
    assert (decision.authority, decision.error_codes, decision.registry_drift) == (
        "partner_center",
        [900400],
        True,
    )
    assert [line.registry_error_codes for line in decision.lines] == [[], [900151]]
    # A distributor Partner Center has no credentials for is decided from the registry.
    [[out]] = await decide_requests(
        [request("ord-2", INACTIVE)], uow, validation=DECIDING, answers={DIST: None}
    )
    assert (out.event.data.authority, out.event.data.error_codes) == ("registry", [900151])


async def test_a_registry_fact_that_frees_a_blocked_transaction_releases_it_once():
    uow = await validator_with_registry(RELEASING)
    [[blocked]] = await decide_requests([request("ord-1", INACTIVE)], uow, validation=RELEASING)
    assert uow.locks[-1] == "deciding"
    activated = fact(
        PartnerAccountUpserted(
            partner_id=INACTIVE,
            account_type="PLA",
            status="active",
            name="now active",
            reseller_tenant_id=f"ten-{INACTIVE}",
        )
    )
    [[released]] = await on_registry_events([activated], uow, validation=RELEASING)
    assert uow.locks[-1] == "registry-change"
    decision = released.event.data
    assert (decision.outcome, decision.supersedes_decision_id) == (
        "accepted",
        blocked.event.data.decision_id,
    )
    assert released.key == "ord-1"
    # The same fact again (a replay): nothing still blocked depends on it.
    assert as_lists(await on_registry_events([activated], uow, validation=RELEASING)) == [[]]


async def test_without_automatic_release_registry_facts_are_only_kept():
    uow = await validator_with_registry()
    await decide_requests([request("ord-1", INACTIVE)], uow, validation=DECIDING)
    activated = fact(
        PartnerAccountUpserted(
            partner_id=INACTIVE,
            account_type="PLA",
            status="active",
            name="now active",
            reseller_tenant_id=f"ten-{INACTIVE}",
        )
    )
    assert as_lists(await on_registry_events([activated], uow, validation=DECIDING)) == [[]]
    assert uow.accounts[INACTIVE][0].status == "active" and uow.locks == []


async def test_an_older_fact_never_overwrites_a_newer_one_and_other_facts_are_ignored():
    uow = await validator_with_registry(RELEASING)
    stale = fact(
        PartnerAccountUpserted(
            partner_id=VALID,
            account_type="PLA",
            status="inactive",
            name="old",
            reseller_tenant_id="x",
        ),
        at=datetime.now(UTC) - timedelta(days=1),
    )
    assignment = fact(
        CustomerAssignmentUpserted(
            customer_id="cust-1",
            reseller_tenant_id=f"ten-{VALID}",
            distributor_id=DIST,
            status="assigned",
        )
    )
    assert as_lists(await on_registry_events([stale, assignment], uow, validation=RELEASING)) == [
        [],
        [],
    ]
    assert uow.accounts[VALID][0].status == "active"


async def test_a_release_that_fails_is_undone_alone_and_the_fact_is_kept():
    uow = await validator_with_registry(RELEASING)
    await decide_requests([request("ord-1", INACTIVE)], uow, validation=RELEASING)
    # A stored request the model no longer reads.
    for req, decision in list(uow.decisions.values()):
        uow.decisions[decision.decision_id] = (req.model_copy(update={"lines": []}), decision)
    activated = fact(
        PartnerAccountUpserted(
            partner_id=INACTIVE,
            account_type="PLA",
            status="active",
            name="now active",
            reseller_tenant_id=f"ten-{INACTIVE}",
        )
    )
    assert as_lists(await on_registry_events([activated], uow, validation=RELEASING)) == [[]]
    assert uow.accounts[INACTIVE][0].status == "active"
    assert len(uow.decisions) == 1


async def test_a_distributors_name_frees_nothing_its_region_may():
    uow = await validator_with_registry(RELEASING)
    renamed = fact(DistributorUpserted(distributor_id=DIST, name="EU renamed", country="DE"))
    moved = fact(DistributorUpserted(distributor_id=DIST, name="EU", country="US"))
    # Nothing is blocked, so nothing is released either way; the rename is not even looked at.
    assert as_lists(await on_registry_events([renamed, moved], uow, validation=RELEASING)) == [
        [],
        [],
    ]


# ----------------------------------------------------------------------------- order-intake


async def test_each_order_asks_for_its_validation_under_an_id_derived_from_its_own():
    order = OrderPlaced(
        order_id="ord-1",
        distributor_id=DIST,
        customer_id="cust-1",
        placed_at=datetime.now(UTC),
        line_items=[
            OrderLineItem(line_item_id="1", offer_id="x", quantity=1, partner_id_on_record=VALID)
        ],
    )
    event = new_event(order, source="/tests")
    [[out]] = await on_orders_placed([event])
    # The same event, again, asks again in the same bytes: por-validator's inbox has it once.
    [[again]] = await on_orders_placed([event])
    assert encode(again.event) == encode(out.event)
    assert (out.event.data.source_event_id, out.event.data.order_id) == (event.id, "ord-1")
    assert (out.topic, out.key, out.event.id) == (
        VALIDATION_REQUESTS,
        "ord-1",
        derived_event_id("validation-request", event.id),
    )
    assert out.event.data.lines[0].partner_id_on_record == VALID


# ----------------------------------------------------------------------- subscription-change


@pytest.mark.parametrize(
    ("kind", "topic"), [("renewal", DECISIONS), ("seat_count", VALIDATION_REQUESTS)]
)
async def test_an_exempt_change_is_decided_here_and_the_others_sent_for_validation(kind, topic):
    uow = FakeChangeUnitOfWork()
    change = SubscriptionChangeRequested(
        change_id="chg-1",
        subscription_id="sub-1",
        kind=kind,
        distributor_id=DIST,
        customer_id="cust-1",
        partner_id_on_record=VALID,
        requested_at=datetime.now(UTC),
    )
    event = new_event(change, source="/tests")
    [[out]] = await on_changes_requested([event], uow, enforcement_start=START)
    assert (out.topic, out.key) == (topic, "sub-1")
    assert uow.changes[event.id][1] == ("exempt_renewal" if kind == "renewal" else "validated")
