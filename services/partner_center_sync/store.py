"""partner-center-sync's SQL: what each distributor's list showed last, and the schedule."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from services.common.db import Executor
from services.partner_center_sync.changes import Change, Seen

# The PostgreSQL schema this service owns; nothing else reads or writes it.
SCHEMA = "partner_center_sync"


# The schedules (rows of `schedules`): the indirect-reseller lists, the GDAP lists.
SCHEDULE, GDAP_SCHEDULE = "partner-center", "gdap"


def run_lock(schedule: str) -> str:
    """Held for a whole scheduled run, on a connection of its own: replicas never run one
    schedule at once."""
    return "porgate:partner-center-sync:run" + ("" if schedule == SCHEDULE else f":{schedule}")


async def lock_distributor(
    conn: asyncpg.Connection, distributor_id: str, listing: str = "resellers"
) -> None:
    """Serialise one distributor's syncs of one list (the CLI, the service, a webhook's
    refresh) until commit: each reads what the other recorded, so a change is published once."""
    key = f"partner-center-sync:{distributor_id}"
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        key if listing == "resellers" else f"{key}:{listing}",
    )


async def seen(conn: Executor, distributor_id: str) -> dict[str, Seen]:
    rows = await conn.fetch(
        "SELECT reseller_tenant_id, entities, version FROM seen_resellers WHERE distributor_id = $1",
        distributor_id,
    )
    return {
        r["reseller_tenant_id"]: Seen(
            r["reseller_tenant_id"], json.loads(r["entities"]), r["version"]
        )
        for r in rows
    }


async def record(
    conn: asyncpg.Connection, distributor_id: str, changes: Sequence[Change], at: datetime
) -> None:
    if not changes:
        return
    await conn.execute(
        "INSERT INTO seen_resellers (distributor_id, reseller_tenant_id, entities, version, changed_at)"
        " SELECT $1, c.tenant, c.entities, c.version, $5"
        " FROM unnest($2::text[], $3::jsonb[], $4::int[]) AS c(tenant, entities, version)"
        " ON CONFLICT (distributor_id, reseller_tenant_id) DO UPDATE SET entities = EXCLUDED.entities,"
        " version = EXCLUDED.version, changed_at = EXCLUDED.changed_at",
        distributor_id,
        [c.reseller_tenant_id for c in changes],
        [json.dumps(c.entities) for c in changes],
        [c.version for c in changes],
        at,
    )


async def recently_lost(conn: Executor, distributor_id: str, since: datetime) -> int:
    """The active partnerships the distributor's runs since `since` ended, counted from its
    last confirmed mass removal if one is more recent."""
    return await conn.fetchval(
        "SELECT coalesce(sum(lost), 0) FROM partnership_losses"
        " WHERE distributor_id = $1 AND at > $2 AND at > coalesce("
        "  (SELECT max(at) FROM partnership_losses WHERE distributor_id = $1 AND confirmed),"
        "  '-infinity')",
        distributor_id,
        since,
    )


async def record_losses(
    conn: asyncpg.Connection,
    distributor_id: str,
    at: datetime,
    lost: int,
    *,
    confirmed: bool,
    forget_before: datetime,
) -> None:
    await conn.execute(
        "DELETE FROM partnership_losses WHERE distributor_id = $1 AND at < $2",
        distributor_id,
        forget_before,
    )
    if lost:
        await conn.execute(
            "INSERT INTO partnership_losses (distributor_id, at, lost, confirmed)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (distributor_id, at) DO UPDATE"
            " SET lost = partnership_losses.lost + EXCLUDED.lost,"
            " confirmed = partnership_losses.confirmed OR EXCLUDED.confirmed",
            distributor_id,
            at,
            lost,
            confirmed,
        )


async def try_run_lock(conn: asyncpg.Connection, schedule: str = SCHEDULE) -> bool:
    """The session lock of a scheduled run; it goes with the connection, even after a crash."""
    return bool(
        await conn.fetchval(
            "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", run_lock(schedule)
        )
    )


async def schedule_row(conn: asyncpg.Connection, schedule: str = SCHEDULE) -> asyncpg.Record | None:
    """The schedule's row, locked until the caller's transaction ends."""
    return await conn.fetchrow(
        "SELECT next_due_at, last_started_at FROM schedules WHERE name = $1 FOR UPDATE", schedule
    )


async def start_run(
    conn: asyncpg.Connection, next_due: datetime, at: datetime, schedule: str = SCHEDULE
) -> None:
    await conn.execute(
        "INSERT INTO schedules (name, next_due_at, last_started_at) VALUES ($1, $2, $3)"
        " ON CONFLICT (name) DO UPDATE SET next_due_at = EXCLUDED.next_due_at,"
        " last_started_at = EXCLUDED.last_started_at",
        schedule,
        next_due,
        at,
    )


async def finish_run(conn: Executor, at: datetime, outcome: str, schedule: str = SCHEDULE) -> None:
    await conn.execute(
        "UPDATE schedules SET last_finished_at = $2, last_outcome = $3 WHERE name = $1",
        schedule,
        at,
        outcome,
    )
