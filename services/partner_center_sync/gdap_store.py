"""The GDAP sync's SQL: what each distributor's Graph list showed last."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from services.common.db import Executor
from services.partner_center_sync.gdap_changes import Change, SeenRelationship


async def seen(
    conn: Executor, distributor_id: str, relationship_id: str | None = None
) -> dict[str, SeenRelationship]:
    """Every relationship recorded for the distributor, or the one given."""
    rows = await conn.fetch(
        "SELECT relationship_id, data, version FROM seen_gdap_relationships"
        " WHERE distributor_id = $1 AND ($2::text IS NULL OR relationship_id = $2)",
        distributor_id,
        relationship_id,
    )
    return {
        r["relationship_id"]: SeenRelationship(
            r["relationship_id"], json.loads(r["data"]), r["version"]
        )
        for r in rows
    }


async def record(
    conn: asyncpg.Connection, distributor_id: str, changes: Sequence[Change], at: datetime
) -> None:
    if not changes:
        return
    await conn.execute(
        "INSERT INTO seen_gdap_relationships (distributor_id, relationship_id, data, version, changed_at)"
        " SELECT $1, c.rid, c.data, c.version, $5"
        " FROM unnest($2::text[], $3::jsonb[], $4::int[]) AS c(rid, data, version)"
        " ON CONFLICT (distributor_id, relationship_id) DO UPDATE SET data = EXCLUDED.data,"
        " version = EXCLUDED.version, changed_at = EXCLUDED.changed_at",
        distributor_id,
        [c.relationship_id for c in changes],
        [json.dumps(c.data) for c in changes],
        [c.version for c in changes],
        at,
    )


def _run_key(distributor_id: str) -> str:
    return f"partner-center-sync:{distributor_id}:gdap-run"


async def lock_gdap_run(conn: asyncpg.Connection, distributor_id: str) -> None:
    """Held from before Graph is read until the record commits (a session lock: Graph is read
    outside any transaction), so syncs and refreshes of one distributor take turns."""
    await conn.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", _run_key(distributor_id))


async def unlock_gdap_run(conn: asyncpg.Connection, distributor_id: str) -> None:
    await conn.execute(
        "SELECT pg_advisory_unlock(hashtextextended($1, 0))", _run_key(distributor_id)
    )
