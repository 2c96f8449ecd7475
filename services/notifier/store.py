"""notifier's SQL: the registry projection, revocation marks, and the notifications queue."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from contracts.events import (
    CustomerAssignmentUpserted,
    DistributorUpserted,
    GdapPrivilegesRevoked,
    GdapRelationshipUpserted,
    PartnershipUpserted,
)
from services.common import tracing
from services.notifier.notifications import Notification

# The PostgreSQL schema this service owns; nothing else reads or writes it.
SCHEMA = "notifier"

# Each upsert keeps the newer state: `WHERE t.as_of <= EXCLUDED.as_of` makes a replayed
# older event a no-op instead of a regression.


async def upsert_distributor(
    conn: asyncpg.Connection, d: DistributorUpserted, as_of: datetime
) -> None:
    await conn.execute(
        "INSERT INTO distributors AS t (distributor_id, preferred_language, country, csp_region,"
        " partnership_request_url, as_of) VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (distributor_id) DO UPDATE SET preferred_language = EXCLUDED.preferred_language,"
        " country = EXCLUDED.country, csp_region = EXCLUDED.csp_region,"
        " partnership_request_url = EXCLUDED.partnership_request_url,"
        " as_of = EXCLUDED.as_of WHERE t.as_of <= EXCLUDED.as_of",
        d.distributor_id,
        d.preferred_language,
        d.country,
        d.csp_region,
        d.partnership_request_url,
        as_of,
    )


@dataclass(frozen=True, slots=True)
class PartnershipState:
    status: str
    as_of: datetime


async def upsert_partnership(
    conn: asyncpg.Connection, p: PartnershipUpserted, as_of: datetime
) -> PartnershipState | None:
    """Upsert and return the state before it. Call inside a transaction: the row lock keeps
    the read and the write one step, so two removals cannot both see `active`."""
    row = await conn.fetchrow(
        "SELECT status, as_of FROM partnerships WHERE distributor_id = $1 AND reseller_tenant_id = $2 FOR UPDATE",
        p.distributor_id,
        p.reseller_tenant_id,
    )
    await conn.execute(
        "INSERT INTO partnerships AS t (distributor_id, reseller_tenant_id, status, as_of) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (distributor_id, reseller_tenant_id) DO UPDATE SET status = EXCLUDED.status,"
        " as_of = EXCLUDED.as_of WHERE t.as_of <= EXCLUDED.as_of",
        p.distributor_id,
        p.reseller_tenant_id,
        p.status,
        as_of,
    )
    return PartnershipState(row["status"], row["as_of"]) if row is not None else None


async def upsert_customer_assignment(
    conn: asyncpg.Connection, a: CustomerAssignmentUpserted, as_of: datetime
) -> None:
    await conn.execute(
        "INSERT INTO customer_assignments AS t (customer_id, reseller_tenant_id, distributor_id, status, as_of)"
        " VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (customer_id, reseller_tenant_id, distributor_id) DO UPDATE SET status = EXCLUDED.status,"
        " as_of = EXCLUDED.as_of WHERE t.as_of <= EXCLUDED.as_of",
        a.customer_id,
        a.reseller_tenant_id,
        a.distributor_id,
        a.status,
        as_of,
    )


async def upsert_gdap_relationship(
    conn: asyncpg.Connection, g: GdapRelationshipUpserted, as_of: datetime
) -> None:
    await conn.execute(
        "INSERT INTO gdap_relationships AS t (relationship_id, customer_id, reseller_tenant_id, roles, status,"
        " ends_at, as_of) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT (relationship_id) DO UPDATE SET customer_id = EXCLUDED.customer_id,"
        " reseller_tenant_id = EXCLUDED.reseller_tenant_id, roles = EXCLUDED.roles, status = EXCLUDED.status,"
        " ends_at = EXCLUDED.ends_at, as_of = EXCLUDED.as_of WHERE t.as_of <= EXCLUDED.as_of",
        g.relationship_id,
        g.customer_id,
        g.reseller_tenant_id,
        list(g.roles),
        g.status,
        g.ends_at,
        as_of,
    )


async def mark_revoked(
    conn: asyncpg.Connection, r: GdapPrivilegesRevoked, cause_event_id: str
) -> None:
    await conn.execute(
        "INSERT INTO revoked_relationships (relationship_id, customer_id, reseller_tenant_id, reason, revoked_at,"
        " cause_event_id) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (relationship_id) DO NOTHING",
        r.relationship_id,
        r.customer_id,
        r.reseller_tenant_id,
        r.reason,
        r.revoked_at,
        cause_event_id,
    )


# ----------------------------------------------------------------------------- reads


async def languages(conn: asyncpg.Connection, distributor_ids: Sequence[str]) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT distributor_id, preferred_language FROM distributors WHERE distributor_id = ANY($1::text[])",
        list(distributor_ids),
    )
    return {r["distributor_id"]: r["preferred_language"] for r in rows}


async def assigned_distributors(
    conn: asyncpg.Connection, customer_id: str, reseller_tenant_id: str
) -> list[str]:
    rows = await conn.fetch(
        "SELECT DISTINCT distributor_id FROM customer_assignments WHERE customer_id = $1 AND reseller_tenant_id = $2",
        customer_id,
        reseller_tenant_id,
    )
    return [r["distributor_id"] for r in rows]


async def partnered_distributors(conn: asyncpg.Connection, reseller_tenant_id: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT distributor_id FROM partnerships WHERE reseller_tenant_id = $1", reseller_tenant_id
    )
    return [r["distributor_id"] for r in rows]


async def still_administered(
    conn: asyncpg.Connection, distributor_id: str, reseller_tenant_id: str, as_of: datetime
) -> list[asyncpg.Record]:
    """Active, unrevoked GDAP relationships of the reseller over this distributor's customers.

    A relationship past its end date is expired in Graph even if the sync has not said so yet.
    """
    return await conn.fetch(
        "SELECT g.customer_id, g.relationship_id, g.roles FROM gdap_relationships g"
        " WHERE g.reseller_tenant_id = $1 AND g.status = 'active'"
        "   AND (g.ends_at IS NULL OR g.ends_at > $3)"
        "   AND NOT EXISTS (SELECT 1 FROM revoked_relationships r WHERE r.relationship_id = g.relationship_id)"
        "   AND EXISTS (SELECT 1 FROM customer_assignments a WHERE a.customer_id = g.customer_id"
        "               AND a.reseller_tenant_id = g.reseller_tenant_id AND a.distributor_id = $2)"
        " ORDER BY g.customer_id, g.relationship_id",
        reseller_tenant_id,
        distributor_id,
        as_of,
    )


# ----------------------------------------------------------------------------- notifications


async def insert_notification(conn: asyncpg.Connection, n: Notification) -> bool:
    """False if it exists already: a replay of its cause adds nothing. With tracing on, the
    row stores the current trace context, so the delivery joins the cause's trace."""
    return bool(
        await conn.fetchval(
            "INSERT INTO notifications (notification_id, kind, distributor_id, language, cause_event_id, payload,"
            " traceparent) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)"
            " ON CONFLICT (notification_id) DO NOTHING RETURNING true",
            n.notification_id,
            n.kind,
            n.distributor_id,
            n.language,
            n.cause_event_id,
            json.dumps(n.payload, ensure_ascii=False),
            tracing.current_traceparent(),
        )
    )


