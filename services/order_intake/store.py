"""order-intake's SQL."""

from __future__ import annotations

import asyncpg

from contracts.events import OrderPlaced

# The PostgreSQL schema this service owns; nothing else reads or writes it.
SCHEMA = "order_intake"


async def record_orders(conn: asyncpg.Connection, orders: list[tuple[str, OrderPlaced]]) -> None:
    """(source event id, order) pairs, in one statement; a source event is recorded once."""
    await conn.execute(
        "INSERT INTO orders (source_event_id, order_id, distributor_id, customer_id, placed_at, line_count)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::int[])"
        " ON CONFLICT (source_event_id) DO NOTHING",
        [e for e, _ in orders],
        [o.order_id for _, o in orders],
        [o.distributor_id for _, o in orders],
        [o.customer_id for _, o in orders],
        [o.placed_at for _, o in orders],
        [len(o.line_items) for _, o in orders],
    )
