"""The inbox: one row per CloudEvents id a service has processed, claimed in the transaction
of its effects, so a redelivery or a replay of the same id has no effect.

The body's hash tells a true redelivery (same bytes) from an id reused for another body.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

import asyncpg
from aiokafka import ConsumerRecord

from contracts.envelope import CloudEvent

Item = tuple[ConsumerRecord, CloudEvent[Any]]


@dataclass(frozen=True, slots=True)
class Claim:
    """A batch split by the inbox: events seen for the first time, in order (a second copy
    within the batch counts as a duplicate), and copies of events processed before."""

    fresh: list[Item]
    duplicates: list[Item]


async def claim(conn: asyncpg.Connection, items: Sequence[Item]) -> Claim:
    claimed = {
        r["event_id"]
        for r in await conn.fetch(
            "INSERT INTO inbox (event_id, event_type, body_sha256)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[])"
            " ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
            [e.id for _, e in items],
            [e.type for _, e in items],
            [sha256(r.value).digest() for r, _ in items],
        )
    }
    fresh: list[Item] = []
    duplicates: list[Item] = []
    for item in items:
        if item[1].id in claimed:
            claimed.discard(item[1].id)
            fresh.append(item)
        else:
            duplicates.append(item)
    return Claim(fresh, duplicates)


async def reused(
    conn: asyncpg.Connection, duplicates: Sequence[Item]
) -> list[tuple[ConsumerRecord, str]]:
    """The duplicates whose id was processed with a different body, with the reason to
    dead-letter them: the copy is ignored, and someone should know."""
    known = {
        r["event_id"]: bytes(r["body_sha256"])
        for r in await conn.fetch(
            "SELECT event_id, body_sha256 FROM inbox WHERE event_id = ANY($1::text[])",
            [e.id for _, e in duplicates],
        )
    }
    reason = "event id {!r} was already processed with a different body; this copy was ignored"
    return [
        (record, reason.format(event.id))
        for record, event in duplicates
        if known.get(event.id) not in (None, sha256(record.value).digest())
    ]


async def prune(pool: asyncpg.Pool, retention_days: int) -> int:
    """Delete ids older than the retention (which outlives every topic's); rows deleted."""
    return await pool.fetchval(
        "WITH d AS (DELETE FROM inbox WHERE processed_at < now() - make_interval(days => $1)"
        " RETURNING 1) SELECT count(*) FROM d",
        retention_days,
    )
