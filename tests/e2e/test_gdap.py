"""gdap-revoker on the real broker and PostgreSQL: suspensions and unassignments revoke GDAP, once."""

from __future__ import annotations

import json
from collections import Counter

import asyncpg

from tests.support import Bus, envelope, eventually, running

REGISTRY = "csp.partner-registry.v1"
REVOCATIONS = "gdap.revocations.v1"
SERVICES = ["gdap-revoker"]
DIST = "dist-eu-1"


def tenant(tid: str, status: str = "active", **kw) -> dict:
    return envelope(
        "csp.reseller-tenant.upserted.v1",
        {
            "resellerTenantId": tid,
            "name": f"Tenant {tid}",
            "kind": "csp_indirect_reseller",
            "status": status,
            "indirectResellerAuthorized": True,
            "country": "DE",
        },
        **kw,
    )


def relationship(rid: str, customer: str, tid: str, status: str = "active") -> dict:
    return envelope(
        "csp.gdap-relationship.upserted.v1",
        {
            "relationshipId": rid,
            "customerId": customer,
            "resellerTenantId": tid,
            "roles": ["62e90394-69f5-4237-9190-012177145e10"],
            "status": status,
        },
    )


def assignment(customer: str, tid: str, status: str = "assigned") -> dict:
    return envelope(
        "csp.customer-assignment.upserted.v1",
        {"customerId": customer, "resellerTenantId": tid, "distributorId": DIST, "status": status},
    )


def partnership(tid: str, status: str) -> dict:
    return envelope(
        "csp.partnership.upserted.v1",
        {"distributorId": DIST, "resellerTenantId": tid, "status": status},
    )


def key_of(e: dict) -> str:
    d = e["data"]
    return d.get("relationshipId") or d.get("customerId") or d["resellerTenantId"]


async def send(bus: Bus, *events: dict) -> None:
    for e in events:
        await bus.send(REGISTRY, e, key=key_of(e))


