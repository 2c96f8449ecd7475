"""One contract for both sides of each unit of work: PostgreSQL and the in-memory fake the
unit tests use (tests/fakes). Every case runs against both; a fake that passes it can be
trusted in unit tests. On PostgreSQL each case runs in a transaction rolled back after it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import ConsumerRecord

from contracts.codec import encode, encode_data, new_event
from contracts.events import (
    CustomerAssignmentUpserted,
    DistributorUpserted,
    OrderLineItem,
    OrderPlaced,
    PartnerAccountUpserted,
    PartnershipUpserted,
    ResellerTenantUpserted,
    ValidationLine,
    ValidationRequested,
)
from contracts.topics import DECISIONS, VALIDATION_REQUESTS
from services.common.handling import Outgoing
from services.domain.decisions import decide
from services.domain.regions import RegionTable
from services.domain.release import release_id
from services.por_validator import store
from services.por_validator.unit_of_work import PostgresValidatorUnitOfWork
from tests.contract.databases import migrated_database, rolled_back
from tests.fakes.por_validator import FakeValidatorUnitOfWork

START = datetime(2025, 12, 1, tzinfo=UTC)
T0 = datetime(2026, 1, 10, 9, tzinfo=UTC)
DIST, OTHER = "dist-eu-1", "dist-jp-1"
REGIONS = RegionTable.default()


@pytest.fixture(scope="module")
async def validator_database(database_url) -> AsyncIterator[str]:
    async with migrated_database(
        database_url, store.SCHEMA, Path(store.__file__).parent / "migrations"
    ) as url:
        yield url


@pytest.fixture(params=["postgres", "memory"])
def uow(request) -> Any:
    return request.getfixturevalue(f"{request.param}_uow")


@pytest.fixture
def memory_uow() -> FakeValidatorUnitOfWork:
    return FakeValidatorUnitOfWork()


@pytest.fixture
async def postgres_uow(validator_database) -> AsyncIterator[PostgresValidatorUnitOfWork]:
    async with rolled_back(validator_database, store.SCHEMA) as conn:
        yield PostgresValidatorUnitOfWork(conn)


def item(event, body: bytes | None = None) -> tuple[ConsumerRecord, Any]:
    value = encode(event) if body is None else body
    record = ConsumerRecord("t", 0, 0, 0, 0, None, value, None, 0, len(value), [])
    return record, event


def order_event(order_id: str = "ord-1"):
    order = OrderPlaced(
        order_id=order_id,
        distributor_id=DIST,
        customer_id="c",
        placed_at=T0,
        line_items=[OrderLineItem(line_item_id="1", offer_id="x", quantity=1)],
    )
    return new_event(order, source="/tests")


# ------------------------------------------------------------------- inbox, outbox, savepoint


async def test_an_event_is_claimed_once_and_a_copy_in_the_same_batch_is_a_duplicate(uow):
    a, b = order_event("a"), order_event("b")
    claim = await uow.claim([item(a), item(b), item(a)])
    assert [e.id for _, e in claim.fresh] == [a.id, b.id]
    assert [e.id for _, e in claim.duplicates] == [a.id]
    again = await uow.claim([item(b)])
    assert (again.fresh, [e.id for _, e in again.duplicates]) == ([], [b.id])


async def test_a_duplicate_with_another_body_is_reported_and_a_true_copy_is_not(uow):
    a = order_event()
    await uow.claim([item(a)])
    claim = await uow.claim([item(a), item(a, b'{"another": "body"}')])
    reused = await uow.reused(claim.duplicates)
    assert len(reused) == 1 and reused[0][0].value == b'{"another": "body"}'
    assert a.id in reused[0][1]


async def test_outbox_rows_come_back_to_publish_and_are_owed_in_the_order_written(uow):
    a, b = order_event("a"), order_event("b")
    assert await uow.write_outbox([]) == []
    rows = await uow.write_outbox(
        [(a.id, Outgoing(VALIDATION_REQUESTS, "k1", b)), (b.id, Outgoing(DECISIONS, None, a))]
    )
    assert [(r["source_event_id"], r["topic"], r["key"]) for r in rows] == [
        (a.id, VALIDATION_REQUESTS.name, b"k1"),
        (b.id, DECISIONS.name, None),
    ]
    assert bytes(rows[0]["value"]) == encode(b) and rows[0]["id"] < rows[1]["id"]
    more = await uow.write_outbox([(a.id, Outgoing(DECISIONS, "k2", b))])
    owed = await uow.pending_for([a.id])
    assert [r["id"] for r in owed] == [rows[0]["id"], more[0]["id"]]
    assert await uow.pending_for([]) == []


async def test_a_failure_in_a_savepoint_undoes_only_what_it_did(uow):
    kept = new_event(DistributorUpserted(distributor_id=DIST, name="EU", country="DE"), source="/t")
    await uow.project(kept.data, T0, kept.id)
    with pytest.raises(RuntimeError):
        async with uow.savepoint():
            await uow.project(
                DistributorUpserted(distributor_id=OTHER, name="JP", country="JP"), T0, "e2"
            )
            raise RuntimeError("undo")
    assert await uow.distributor_region(DIST) == ("DE", None)
    assert await uow.distributor_region(OTHER) is None


# ------------------------------------------------------------------- the registry projection


def tenant(tid: str, *, status: str = "active", country: str = "DE") -> ResellerTenantUpserted:
    return ResellerTenantUpserted(
        reseller_tenant_id=tid,
        name=tid,
        kind="csp_indirect_reseller",
        status=status,
        indirect_reseller_authorized=True,
        country=country,
    )


def account(pid: str, tid: str | None, *, status: str = "active") -> PartnerAccountUpserted:
    return PartnerAccountUpserted(
        partner_id=pid, account_type="PLA", status=status, name=pid, reseller_tenant_id=tid
    )


async def project_registry(uow) -> None:
    facts = [
        DistributorUpserted(distributor_id=DIST, name="EU", country="DE"),
        DistributorUpserted(
            distributor_id=OTHER, name="JP", country="JP", enforcement_mode="observe"
        ),
        tenant("t-1"),
        tenant("t-2", status="suspended", country="US"),
        account(" 1000001 ", "t-1"),
        account("1000002", "t-2", status="inactive"),
        account("1000003", "t-unknown"),
        account("1000004", None),
        PartnershipUpserted(distributor_id=DIST, reseller_tenant_id="t-1", status="active"),
        PartnershipUpserted(distributor_id=OTHER, reseller_tenant_id="t-1", status="removed"),
        PartnershipUpserted(distributor_id=DIST, reseller_tenant_id="t-2", status="active"),
    ]
    for n, fact in enumerate(facts):
        assert await uow.project(fact, T0, f"evt-{n}")


async def test_the_registry_slice_is_what_the_rules_read(uow):
    await project_registry(uow)
    ids = ["1000001", " 1000002", "1000003", "1000004", "9999999", "12ab", None]
    registry = await uow.registry_for(ids, [DIST, OTHER, "dist-unknown"], REGIONS)
    assert sorted(registry.accounts) == ["1000001", "1000002", "1000003", "1000004"]
    assert registry.accounts["1000002"].active is False
    assert sorted(registry.tenants) == ["t-1", "t-2"]
    assert registry.tenants["t-2"].status == "suspended"
    assert registry.active_partnerships == {(DIST, "t-1"), (DIST, "t-2")}
    assert registry.distributors[OTHER].enforcement_mode == "observe"
    assert set(registry.distributors) == {DIST, OTHER}
    # Only what was asked for.
    narrow = await uow.registry_for(["1000002"], [OTHER], REGIONS)
    assert (sorted(narrow.accounts), narrow.active_partnerships) == (["1000002"], set())


async def test_an_older_fact_never_overwrites_a_newer_one(uow):
    await uow.project(account("1000001", "t-1"), T0, "new")
    await uow.project(account("1000001", "t-1", status="inactive"), T0 - timedelta(1), "old")
    registry = await uow.registry_for(["1000001"], [], REGIONS)
    assert registry.accounts["1000001"].active
    assert not await uow.project(
        CustomerAssignmentUpserted(
            customer_id="c", reseller_tenant_id="t-1", distributor_id=DIST, status="assigned"
        ),
        T0,
        "x",
    )


async def test_provenance_names_the_event_that_set_each_distributor_row_a_walk_reads(uow):
    # Account and tenant rows are shared by every distributor: none of their provenance.
    await project_registry(uow)
    found = await uow.provenance_for(["1000001", "1000002"], [DIST, OTHER])
    assert {k: v.event_id for k, v in found.items()} == {
        ("distributor", DIST): "evt-0",
        ("distributor", OTHER): "evt-1",
        ("partnership", DIST, "t-1"): "evt-8",
        ("partnership", OTHER, "t-1"): "evt-9",
        ("partnership", DIST, "t-2"): "evt-10",
    }
    assert all(v.as_of == T0 for v in found.values())


async def test_a_distributors_region_and_a_tenants_accounts(uow):
    await project_registry(uow)
    assert await uow.distributor_region(DIST) == ("DE", None)
    assert await uow.distributor_region("dist-unknown") is None
    assert sorted(await uow.partner_ids_of_tenant("t-1")) == ["1000001"]
    assert await uow.partner_ids_of_tenant("t-none") == []


# ------------------------------------------------------------------------------- decisions


def requested(order_id: str, *pids: str, distributor: str = DIST) -> ValidationRequested:
    return ValidationRequested(
        source_event_id=f"src-{order_id}",
        transaction_kind="new_order",
        order_id=order_id,
        distributor_id=distributor,
        customer_id="c",
        requested_at=T0,
        lines=[
            ValidationLine(line_item_id=str(i), partner_id_on_record=p) for i, p in enumerate(pids)
        ],
    )


async def decided(uow, *requests: ValidationRequested, at: datetime = T0) -> list:
    registry = await uow.registry_for(
        [line.partner_id_on_record for r in requests for line in r.lines],
        {r.distributor_id for r in requests},
        REGIONS,
    )
    pairs = [
        (r, decide(r, registry, enforcement_start=START, decided_at=at, mode="enforce"))
        for r in requests
    ]
    # As por-validator records them: with each decision's JSON, serialized once for the
    # store and the outbox.
    inserted = await uow.record_decisions(pairs, [encode_data(d).decode() for _, d in pairs])
    assert inserted == {d.decision_id for _, d in pairs}
    return [d for _, d in pairs]


async def test_a_decision_is_recorded_once_and_superseded_at_most_once(uow):
    await project_registry(uow)
    [blocked] = await decided(uow, requested("o-1", "1000002"))
    assert blocked.outcome == "blocked"
    assert await uow.record_decisions([(requested("o-1", "1000002"), blocked)]) == set()
    revised = requested("o-1", "1000001").model_copy(
        update={"supersedes_decision_id": blocked.decision_id}
    )
    registry = await uow.registry_for(["1000001"], [DIST], REGIONS)
    first, second = (
        decide(
            revised,
            registry,
            enforcement_start=START,
            decided_at=T0,
            decision_id=release_id(blocked.decision_id, event),
        )
        for event in ("evt-a", "evt-b")
    )
    assert await uow.record_decisions([(revised, first), (revised, second)]) == {first.decision_id}


async def test_still_blocked_by_pla_id_by_distributor_and_since(uow):
    await project_registry(uow)
    [old] = await decided(uow, requested("o-old", "1000002"), at=T0 - timedelta(days=40))
    [a, ok] = await decided(
        uow, requested("o-a", "1000001", " 1000002"), requested("o-ok", "1000001")
    )
    [b] = await decided(uow, requested("o-b", "9999999"))
    [c] = await decided(uow, requested("o-c", "1000002", distributor="dist-us-1"))
    assert (a.outcome, ok.outcome, c.outcome) == ("blocked", "accepted", "blocked")
    since = T0 - timedelta(days=30)

    async def ids(**filters) -> list[str]:
        return [x.decision_id for x in await uow.still_blocked(**filters)]

    assert await ids(partner_ids=["1000002"], since=since) == sorted([a.decision_id, c.decision_id])
    assert await ids(partner_ids=["1000002"], since=since, distributor=DIST) == [a.decision_id]
    assert await ids(partner_ids=["1000001"], since=since) == []  # its line was not blocked
    assert set(await ids(distributor=DIST, since=since)) == {a.decision_id, b.decision_id}
    assert set(await ids(distributor=DIST)) == {old.decision_id, a.decision_id, b.decision_id}
    found = (await uow.still_blocked(partner_ids=["9999999"], since=since))[0]
    assert (found.error_codes, found.decided_at) == (b.error_codes, T0)
    assert ValidationRequested.model_validate(found.request) == requested("o-b", "9999999")
    # A released decision is blocked no more.
    revised = requested("o-b", "1000001").model_copy(
        update={"supersedes_decision_id": b.decision_id}
    )
    registry = await uow.registry_for(["1000001"], [DIST], REGIONS)
    release = decide(revised, registry, enforcement_start=START, decided_at=T0, decision_id="rel-1")
    await uow.record_decisions([(revised, release)])
    assert await ids(partner_ids=["9999999"], since=since) == []


async def test_an_order_repeating_a_line_id_is_recorded_and_found_once(uow):
    await project_registry(uow)
    line = ValidationLine(line_item_id="1", partner_id_on_record="1000002")
    twice = requested("o-twice", "1000002").model_copy(update={"lines": [line, line]})
    [d] = await decided(uow, twice)
    assert d.outcome == "blocked"
    found = await uow.still_blocked(partner_ids=["1000002"], since=T0 - timedelta(days=1))
    assert [x.decision_id for x in found] == [d.decision_id]


async def test_locks_are_taken_without_error(uow):
    await uow.lock_for_deciding()
    await uow.lock_for_registry_change()


# ------------------------------------------------------------------------------- parking


async def test_a_distributor_with_a_parked_request_is_among_the_parked_ones(uow):
    assert await uow.parked_among([DIST, OTHER]) == set()
    first = new_event(requested("o-1", "1000001"), source="/tests")
    second = new_event(requested("o-1", "1000002"), source="/tests")
    await uow.park([(first, "Partner Center unavailable"), (second, "queued behind")])
    assert await uow.parked_among([DIST, OTHER]) == {DIST}
    assert await uow.parked_among([OTHER]) == set()
    assert await uow.parked_among([]) == set()
