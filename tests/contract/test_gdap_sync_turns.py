"""A webhook's refresh and a whole-list sync of one distributor take turns from before Graph
is read: an older listing, read before a refresh saw the relationship terminated, is never
recorded over it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from services.common.db import create_pool
from services.graph import standin
from services.graph.models import Relationship
from services.partner_center.credentials import DistributorCredentials
from services.partner_center_sync import gdap_store
from services.partner_center_sync import store as sync_store
from services.partner_center_sync.gdap_syncer import GdapSyncer
from tests.contract.databases import migrated_database

DIST, TENANT = "dist-1", "tenant-dist-1"


@pytest.fixture
async def sync_database(database_url) -> AsyncIterator[str]:
    migrations = Path(sync_store.__file__).parent / "migrations"
    async with migrated_database(database_url, sync_store.SCHEMA, migrations) as url:
        yield url


class Graph:
    """The distributor's Graph list; a whole-list read can be held after it was taken."""

    def __init__(self) -> None:
        self.status = "active"
        self.hold = asyncio.Event()
        self.hold.set()
        self.listing_taken = asyncio.Event()
        self.reads: list[str] = []

    def _rel(self) -> Relationship:
        body = standin.relationship_json(
            "rel-1", "cust-1", self.status, indirect_provider_tenant_id=TENANT
        )
        return Relationship.from_graph(body)

    async def relationships(self, distributor_id: str) -> list[Relationship]:
        listing = [self._rel()]
        self.reads.append(f"list:{self.status}")
        self.listing_taken.set()
        await self.hold.wait()
        return listing

    async def read(self, distributor_id: str, relationship_id: str) -> Relationship | None:
        self.reads.append(f"read:{self.status}")
        return self._rel()


class Published:
    """Stands in for the Kafka side of the outbox: the rows are written in PostgreSQL."""

    async def publish(self, rows) -> dict[str, str]:
        return {}


async def test_a_stale_listing_is_read_first_and_not_recorded_over_a_newer_read(
    sync_database,
):
    graph = Graph()
    creds = {
        DIST: DistributorCredentials(
            DIST, TENANT, "app", SecretStr("s"), refresh_token=SecretStr("rt")
        )
    }

    async def resellers_of(distributor_id: str, customer: str) -> list[str]:
        return ["ten-b"]

    pool = await create_pool(sync_database, sync_store.SCHEMA, max_size=2)
    try:
        syncer = GdapSyncer(graph, creds, resellers_of, pool, Published())  # type: ignore[arg-type]
        assert (await syncer.sync(DIST)).plan is not None  # rel-1 recorded active
        graph.hold.clear()
        graph.listing_taken.clear()
        whole = asyncio.create_task(syncer.sync(DIST))
        await graph.listing_taken.wait()  # the list says active, and is held there
        graph.status = "terminated"  # the customer ends it; Partner Center's event says so
        refresh = asyncio.create_task(syncer.refresh(DIST, "rel-1"))
        await asyncio.sleep(0.3)
        assert not refresh.done()  # waits its turn: the listing was read first
        graph.hold.set()
        outcomes = await asyncio.gather(whole, refresh)
        assert all(o.plan is not None for o in outcomes), outcomes
        seen = await gdap_store.seen(pool, DIST, "rel-1")
        assert seen["rel-1"].data["status"] == "terminated"
        assert graph.reads == ["list:active", "list:active", "read:terminated"]
    finally:
        await pool.close()