async def fetch(settings, sql: str, *args) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(settings.database_url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def processed(settings, *events: dict) -> None:
    """Wait until the revoker's inbox holds these events (their transaction committed)."""
    ids = [e["id"] for e in events]

    async def check():
        rows = await fetch(
            settings, "SELECT count(*) AS n FROM gdap_revoker.inbox WHERE event_id = ANY($1)", ids
        )
        return rows[0]["n"] == len(ids)

    await eventually(check)


async def revocations(bus: Bus, count: int, settle: float = 2.0) -> list[dict]:
    records = await bus.read(REVOCATIONS, lambda rs: len(rs) >= count, timeout=20, settle=settle)
    for r in records:  # keyed by reseller, as the contract says
        assert r.key.decode() == json.loads(r.value)["data"]["resellerTenantId"]
    return [json.loads(r.value) for r in records]


async def terminations(settings) -> dict[str, asyncpg.Record]:
    rows = await fetch(settings, "SELECT * FROM gdap_revoker.terminations")
    return {r["relationship_id"]: r for r in rows}


async def ledger(settings) -> set[str]:
    return {
        r["relationship_id"]
        for r in await fetch(
            settings, "SELECT relationship_id FROM gdap_revoker.termination_ledger"
        )
    }


async def test_suspension_revokes_every_active_relationship_of_that_reseller_only(migrated):
    settings = migrated
    setup = [
        tenant("ten-a"),
        tenant("ten-b"),
        relationship("a-c1", "cust-1", "ten-a"),
        relationship("a-c2", "cust-2", "ten-a"),
        relationship("a-c3-done", "cust-3", "ten-a", status="terminated"),
        relationship("a-c4-old", "cust-4", "ten-a", status="expired"),
        relationship("b-c1", "cust-1", "ten-b"),
    ]
    async with Bus(settings) as bus, running(settings, SERVICES):
        await send(bus, *setup)
        await processed(settings, *setup)
        suspension = tenant("ten-a", "suspended")
        await send(bus, suspension)
        events = await revocations(bus, 2)

    assert sorted(e["data"]["relationshipId"] for e in events) == ["a-c1", "a-c2"]
    for e in events:
        assert e["type"] == "gdap.privileges.revoked.v1"
        data = e["data"]
        assert data["resellerTenantId"] == "ten-a"
        assert data["reason"] == "reseller_suspended"
        assert data["causeEventId"] == suspension["id"]
        assert data["revokedAt"]
    assert {e["data"]["customerId"] for e in events} == {"cust-1", "cust-2"}
    assert await ledger(settings) == {"a-c1", "a-c2"}
    rows = await terminations(settings)
    assert set(rows) == {"a-c1", "a-c2"} and all(r["state"] == "terminated" for r in rows.values())
    local = {
        r["relationship_id"]: r["status"]
        for r in await fetch(
            settings, "SELECT relationship_id, status FROM gdap_revoker.gdap_relationships"
        )
    }
    assert local == {
        "a-c1": "terminated",
        "a-c2": "terminated",
        "a-c3-done": "terminated",
        "a-c4-old": "expired",
        "b-c1": "active",
    }


async def test_unassignment_revokes_only_that_customers_relationships(migrated):
    settings = migrated
    setup = [
        tenant("ten-a"),
        tenant("ten-b"),
        assignment("cust-1", "ten-a"),
        assignment("cust-2", "ten-a"),
        assignment("cust-1", "ten-b"),
        relationship("a-c1", "cust-1", "ten-a"),
        relationship("a-c1-second", "cust-1", "ten-a"),
        relationship("a-c2", "cust-2", "ten-a"),
        relationship("b-c1", "cust-1", "ten-b"),
    ]
    async with Bus(settings) as bus, running(settings, SERVICES):
        await send(bus, *setup)
        await processed(settings, *setup)
        removal = assignment("cust-1", "ten-a", "removed")
        await send(bus, removal)
        events = await revocations(bus, 2)

    assert sorted(e["data"]["relationshipId"] for e in events) == ["a-c1", "a-c1-second"]
    assert all(
        e["data"]["reason"] == "customer_unassigned"
        and e["data"]["causeEventId"] == removal["id"]
        and e["data"]["customerId"] == "cust-1"
        for e in events
    )
    assert await ledger(settings) == {"a-c1", "a-c1-second"}


async def test_partnership_removal_revokes_nothing(migrated):
    settings = migrated
    setup = [
        tenant("ten-a"),
        partnership("ten-a", "active"),
        assignment("cust-1", "ten-a"),
        relationship("a-c1", "cust-1", "ten-a"),
    ]
    async with Bus(settings) as bus, running(settings, SERVICES):
        await send(bus, *setup)
        removal = partnership("ten-a", "removed")
        await send(bus, removal)
        await processed(settings, *setup, removal)
        records = await bus.read(REVOCATIONS, lambda rs: True, timeout=10, settle=3.0)

    assert records == []
    assert await terminations(settings) == {}
    assert await ledger(settings) == set()


async def test_redelivered_and_repeated_suspensions_revoke_each_relationship_once(migrated):
    settings = migrated
    setup = [
        tenant("ten-a"),
        relationship("a-c1", "cust-1", "ten-a"),
        relationship("a-c2", "cust-2", "ten-a"),
    ]
    async with Bus(settings) as bus, running(settings, SERVICES):
        await send(bus, *setup)
        await processed(settings, *setup)
        suspension = tenant("ten-a", "suspended")
        await send(bus, suspension)
        await send(bus, suspension)  # redelivery: same CloudEvents id
        await revocations(bus, 2, settle=0)
        again = tenant("ten-a", "suspended")  # the registry re-sends the state with a new id
        lagging = relationship(
            "a-c1", "cust-1", "ten-a"
        )  # Graph sync not caught up yet: still active
        await send(bus, again, lagging)
        await processed(settings, again, lagging)
        events = await revocations(bus, 2, settle=3.0)

    assert Counter(e["data"]["relationshipId"] for e in events) == {"a-c1": 1, "a-c2": 1}
    assert all(e["data"]["causeEventId"] == suspension["id"] for e in events)
    assert await ledger(settings) == {"a-c1", "a-c2"}
    assert len(await terminations(settings)) == 2


async def test_relationship_arriving_active_for_a_suspended_reseller_is_revoked(migrated):
    settings = migrated
    suspension = tenant("ten-a", "suspended")
    async with Bus(settings) as bus, running(settings, SERVICES):
        await send(bus, suspension)
        await processed(settings, suspension)
        await send(
            bus,
            relationship("a-new", "cust-9", "ten-a"),
            relationship("a-wait", "cust-8", "ten-a", status="approvalPending"),
        )
        events = await revocations(bus, 1)

    assert [
        (e["data"]["relationshipId"], e["data"]["reason"], e["data"]["causeEventId"])
        for e in events
    ] == [("a-new", "reseller_suspended", suspension["id"])]