@dataclass(frozen=True, slots=True)
class Claimed:
    notification_id: str
    payload: dict
    attempts: int  # including this one
    traceparent: str | None = None  # of the notification's cause, if traced


# Rows wait while the endpoint is disabled (410) or paused (429, 502, 504). The claim
# checks it itself, so every instance honours what another one recorded.
_CLAIM_DUE = (
    "WITH due AS (SELECT notification_id FROM notifications"
    "             WHERE state = 'pending' AND next_attempt_at <= now()"
    "               AND NOT EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.url = $3"
    "                   AND (e.disabled_at IS NOT NULL OR e.paused_until > now()))"
    "             ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)"
    " UPDATE notifications n SET attempts = n.attempts + 1,"
    "        next_attempt_at = now() + make_interval(secs => $2)"
    " FROM due WHERE n.notification_id = due.notification_id"
    " RETURNING n.notification_id, n.payload, n.attempts, n.traceparent"
)


async def claim_due(pool: asyncpg.Pool, url: str, limit: int, lease_s: float) -> list[Claimed]:
    """Take up to `limit` rows due for `url`: count the attempt and push next_attempt_at past
    the lease, so another instance (or this one after a crash) retries only once the lease
    runs out."""
    rows = await pool.fetch(_CLAIM_DUE, limit, float(lease_s), url)
    return [
        Claimed(r["notification_id"], json.loads(r["payload"]), r["attempts"], r["traceparent"])
        for r in rows
    ]


