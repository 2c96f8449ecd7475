"""SQL of Partner Center's webhook events: the inbox the API writes and the queue the
partner-center-sync worker works (services/partner_center_sync/event_worker.py)."""

from __future__ import annotations

import json
from datetime import datetime

import asyncpg

from services.common.db import Executor

# Open means pending; written out in each statement, since the SQL scan
# (tests/reliability/test_access.py) accepts only constant strings.


async def receive(
    conn: Executor,
    distributor_id: str,
    body_sha256: str,
    event_name: str,
    resource_uri: str | None,
    changed_at: datetime,
    body: object,
    *,
    act: bool,
) -> bool:
    """Record a verified event; False when it was received before (a redelivery, counted).
    `act`: queue it for the worker; otherwise it is kept as `ignored`."""
    return bool(
        await conn.fetchval(
            "INSERT INTO partner_center_events AS e (distributor_id, body_sha256, event_name, resource_uri,"
            " resource_change_at, body, state) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)"
            " ON CONFLICT (distributor_id, body_sha256) DO UPDATE SET deliveries = e.deliveries + 1"
            " RETURNING (xmax = 0)",
            distributor_id,
            body_sha256,
            event_name,
            resource_uri,
            changed_at,
            json.dumps(body),
            "pending" if act else "ignored",
        )
    )


async def claim_due(conn: Executor, limit: int, lease_s: float) -> list[asyncpg.Record]:
    """Due events, leased for `lease_s` (another instance skips them until then)."""
    return await conn.fetch(
        "UPDATE partner_center_events e SET next_attempt_at = now() + make_interval(secs => $2)"
        " FROM (SELECT distributor_id, body_sha256 FROM partner_center_events WHERE state = 'pending'"
        "       AND next_attempt_at <= now() ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) due"
        " WHERE e.distributor_id = due.distributor_id AND e.body_sha256 = due.body_sha256"
        " RETURNING e.distributor_id, e.body_sha256, e.event_name, e.body, e.attempts",
        limit,
        lease_s,
    )


async def settle(conn: Executor, distributor_id: str, body_sha256: str, note: str | None) -> bool:
    return bool(
        await conn.fetchval(
            "UPDATE partner_center_events SET state = 'done', settled_at = now(), last_error = $3"
            " WHERE distributor_id = $1 AND body_sha256 = $2 AND state = 'pending' RETURNING true",
            distributor_id,
            body_sha256,
            note,
        )
    )


async def attempt_failed(
    conn: Executor,
    distributor_id: str,
    body_sha256: str,
    error: str,
    *,
    retry_in_s: float,
    max_attempts: int,
    permanent: bool = False,
) -> str | None:
    """Count a failed attempt; the event turns `failed` when permanent or out of attempts."""
    return await conn.fetchval(
        "UPDATE partner_center_events SET attempts = attempts + 1, last_error = $3,"
        " state = CASE WHEN $6 OR attempts + 1 >= $5 THEN 'failed' ELSE 'pending' END,"
        " settled_at = CASE WHEN $6 OR attempts + 1 >= $5 THEN now() END,"
        " next_attempt_at = now() + make_interval(secs => $4)"
        " WHERE distributor_id = $1 AND body_sha256 = $2 AND state = 'pending' RETURNING state",
        distributor_id,
        body_sha256,
        error[:2000],
        retry_in_s,
        max_attempts,
        permanent,
    )


async def seconds_until_due(conn: Executor) -> float | None:
    return await conn.fetchval(
        "SELECT greatest(0, extract(epoch FROM min(next_attempt_at) - now()))::float8"
        " FROM partner_center_events WHERE state = 'pending'"
    )


async def test_requests_since(conn: Executor, distributor_id: str, seconds: float) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM webhook_test_requests WHERE distributor_id = $1"
        " AND requested_at > now() - make_interval(secs => $2)",
        distributor_id,
        seconds,
    )


async def record_test_request(
    conn: Executor, distributor_id: str, correlation_id: str | None = None
) -> None:
    await conn.execute(
        "INSERT INTO webhook_test_requests (distributor_id, correlation_id) VALUES ($1, $2)",
        distributor_id,
        correlation_id,
    )
