"""The ledger gateway's SQL: the registry's relationships as the live state, and what it
terminated or deleted in `termination_ledger` (for environments without Graph access)."""

from __future__ import annotations

import asyncpg

from services.common.db import Executor
from services.graph.models import Relationship, Request

_READ = (
    "SELECT r.relationship_id, r.customer_id, r.status, r.roles, r.ends_at, r.as_of, l.action"
    " FROM gdap_relationships r LEFT JOIN termination_ledger l USING (relationship_id)"
)


def _live(row: asyncpg.Record) -> Relationship | None:
    if row["action"] == "delete":
        return None  # deleted: gone from the list
    return Relationship(
        relationship_id=row["relationship_id"],
        status="terminated" if row["action"] == "terminate" else row["status"],
        customer_tenant_id=row["customer_id"],
        roles=tuple(row["roles"]),
        ends_at=row["ends_at"],
        # Changes whenever the registry sends a newer state, as Graph's ETag does.
        etag=f'W/"{row["as_of"].timestamp():.6f}"',
    )


async def ledger_read(
    conn: Executor, relationship_id: str, *, for_update: bool = False
) -> Relationship | None:
    row = await conn.fetchrow(
        _READ + " WHERE r.relationship_id = $1" + (" FOR UPDATE OF r" if for_update else ""),
        relationship_id,
    )
    return None if row is None else _live(row)


async def ledger_relationships(conn: Executor, distributor_id: str) -> list[Relationship]:
    rows = await conn.fetch(
        _READ + " WHERE r.distributor_id = $1 ORDER BY r.relationship_id", distributor_id
    )
    return [live for row in rows if (live := _live(row)) is not None]


async def record_in_ledger(conn: Executor, relationship_id: str, action: str) -> Request:
    """The ledger's termination (or deletion): done as it is recorded."""
    request_id = f"ledger-{relationship_id}"
    await conn.execute(
        "INSERT INTO termination_ledger (relationship_id, customer_id, reseller_tenant_id, reason,"
        " action, request_id)"
        " SELECT r.relationship_id, r.customer_id, r.reseller_tenant_id,"
        " COALESCE((SELECT t.reason FROM terminations t WHERE t.relationship_id = $1), 'operator'),"
        " $2, $3 FROM gdap_relationships r WHERE r.relationship_id = $1"
        " ON CONFLICT (relationship_id) DO NOTHING",
        relationship_id,
        action,
        request_id,
    )
    return Request(request_id, action, "succeeded")


async def ledger_request(conn: Executor, relationship_id: str, request_id: str) -> Request | None:
    row = await conn.fetchrow(
        "SELECT request_id, action FROM termination_ledger WHERE relationship_id = $1"
        " AND request_id = $2",
        relationship_id,
        request_id,
    )
    return None if row is None else Request(row["request_id"], row["action"], "succeeded")
