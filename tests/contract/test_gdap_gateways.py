"""One test case every GDAP gateway passes: the ledger (PostgreSQL) and Microsoft Graph (its
stand-in, over HTTP, with a distributor's own credentials). The terminator relies on exactly
this; a gateway that passes it can replace the other."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from contracts.events import GdapRelationshipUpserted
from services.common.db import create_pool
from services.gdap_revoker import store
from services.gdap_revoker.gateway import (
    Conflict,
    Gateway,
    GraphGateway,
    LedgerGateway,
    NotFound,
    PreconditionFailed,
)
from services.graph import standin
from services.partner_center.credentials import parse_credentials
from services.settings import Settings

DIST = "dist-eu-1"
TENANT = "tenant-eu-1"


class World:
    """A gateway and a way to put relationships where it reads them."""

    gateway: Gateway

    async def seed(self, body: dict[str, Any]) -> None:
        raise NotImplementedError

    async def settle(self, relationship_id: str, request_id: str):
        """Read the request back until it settles (a few reads at most)."""
        for _ in range(10):
            request = await self.gateway.read_request(DIST, relationship_id, request_id)
            assert request is not None
            if request.state in ("succeeded", "failed"):
                return request
        raise AssertionError("the request never settled")


class GatewayContract:
    """Subclasses provide the `world` fixture."""

    async def test_a_listed_relationship_reads_with_its_status_customer_and_an_etag(self, world):
        await world.seed(standin.relationship_json("rel-1", "cust-1", "active"))
        live = await world.gateway.read(DIST, "rel-1")
        assert (live.relationship_id, live.state, live.customer_tenant_id) == (
            "rel-1",
            "active",
            "cust-1",
        )
        assert live.etag

    async def test_an_unknown_relationship_reads_as_absent(self, world):
        await world.seed(standin.relationship_json("rel-1", "cust-1"))
        assert await world.gateway.read(DIST, "rel-unknown") is None

    async def test_a_terminate_request_settles_succeeded_and_the_relationship_reads_terminated(
        self, world
    ):
        await world.seed(standin.relationship_json("rel-1", "cust-1", "active"))
        request = await world.gateway.request_termination(DIST, "rel-1")
        assert request.action == "terminate" and request.request_id
        assert (await world.settle("rel-1", request.request_id)).state == "succeeded"
        assert (await world.gateway.read(DIST, "rel-1")).state == "terminated"

    async def test_only_an_active_relationship_can_be_terminated(self, world):
        await world.seed(standin.relationship_json("rel-1", "cust-1", "terminated"))
        await world.seed(standin.relationship_json("rel-2", "cust-2", "created"))
        for rid in ("rel-1", "rel-2"):
            with pytest.raises(Conflict):
                await world.gateway.request_termination(DIST, rid)

    async def test_terminating_an_unknown_relationship_is_not_found(self, world):
        with pytest.raises(NotFound):
            await world.gateway.request_termination(DIST, "rel-unknown")

    async def test_an_unknown_request_reads_as_none(self, world):
        await world.seed(standin.relationship_json("rel-1", "cust-1"))
        assert await world.gateway.read_request(DIST, "rel-1", "req-unknown") is None

    async def test_a_created_relationship_is_deleted_with_its_etag_and_then_reads_absent(
        self, world
    ):
        await world.seed(standin.relationship_json("rel-1", "cust-1", "created"))
        live = await world.gateway.read(DIST, "rel-1")
        with pytest.raises(PreconditionFailed):
            await world.gateway.delete(DIST, "rel-1", 'W/"stale"')
        await world.gateway.delete(DIST, "rel-1", live.etag)
        assert await world.gateway.read(DIST, "rel-1") is None

    async def test_only_a_created_relationship_can_be_deleted(self, world):
        await world.seed(standin.relationship_json("rel-1", "cust-1", "active"))
        live = await world.gateway.read(DIST, "rel-1")
        with pytest.raises(Conflict):
            await world.gateway.delete(DIST, "rel-1", live.etag)
        assert (await world.gateway.read(DIST, "rel-1")).state == "active"

    async def test_the_list_holds_every_relationship_of_the_distributor(self, world):
        statuses = [
            "active",
            "created",
            "terminated",
            "expired",
            "active",
            "approvalPending",
            "active",
        ]
        for n, status in enumerate(statuses):
            await world.seed(standin.relationship_json(f"rel-{n}", f"cust-{n}", status))
        listed = await world.gateway.relationships(DIST)
        assert {(r.relationship_id, r.status) for r in listed} == {
            (f"rel-{n}", s) for n, s in enumerate(statuses)
        }


class LedgerWorld(World):
    def __init__(self, pool) -> None:
        self.pool = pool
        self.gateway = LedgerGateway(pool)

    async def seed(self, body: dict[str, Any]) -> None:
        upsert = GdapRelationshipUpserted(
            relationship_id=body["id"],
            customer_id=body["customer"]["tenantId"],
            reseller_tenant_id="ten-1",
            status=body["status"],
            distributor_id=DIST,
        )
        async with self.pool.acquire() as conn:
            await store.upsert_relationship(conn, upsert, datetime.now(UTC))


class GraphWorld(World):
    def __init__(self, graph: standin.GraphStandin, gateway: GraphGateway) -> None:
        self.graph = graph
        self.gateway = gateway

    async def seed(self, body: dict[str, Any]) -> None:
        self.graph.tenants[TENANT].add(body)


class TestLedgerGateway(GatewayContract):
    @pytest.fixture
    async def world(self, migrated) -> AsyncIterator[World]:
        pool = await create_pool(migrated.database_url, store.SCHEMA)
        try:
            yield LedgerWorld(pool)
        finally:
            await pool.close()


class TestGraphGateway(GatewayContract):
    @pytest.fixture
    async def world(self) -> AsyncIterator[World]:
        # Pages of 3: the list test crosses @odata.nextLink twice.
        graph = standin.GraphStandin(
            {TENANT: standin.GraphTenant("client-eu", "secret-eu")},
            page_size=3,
            reads_to_settle=3,
        )
        async with contextlib.AsyncExitStack() as stack:
            base = await stack.enter_async_context(standin.serving(graph))
            credentials = parse_credentials(
                {DIST: {"tenantId": TENANT, "clientId": "client-eu", "clientSecret": "secret-eu"}},
                {},
            )
            settings = Settings(graph_base_url=base, entra_authority_url=base, graph_timeout_s=5)
            gateway = GraphGateway.from_settings(settings, credentials)
            stack.push_async_callback(gateway.aclose)
            yield GraphWorld(graph, gateway)
