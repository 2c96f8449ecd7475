"""subscription-change's SQL."""

from __future__ import annotations

import asyncpg

from contracts.events import SubscriptionChangeRequested

# The PostgreSQL schema this service owns; nothing else reads or writes it.
SCHEMA = "subscription_change"


async def record_change(
    conn: asyncpg.Connection, source_event_id: str, change: SubscriptionChangeRequested, basis: str
) -> None:
    await conn.execute(
        "INSERT INTO changes (source_event_id, change_id, subscription_id, distributor_id, kind, requested_at, basis)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (source_event_id) DO NOTHING",
        source_event_id,
        change.change_id,
        change.subscription_id,
        change.distributor_id,
        change.kind,
        change.requested_at,
        basis,
    )