async def seconds_until_due(pool: asyncpg.Pool, url: str) -> float | None:
    """None while nothing is pending or the endpoint is disabled (the worker then polls)."""
    return await pool.fetchval(
        "SELECT GREATEST(0, EXTRACT(EPOCH FROM GREATEST(min(n.next_attempt_at),"
        "       (SELECT paused_until FROM webhook_endpoints WHERE url = $1)) - now()))::float8"
        " FROM notifications n WHERE n.state = 'pending' AND NOT EXISTS"
        " (SELECT 1 FROM webhook_endpoints e WHERE e.url = $1 AND e.disabled_at IS NOT NULL)"
        # Without it an old pause would say "due now" with nothing to send: a busy loop.
        " HAVING count(*) > 0",
        url,
    )


# The `attempts = $n AND state = 'pending'` guard: only the holder of this claim records its outcome.


async def mark_delivered(pool: asyncpg.Pool, c: Claimed) -> None:
    # last_error stays: it tells why a delivery needed more than one attempt.
    await pool.execute(
        "UPDATE notifications SET state = 'delivered', delivered_at = now()"
        " WHERE notification_id = $1 AND state = 'pending' AND attempts = $2",
        c.notification_id,
        c.attempts,
    )


async def mark_failed(pool: asyncpg.Pool, c: Claimed, error: str) -> None:
    await pool.execute(
        "UPDATE notifications SET state = 'failed', last_error = $3"
        " WHERE notification_id = $1 AND state = 'pending' AND attempts = $2",
        c.notification_id,
        c.attempts,
        error[:2000],
    )


async def schedule_retry(pool: asyncpg.Pool, c: Claimed, error: str, delay_s: float) -> None:
    await pool.execute(
        "UPDATE notifications SET last_error = $3, next_attempt_at = now() + make_interval(secs => $4)"
        " WHERE notification_id = $1 AND state = 'pending' AND attempts = $2",
        c.notification_id,
        c.attempts,
        error[:2000],
        float(delay_s),
    )


async def failed(conn: asyncpg.Connection | asyncpg.Pool, limit: int = 100) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT notification_id, kind, distributor_id, attempts, last_error, created_at FROM notifications"
        " WHERE state = 'failed' ORDER BY created_at DESC LIMIT $1",
        limit,
    )


async def retry_failed(
    conn: asyncpg.Connection | asyncpg.Pool, notification_id: str | None = None
) -> int:
    """Put failed notifications (all, or one) back in the queue with a fresh attempt budget."""
    result = await conn.execute(
        "UPDATE notifications SET state = 'pending', attempts = 0, next_attempt_at = now()"
        " WHERE state = 'failed' AND ($1::text IS NULL OR notification_id = $1)",
        notification_id,
    )
    return int(result.split()[-1])


# ----------------------------------------------------------------------------- webhook endpoints


