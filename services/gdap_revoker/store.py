"""gdap-revoker's SQL: the registry projection, and the terminations queue (intents, their
Graph requests while tracked, their outcome). The ledger gateway's SQL is in ledger_store.py."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

from contracts.events import (
    CustomerAssignmentUpserted,
    GdapRelationshipUpserted,
    ResellerTenantUpserted,
)
from services.common import tracing
from services.common.db import Executor
from services.gdap_revoker.revocation import Relationship, Termination

# The PostgreSQL schema this service owns; nothing else reads or writes it.
SCHEMA = "gdap_revoker"


# Each upsert keeps the newer state (`WHERE t.as_of <= EXCLUDED.as_of`) and says whether
# it applied: a stale event must not trigger revocations either.


async def lock_reseller(conn: asyncpg.Connection, reseller_tenant_id: str) -> None:
    """Serialise one reseller's events across instances until commit.

    Without it a suspension and a relationship arriving at once, on two partitions, could
    each miss the other's uncommitted row, and the relationship would stay active.
    """
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        f"gdap-revoker:{reseller_tenant_id}",
    )


async def upsert_tenant(
    conn: asyncpg.Connection, t: ResellerTenantUpserted, as_of: datetime, event_id: str
) -> bool:
    return bool(
        await conn.fetchval(
            "INSERT INTO reseller_tenants AS t (reseller_tenant_id, status, event_id, as_of) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (reseller_tenant_id) DO UPDATE SET status = EXCLUDED.status, event_id = EXCLUDED.event_id,"
            " as_of = EXCLUDED.as_of WHERE t.as_of <= EXCLUDED.as_of RETURNING true",
            t.reseller_tenant_id,
            t.status,
            event_id,
            as_of,
        )
    )


async def upsert_assignment(
    conn: asyncpg.Connection, a: CustomerAssignmentUpserted, as_of: datetime
) -> bool:
    return bool(
        await conn.fetchval(
            "INSERT INTO customer_assignments AS t (distributor_id, customer_id, reseller_tenant_id, status, as_of)"
            " VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (distributor_id, customer_id, reseller_tenant_id) DO UPDATE SET status = EXCLUDED.status,"
            " as_of = EXCLUDED.as_of WHERE t.as_of <= EXCLUDED.as_of RETURNING true",
            a.distributor_id,
            a.customer_id,
            a.reseller_tenant_id,
            a.status,
            as_of,
        )
    )


async def upsert_relationship(
    conn: asyncpg.Connection, r: GdapRelationshipUpserted, as_of: datetime
) -> bool:
    # 'terminated' is final in Graph: a registry sync that lags behind our termination
    # must not bring the relationship back to active locally. An upsert without a
    # distributor keeps the one an earlier upsert named.
    return bool(
        await conn.fetchval(
            "INSERT INTO gdap_relationships AS t (relationship_id, customer_id, reseller_tenant_id, roles, status,"
            " ends_at, as_of, distributor_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            " ON CONFLICT (relationship_id) DO UPDATE SET customer_id = EXCLUDED.customer_id,"
            " reseller_tenant_id = EXCLUDED.reseller_tenant_id, roles = EXCLUDED.roles,"
            " status = CASE WHEN t.status = 'terminated' THEN t.status ELSE EXCLUDED.status END,"
            " ends_at = EXCLUDED.ends_at, as_of = EXCLUDED.as_of,"
            " distributor_id = COALESCE(EXCLUDED.distributor_id, t.distributor_id)"
            " WHERE t.as_of <= EXCLUDED.as_of RETURNING true",
            r.relationship_id,
            r.customer_id,
            r.reseller_tenant_id,
            r.roles,
            r.status,
            r.ends_at,
            as_of,
            r.distributor_id,
        )
    )


async def settle_soon(conn: asyncpg.Connection, relationship_id: str) -> bool:
    """Graph says (through the sync or Partner Center's event) the relationship ended: its
    termination, if one is open, is read back now instead of at its next poll. A row a worker
    holds keeps its lease (cutting it short would hand the row to a second worker): it is
    flagged, and its holder's outcome makes it due at once."""
    return bool(
        await conn.fetchval(
            "UPDATE terminations SET"
            " settle_asked = (claim_token IS NOT NULL AND next_attempt_at > now()),"
            " next_attempt_at = CASE WHEN claim_token IS NOT NULL AND next_attempt_at > now()"
            "   THEN next_attempt_at ELSE now() END"
            " WHERE relationship_id = $1 AND state IN ('pending', 'requested') AND next_attempt_at > now()"
            " AND NOT settle_asked RETURNING true",
            relationship_id,
        )
    )


async def act_again(conn: asyncpg.Connection, relationship_id: str) -> bool:
    """The relationship can be acted on now: a termination that failed for good while it
    could not be (approvalPending, say) starts over with a fresh budget. An open one needs
    nothing: its next attempt reads the new state (and a due-now reset could hand a leased
    row to a second worker)."""
    return bool(
        await conn.fetchval(
            "UPDATE terminations SET state = 'pending', attempts = 0, polls = 0, request_id = NULL,"
            " request_action = NULL, next_attempt_at = now()"
            " WHERE relationship_id = $1 AND state = 'failed' RETURNING true",
            relationship_id,
        )
    )


def _relationship(row: asyncpg.Record) -> Relationship:
    return Relationship(
        row["relationship_id"],
        row["customer_id"],
        row["reseller_tenant_id"],
        row["status"],
        row["ends_at"],
    )


async def relationship(conn: asyncpg.Connection, relationship_id: str) -> Relationship | None:
    row = await conn.fetchrow(
        "SELECT relationship_id, customer_id, reseller_tenant_id, status, ends_at FROM gdap_relationships"
        " WHERE relationship_id = $1",
        relationship_id,
    )
    return _relationship(row) if row is not None else None


async def unrevoked_relationships(
    conn: asyncpg.Connection, reseller_tenant_id: str, customer_id: str | None = None
) -> list[Relationship]:
    """The reseller's relationships (with one customer, if given) not yet up for termination."""
    rows = await conn.fetch(
        "SELECT r.relationship_id, r.customer_id, r.reseller_tenant_id, r.status, r.ends_at"
        " FROM gdap_relationships r"
        " WHERE r.reseller_tenant_id = $1 AND ($2::text IS NULL OR r.customer_id = $2)"
        " AND NOT EXISTS (SELECT 1 FROM terminations x WHERE x.relationship_id = r.relationship_id)"
        " ORDER BY r.relationship_id",
        reseller_tenant_id,
        customer_id,
    )
    return [_relationship(r) for r in rows]


async def tenant(conn: asyncpg.Connection, reseller_tenant_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT status, event_id FROM reseller_tenants WHERE reseller_tenant_id = $1",
        reseller_tenant_id,
    )


async def assigned_elsewhere(conn: asyncpg.Connection, a: CustomerAssignmentUpserted) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM customer_assignments WHERE customer_id = $1 AND reseller_tenant_id = $2"
            " AND distributor_id <> $3 AND status = 'assigned')",
            a.customer_id,
            a.reseller_tenant_id,
            a.distributor_id,
        )
    )


