"""Every failure of an attempt at a Partner Center event counts against its budget: a defect
that escaped as an unexpected exception used to leave the event to its lease, uncounted, for
ever. And a Graph list whose items are not objects is no list."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from services.graph.auth import GlobalApp, GraphTokens
from services.graph.client import GraphClient
from services.graph.errors import GraphError
from services.partner_center_sync import event_store, event_worker
from services.partner_center_sync import store as sync_store
from tests.contract.databases import migrated_database, rolled_back


@pytest.fixture(scope="module")
async def sync_database(database_url) -> AsyncIterator[str]:
    migrations = Path(sync_store.__file__).parent / "migrations"
    async with migrated_database(database_url, sync_store.SCHEMA, migrations) as url:
        yield url


async def _retrying(operation, fn):
    return await fn()


@pytest.mark.parametrize("failure", [RuntimeError("a defect"), KeyError("Id")])
async def test_an_unexpected_failure_is_a_counted_attempt(sync_database, failure):
    async with rolled_back(sync_database, sync_store.SCHEMA) as conn:
        await event_store.receive(
            conn, "dist-1", "sha-1", "granular-admin-relationship-terminated", None,
            datetime.now(UTC), {"EventName": "x"}, act=True,
        )  # fmt: skip
        [row] = await event_store.claim_due(conn, 10, 60)
        settings = SimpleNamespace(delivery_backoff_s=lambda n: 1.0, graph_max_attempts=2)
        ctx = SimpleNamespace(service="test", settings=settings, pool=conn, retrying=_retrying)

        async def acting(_row):
            raise failure

        await event_worker.attempt(ctx, row, acting)
        saved = await conn.fetchrow(
            "SELECT attempts, state, last_error FROM partner_center_events WHERE body_sha256 = 'sha-1'"
        )
        assert saved["attempts"] == 1 and saved["state"] == "pending"
        assert type(failure).__name__ in saved["last_error"]


async def test_a_list_page_of_non_objects_is_not_a_relationship_list():
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        return httpx.Response(200, json={"value": ["rel-1", 7]})

    http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    tokens = GraphTokens(
        {}, authority_url="https://login.test", margin_s=60, timeout_s=5,
        global_app=GlobalApp("https://login.test/token", "c", "s"), http=http,
    )  # fmt: skip
    client = GraphClient(base_url="https://graph.test", tokens=tokens, client=http)
    try:
        with pytest.raises(GraphError, match="not a delegatedAdminRelationship collection"):
            await asyncio.wait_for(client.relationships("dist-1"), 5)
    finally:
        await client.aclose()
