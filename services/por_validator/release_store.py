"""por-validator's SQL for automatic release: from a registry fact to the blocked
transactions that depend on it, by index (never a scan of all decisions), and the lock that
keeps a decision and a registry change from missing each other."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

import asyncpg

# Blocked and superseded by nothing: supersession is the only way a transaction gets a
# later decision, and a unique index makes it at most one.
_STILL_BLOCKED = (
    " JOIN decisions d ON d.decision_id = c.decision_id"
    " WHERE d.outcome = 'blocked'"
    "  AND NOT EXISTS (SELECT 1 FROM decisions n WHERE n.supersedes_decision_id = d.decision_id)"
    " ORDER BY d.decided_at, d.decision_id"
)
_BY_PARTNER_IDS = (
    "SELECT d.decision_id, d.request::text AS request FROM ("
    " SELECT DISTINCT l.decision_id FROM decision_lines l"
    " WHERE l.pla_id = ANY($1::text[]) AND l.decided_at >= $2"
    "  AND l.error_codes <> '{}' AND ($3::text IS NULL OR l.distributor_id = $3)) c"
) + _STILL_BLOCKED
_BY_DISTRIBUTOR = (
    "SELECT d.decision_id, d.request::text AS request FROM ("
    " SELECT DISTINCT l.decision_id FROM decision_lines l"
    " WHERE l.distributor_id = $1 AND l.decided_at >= $2 AND l.error_codes <> '{}') c"
) + _STILL_BLOCKED


class Blocked(NamedTuple):
    decision_id: str
    request: dict[str, Any]


async def partner_ids_of_tenant(conn: asyncpg.Connection, tenant_id: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT partner_id FROM partner_accounts WHERE reseller_tenant_id = $1", tenant_id
    )
    return [r["partner_id"] for r in rows]


async def blocked_with_partner_ids(
    conn: asyncpg.Connection,
    partner_ids: Sequence[str],
    since: datetime,
    distributor_id: str | None = None,
) -> list[Blocked]:
    rows = await conn.fetch(_BY_PARTNER_IDS, list(partner_ids), since, distributor_id)
    return [Blocked(r["decision_id"], json.loads(r["request"])) for r in rows]


async def blocked_of_distributor(
    conn: asyncpg.Connection, distributor_id: str, since: datetime
) -> list[Blocked]:
    rows = await conn.fetch(_BY_DISTRIBUTOR, distributor_id, since)
    return [Blocked(r["decision_id"], json.loads(r["request"])) for r in rows]


async def distributor_region(conn: asyncpg.Connection, distributor_id: str) -> tuple | None:
    """(country, csp_region) of a distributor, None if unknown."""
    row = await conn.fetchrow(
        "SELECT country, csp_region FROM distributors WHERE distributor_id = $1", distributor_id
    )
    return None if row is None else (row["country"], row["csp_region"])


# Deciding reads the registry; a registry change looks for what it releases among the
# decisions. Without this lock a decision made from the old facts but committed after the
# change's search would never be released: decisions take it shared, registry changes
# exclusive, so each sees the other's committed result.
_DECIDING = "SELECT pg_advisory_xact_lock_shared(hashtext('porgate:registry-and-decisions'))"
_CHANGING = "SELECT pg_advisory_xact_lock(hashtext('porgate:registry-and-decisions'))"


async def lock_for_deciding(conn: asyncpg.Connection) -> None:
    await conn.execute(_DECIDING)


async def lock_for_registry_change(conn: asyncpg.Connection) -> None:
    await conn.execute(_CHANGING)