async def record_terminations(conn: asyncpg.Connection, terminations: Sequence[Termination]) -> int:
    """Insert termination intents; one that exists already (any state) stays as it is. With
    tracing on, they store the current trace context, so the Graph call joins the cause's trace.

    The distributor whose Graph terminates it: the one the relationship was discovered in,
    else the one the customer is assigned to the reseller through (the newest)."""
    if not terminations:
        return 0
    rows = await conn.fetch(
        "INSERT INTO terminations (relationship_id, customer_id, reseller_tenant_id, reason, cause_event_id,"
        " traceparent, distributor_id)"
        " SELECT u.*, $6::text, COALESCE("
        "   (SELECT r.distributor_id FROM gdap_relationships r WHERE r.relationship_id = u.rid),"
        "   (SELECT a.distributor_id FROM customer_assignments a WHERE a.customer_id = u.customer"
        "    AND a.reseller_tenant_id = u.tenant AND a.status = 'assigned' ORDER BY a.as_of DESC LIMIT 1))"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])"
        "   AS u(rid, customer, tenant, reason, cause)"
        " ON CONFLICT (relationship_id) DO NOTHING RETURNING relationship_id",
        [t.relationship_id for t in terminations],
        [t.customer_id for t in terminations],
        [t.reseller_tenant_id for t in terminations],
        [t.reason for t in terminations],
        [t.cause_event_id for t in terminations],
        tracing.current_traceparent(),
    )
    return len(rows)


# ------------------------------------------------------------------ the terminator's side

# Written out in each statement: the SQL scan (tests/reliability/test_access.py) accepts only
# constant strings. Open means queued or awaiting Graph's confirmation.


async def claim_due(conn: Executor, limit: int, lease_s: float) -> list[asyncpg.Record]:
    """Claim due open rows (to act on, or to read back) for `lease_s`: another instance skips
    them until then.

    The lease, not a held lock, covers the Graph calls (made outside any transaction); a
    crashed worker's rows come due again when it runs out, and its tracking resumes.
    """
    return await conn.fetch(
        "UPDATE terminations t SET next_attempt_at = now() + make_interval(secs => $2),"
        " claim_token = gen_random_uuid(), settle_asked = false"
        " FROM (SELECT relationship_id FROM terminations WHERE state IN ('pending', 'requested') AND next_attempt_at <= now()"
        "       ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) due"
        " WHERE t.relationship_id = due.relationship_id"
        " RETURNING t.relationship_id, t.customer_id, t.reseller_tenant_id, t.reason, t.cause_event_id, t.attempts,"
        " t.traceparent, t.state, t.distributor_id, t.request_id, t.request_action, t.polls, t.failures,"
        " t.claim_token",
        limit,
        lease_s,
    )