async def disable_endpoint(pool: asyncpg.Pool, url: str, c: Claimed, reason: str) -> None:
    """Record the endpoint as gone and put the claimed delivery back, its attempt not counted:
    it waits for the endpoint to be re-enabled rather than failing."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO webhook_endpoints (url, disabled_at, disabled_reason) VALUES ($1, now(), $2)"
            " ON CONFLICT (url) DO UPDATE SET disabled_at = COALESCE(webhook_endpoints.disabled_at,"
            " now()), disabled_reason = COALESCE(webhook_endpoints.disabled_reason, $2)",
            url,
            reason[:2000],
        )
        await conn.execute(
            "UPDATE notifications SET attempts = attempts - 1, next_attempt_at = now(), last_error = $3"
            " WHERE notification_id = $1 AND state = 'pending' AND attempts = $2",
            c.notification_id,
            c.attempts,
            reason[:2000],
        )


async def pause_endpoint(pool: asyncpg.Pool, url: str, delay_s: float) -> None:
    """Hold every delivery to `url` back for `delay_s` (never shortening a pause under way)."""
    await pool.execute(
        "INSERT INTO webhook_endpoints (url, paused_until) VALUES ($1, now() + make_interval(secs => $2))"
        " ON CONFLICT (url) DO UPDATE SET paused_until = GREATEST(webhook_endpoints.paused_until,"
        " EXCLUDED.paused_until)",
        url,
        float(delay_s),
    )


async def register_endpoint(pool: asyncpg.Pool, url: str) -> None:
    """Make `url` known from the deliverer's start, before any delivery: listed as enabled."""
    await pool.execute(
        "INSERT INTO webhook_endpoints (url, registered_at) VALUES ($1, now())"
        " ON CONFLICT (url) DO UPDATE SET registered_at ="
        " COALESCE(webhook_endpoints.registered_at, now())",
        url,
    )


async def note_attempt(pool: asyncpg.Pool, url: str, result: str) -> None:
    """Record an attempt's result (a `porgate_notification_deliveries_total` label) on `url`."""
    await pool.execute(
        "INSERT INTO webhook_endpoints (url, registered_at, last_attempt_at, last_result,"
        " last_delivered_at, delivered) VALUES ($1, now(), now(), $2,"
        " CASE WHEN $2 = 'delivered' THEN now() END, CASE WHEN $2 = 'delivered' THEN 1 ELSE 0 END)"
        " ON CONFLICT (url) DO UPDATE SET last_attempt_at = now(), last_result = $2,"
        " last_delivered_at = COALESCE(EXCLUDED.last_delivered_at, webhook_endpoints.last_delivered_at),"
        " delivered = webhook_endpoints.delivered + EXCLUDED.delivered",
        url,
        result,
    )


async def endpoint_disabled(pool: asyncpg.Pool, url: str) -> bool:
    return bool(
        await pool.fetchval(
            "SELECT disabled_at IS NOT NULL FROM webhook_endpoints WHERE url = $1", url
        )
    )


async def endpoints(conn: asyncpg.Connection | asyncpg.Pool) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT url, disabled_at, disabled_reason, paused_until, enabled_at, delivered,"
        " last_delivered_at, last_attempt_at, last_result FROM webhook_endpoints ORDER BY url"
    )


async def pending_count(conn: asyncpg.Connection | asyncpg.Pool) -> int:
    return await conn.fetchval("SELECT count(*) FROM notifications WHERE state = 'pending'")


async def enable_endpoints(conn: asyncpg.Connection | asyncpg.Pool, url: str | None = None) -> int:
    """Re-enable disabled endpoints (all, or one); their pending deliveries go out again."""
    result = await conn.execute(
        "UPDATE webhook_endpoints SET disabled_at = NULL, disabled_reason = NULL, enabled_at = now()"
        " WHERE disabled_at IS NOT NULL AND ($1::text IS NULL OR url = $1)",
        url,
    )
    return int(result.split()[-1])
