"""gdap-revoker on the real broker and PostgreSQL: suspensions and unassignments revoke GDAP, once."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from urllib.parse import parse_qsl

import asyncpg
import uvicorn
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.common.db import create_pool
from services.common.embedded import free_port
from services.gdap_revoker import store
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


# ------------------------------------------------------------------ Microsoft Graph gateway


class FakeGraph:
    """Token endpoint and terminate endpoint: 'rel-ok' fails twice then succeeds, 'rel-bad' always 500s."""

    def __init__(self) -> None:
        self.token_requests: list[dict] = []
        self.calls: Counter[str] = Counter()
        self.bad_requests: list[str] = []
        self.app = Starlette(
            routes=[
                Route("/tenant/oauth2/v2.0/token", self.token, methods=["POST"]),
                Route(
                    "/v1.0/tenantRelationships/delegatedAdminRelationships/{rid}/requests",
                    self.terminate,
                    methods=["POST"],
                ),
            ]
        )

    async def token(self, request: Request) -> Response:
        # Parsed by hand: starlette's form parser needs python-multipart, not installed here.
        self.token_requests.append(dict(parse_qsl((await request.body()).decode())))
        return JSONResponse({"token_type": "Bearer", "expires_in": 3599, "access_token": "token-1"})

    async def terminate(self, request: Request) -> Response:
        rid = request.path_params["rid"]
        self.calls[rid] += 1
        if request.headers.get("authorization") != "Bearer token-1":
            self.bad_requests.append(
                f"{rid}: authorization {request.headers.get('authorization')!r}"
            )
        if await request.json() != {"action": "terminate"}:
            self.bad_requests.append(f"{rid}: body {await request.body()!r}")
        if rid == "rel-ok":
            if self.calls[rid] <= 2:
                return JSONResponse(
                    {"error": {"code": "ServiceUnavailable"}},
                    status_code=503,
                    headers={"Retry-After": "0"},
                )
            return JSONResponse(
                {"id": "req-1", "action": "terminate", "status": "created"}, status_code=201
            )
        if rid == "rel-gone":
            return JSONResponse({"error": {"code": "NotFound"}}, status_code=404)
        return JSONResponse({"error": {"code": "InternalServerError"}}, status_code=500)


async def test_graph_gateway_retries_then_fails_for_good_and_retry_requeues(migrated):
    graph = FakeGraph()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(graph.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    serving = asyncio.create_task(server.serve())
    await eventually(lambda: asyncio.sleep(0, server.started), timeout=10)
    base = f"http://127.0.0.1:{port}"
    settings = migrated.model_copy(
        update={
            "gdap_gateway": "graph",
            "graph_base_url": base,
            "graph_token_url": f"{base}/tenant/oauth2/v2.0/token",
            "graph_client_id": "client-1",
            "graph_client_secret": SecretStr("secret-1"),
            "graph_timeout_s": 5.0,
            "graph_max_attempts": 3,
            "delivery_retry_initial_s": 0.05,
        }
    )
    setup = [
        tenant("ten-g"),
        relationship("rel-ok", "cust-1", "ten-g"),
        relationship("rel-gone", "cust-2", "ten-g"),
        relationship("rel-bad", "cust-3", "ten-g"),
    ]
    pool = await create_pool(settings.database_url, "gdap_revoker")
    try:
        async with Bus(settings) as bus, running(settings, SERVICES):
            await send(bus, *setup)
            await processed(settings, *setup)
            await send(bus, tenant("ten-g", "suspended"))
            events = await revocations(bus, 2)
            assert sorted(e["data"]["relationshipId"] for e in events) == ["rel-gone", "rel-ok"]

            async def bad_failed():
                row = (await terminations(settings)).get("rel-bad")
                return row is not None and row["state"] == "failed" and row

            row = await eventually(bad_failed)
            assert row["attempts"] == 3 and "HTTP 500" in row["last_error"]
            assert graph.calls == {"rel-ok": 3, "rel-gone": 1, "rel-bad": 3}
            assert [r["relationship_id"] for r in await store.failed_terminations(pool)] == [
                "rel-bad"
            ]

            # `porgate gdap retry`: a fresh budget, spent again on the still-broken receiver.
            assert await store.retry_failed(pool) == 1
            await eventually(lambda: asyncio.sleep(0, graph.calls["rel-bad"] == 6))
            await eventually(bad_failed)
        assert await store.retry_failed(pool, "rel-bad") == 1
        assert await store.retry_failed(pool, "rel-ok") == 0  # terminated rows are not failed ones
        row = (await terminations(settings))["rel-bad"]
        assert (row["state"], row["attempts"]) == ("pending", 0)
    finally:
        await pool.close()
        server.should_exit = True
        await serving

    assert graph.bad_requests == []
    # One token for every call: it is cached until shortly before it expires.
    assert graph.token_requests == [
        {
            "grant_type": "client_credentials",
            "client_id": "client-1",
            "client_secret": "secret-1",
            "scope": "https://graph.microsoft.com/.default",
        }
    ]
    assert await ledger(settings) == set()  # the ledger is the other gateway
    states = {rid: r["state"] for rid, r in (await terminations(settings)).items()}
    assert states == {"rel-ok": "terminated", "rel-gone": "terminated", "rel-bad": "pending"}
