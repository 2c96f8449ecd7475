"""Where a relationship's live state is read and its termination carried out: a ledger table
(the default, for environments without Graph access) or Microsoft Graph.

Both pass one shared test case (tests/contract/test_gdap_gateways.py). A gateway makes one
attempt per call: retrying, tracking a request to its end and deciding what counts as
revoked are the terminator's (tracking.py), on the durable termination row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import asyncpg

from services.gdap_revoker import ledger_store as store
from services.gdap_revoker.settings import GdapRevokerSettings
from services.graph.client import GraphClient
from services.graph.errors import Conflict, GraphError, NotFound, PreconditionFailed
from services.graph.models import Relationship, Request
from services.partner_center.credentials import DistributorCredentials, load_credentials

# The terminator's name for every failure a gateway reports.
GatewayError = GraphError

__all__ = [
    "Conflict",
    "Gateway",
    "GatewayError",
    "GraphGateway",
    "LedgerGateway",
    "NotFound",
    "PreconditionFailed",
    "make_gateway",
]


class Gateway(Protocol):
    async def read(self, distributor_id: str | None, relationship_id: str) -> Relationship | None:
        """The live relationship; None only when the distributor's own list shows it absent."""

    async def request_termination(
        self, distributor_id: str | None, relationship_id: str
    ) -> Request:
        """Ask for the termination of an active relationship (Conflict if it is not active)."""

    async def read_request(
        self, distributor_id: str | None, relationship_id: str, request_id: str
    ) -> Request | None:
        """A termination request's status now; None if it is unknown."""

    async def delete(self, distributor_id: str | None, relationship_id: str, etag: str) -> None:
        """Delete a relationship still `created`, if it still has this ETag."""

    async def relationships(self, distributor_id: str) -> list[Relationship]:
        """Every relationship in the distributor's list."""

    async def aclose(self) -> None: ...


class LedgerGateway:
    """Records terminations in `termination_ledger` and reads the registry's relationships,
    for environments without Graph access: a request succeeds at once."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def read(self, distributor_id: str | None, relationship_id: str) -> Relationship | None:
        return await store.ledger_read(self.pool, relationship_id)

    async def request_termination(
        self, distributor_id: str | None, relationship_id: str
    ) -> Request:
        async with self.pool.acquire() as conn, conn.transaction():
            live = await store.ledger_read(conn, relationship_id, for_update=True)
            if live is None:
                raise NotFound(f"terminate: no relationship {relationship_id}", status=404)
            if live.state not in ("active", "expiring"):
                raise Conflict(f"terminate: the relationship is {live.status}", status=409)
            return await store.record_in_ledger(conn, relationship_id, "terminate")

    async def read_request(
        self, distributor_id: str | None, relationship_id: str, request_id: str
    ) -> Request | None:
        return await store.ledger_request(self.pool, relationship_id, request_id)

    async def delete(self, distributor_id: str | None, relationship_id: str, etag: str) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            live = await store.ledger_read(conn, relationship_id, for_update=True)
            if live is None:
                raise NotFound(f"delete: no relationship {relationship_id}", status=404)
            if live.etag != etag:
                raise PreconditionFailed("delete: the ETag no longer matches", status=412)
            if live.state != "created":
                raise Conflict(f"delete: the relationship is {live.status}", status=409)
            await store.record_in_ledger(conn, relationship_id, "delete")

    async def relationships(self, distributor_id: str) -> list[Relationship]:
        return await store.ledger_relationships(self.pool, distributor_id)

    async def aclose(self) -> None:
        pass


class GraphGateway:
    """Graph's delegatedAdminRelationships, with each distributor's own credentials."""

    def __init__(self, client: GraphClient) -> None:
        self.client = client

    @classmethod
    def from_settings(
        cls,
        settings: GdapRevokerSettings,
        credentials: Mapping[str, DistributorCredentials] | None = None,
    ) -> GraphGateway:
        if credentials is None:
            credentials = load_credentials(settings.partner_center_credentials_file)
        return cls(GraphClient.from_settings(settings, credentials))

    async def read(self, distributor_id: str | None, relationship_id: str) -> Relationship | None:
        return await self.client.read(distributor_id, relationship_id)

    async def request_termination(
        self, distributor_id: str | None, relationship_id: str
    ) -> Request:
        return await self.client.request_termination(distributor_id, relationship_id)

    async def read_request(
        self, distributor_id: str | None, relationship_id: str, request_id: str
    ) -> Request | None:
        return await self.client.termination_request(distributor_id, relationship_id, request_id)

    async def delete(self, distributor_id: str | None, relationship_id: str, etag: str) -> None:
        await self.client.delete(distributor_id, relationship_id, etag)

    async def relationships(self, distributor_id: str) -> list[Relationship]:
        return await self.client.relationships(distributor_id)

    async def aclose(self) -> None:
        await self.client.aclose()


def check_graph_settings(settings: GdapRevokerSettings) -> None:
    """Fail at start, not at the first suspension: the credentials file must load."""
    load_credentials(settings.partner_center_credentials_file)


def make_gateway(settings: GdapRevokerSettings, pool: asyncpg.Pool) -> Gateway:
    if settings.gdap_gateway == "graph":
        return GraphGateway.from_settings(settings)
    return LedgerGateway(pool)
