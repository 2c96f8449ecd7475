"""order-intake's SQL."""

from __future__ import annotations

import asyncpg

from contracts.events import OrderPlaced


async def record_order(conn: asyncpg.Connection, source_event_id: str, order: OrderPlaced) -> None:
    await conn.execute(
        "INSERT INTO orders (source_event_id, order_id, distributor_id, customer_id, placed_at, line_count)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (source_event_id) DO NOTHING",
        source_event_id, order.order_id, order.distributor_id, order.customer_id, order.placed_at,
        len(order.line_items),
    )