async def mark_requested(
    conn: Executor,
    relationship_id: str,
    claim_token: UUID,
    request_id: str | None,
    action: str,
    *,
    poll_in_s: float,
) -> bool:
    """A request was made (or one is under way): read it back in `poll_in_s`."""
    return bool(
        await conn.fetchval(
            "UPDATE terminations SET state = 'requested', request_id = $2, request_action = $3,"
            " polls = 0, last_error = NULL, claim_token = NULL, settle_asked = false,"
            " next_attempt_at = CASE WHEN settle_asked THEN now() ELSE now() + make_interval(secs => $4) END"
            " WHERE relationship_id = $1 AND state IN ('pending', 'requested') AND claim_token = $5"
            " RETURNING true",
            relationship_id,
            request_id,
            action,
            poll_in_s,
            claim_token,
        )
    )


async def mark_polled(
    conn: Executor, relationship_id: str, claim_token: UUID, status: str, *, poll_in_s: float
) -> bool:
    """Read back, not settled yet: the next read in `poll_in_s`."""
    return bool(
        await conn.fetchval(
            "UPDATE terminations SET polls = polls + 1, last_error = $2, claim_token = NULL,"
            " settle_asked = false,"
            " next_attempt_at = CASE WHEN settle_asked THEN now() ELSE now() + make_interval(secs => $3) END"
            " WHERE relationship_id = $1 AND state = 'requested' AND claim_token = $4 RETURNING true",
            relationship_id,
            status[:2000],
            poll_in_s,
            claim_token,
        )
    )


async def mark_terminated(
    conn: asyncpg.Connection,
    relationship_id: str,
    claim_token: UUID,
    at: datetime,
    confirmed_by: str,
) -> bool:
    done = await conn.fetchval(
        "UPDATE terminations SET state = 'terminated', terminated_at = $2, last_error = NULL,"
        " confirmed_by = $3, claim_token = NULL, settle_asked = false"
        " WHERE relationship_id = $1 AND state IN ('pending', 'requested') AND claim_token = $4"
        " RETURNING true",
        relationship_id,
        at,
        confirmed_by,
        claim_token,
    )
    if done:
        await conn.execute(
            "UPDATE gdap_relationships SET status = 'terminated' WHERE relationship_id = $1",
            relationship_id,
        )
    return bool(done)


async def mark_attempt_failed(
    conn: Executor,
    relationship_id: str,
    claim_token: UUID,
    error: str,
    *,
    retry_in_s: float,
    max_attempts: int,
    permanent: bool,
) -> asyncpg.Record | None:
    """Count a failed attempt; the row turns `failed` when permanent or out of attempts. A
    request being tracked is dropped (the next attempt reads the relationship afresh), but
    not that one was asked for: a terminate may still be under way, so the relationship's
    absence no longer confirms it (tracking.py). `retry_failed` forgets that too."""
    return await conn.fetchrow(
        "UPDATE terminations SET attempts = attempts + 1, last_error = $2,"
        " state = CASE WHEN $5 OR attempts + 1 >= $4 THEN 'failed' ELSE 'pending' END,"
        " failed_at = CASE WHEN $5 OR attempts + 1 >= $4 THEN now() END,"
        " failures = failures + CASE WHEN $5 OR attempts + 1 >= $4 THEN 1 ELSE 0 END,"
        " request_id = NULL, polls = 0, claim_token = NULL,"
        " next_attempt_at = now() + make_interval(secs => $3)"
        " WHERE relationship_id = $1 AND state IN ('pending', 'requested') AND claim_token = $6"
        " RETURNING state, attempts, failures, distributor_id",
        relationship_id,
        error[:2000],
        retry_in_s,
        max_attempts,
        permanent,
        claim_token,
    )


async def seconds_until_due(conn: Executor) -> float | None:
    return await conn.fetchval(
        "SELECT greatest(0, extract(epoch FROM min(next_attempt_at) - now()))::float8"
        " FROM terminations WHERE state IN ('pending', 'requested')"
    )


async def failed_count(conn: Executor) -> int:
    return await conn.fetchval("SELECT count(*) FROM terminations WHERE state = 'failed'")


# ------------------------------------------------------------------ operators


async def failed_terminations(conn: Executor, limit: int = 1000) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT relationship_id, customer_id, reseller_tenant_id, distributor_id, reason, cause_event_id,"
        " attempts, last_error, requested_at, failed_at FROM terminations WHERE state = 'failed'"
        " ORDER BY requested_at, relationship_id LIMIT $1",
        limit,
    )


async def retry_failed(pool: Executor, relationship_id: str | None = None) -> int:
    """Put failed terminations (or one) back to pending with a fresh attempt budget."""
    rows = await pool.fetch(
        "UPDATE terminations SET state = 'pending', attempts = 0, polls = 0, request_id = NULL,"
        " request_action = NULL, next_attempt_at = now()"
        " WHERE state = 'failed' AND ($1::text IS NULL OR relationship_id = $1) RETURNING relationship_id",
        relationship_id,
    )
    return len(rows)
