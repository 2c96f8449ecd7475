"""por-validator's SQL for parked validation requests: a queue per distributor, in `seq`
order, of the requests its Partner Center could not answer for yet (parking.py parks them,
drain.py decides them)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import asyncpg
from aiokafka import ConsumerRecord

from contracts.codec import decode, encode
from contracts.envelope import CloudEvent
from contracts.topics import DECISIONS, VALIDATION_REQUESTS
from services.common.db import Executor
from services.common.handling import record_of


class Parked(NamedTuple):
    seq: int
    event: CloudEvent[Any]  # the por.validation.requested.v1 event


async def parked_among(db: Executor, distributor_ids: Iterable[str]) -> set[str]:
    """The distributors among these with any parked request (decided or not, until its
    decision is published): their new requests queue behind."""
    rows = await db.fetch(
        # One descent of the queue's index per distributor (the first id at or after it).
        # EXISTS, or `= d LIMIT 1`, let the planner read the whole queue instead: it cannot
        # tell an absent distributor from the one whose 20,000 rows fill it (2 ms a batch).
        "SELECT d FROM unnest($1::text[]) AS d WHERE d = (SELECT p.distributor_id"
        " FROM parked_requests p WHERE p.distributor_id >= d ORDER BY p.distributor_id LIMIT 1)",
        list(distributor_ids),
    )
    return {r["d"] for r in rows}


async def park(conn: asyncpg.Connection, parked: Sequence[tuple[CloudEvent[Any], str]]) -> None:
    """Queue (request event, reason) pairs, in the order given, each with the Kafka record it
    came from when a pipeline handles it (for its dead letter, should it never be decided)."""
    if not parked:
        return
    records = [record_of(e) for e, _ in parked]
    await conn.execute(
        "INSERT INTO parked_requests (distributor_id, transaction_key, event_id, envelope, reason,"
        " source_topic, source_partition, source_offset, source_key, source_value)"
        " SELECT p.distributor_id, p.transaction_key, p.event_id, p.envelope::jsonb, p.reason,"
        " p.topic, p.partition, p.offset_, p.key, p.value"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],"
        " $7::int[], $8::bigint[], $9::bytea[], $10::bytea[])"
        "  WITH ORDINALITY AS p(distributor_id, transaction_key, event_id, envelope, reason,"
        "  topic, partition, offset_, key, value, n)"
        " ORDER BY p.n",
        [e.data.distributor_id for e, _ in parked],
        [e.data.transaction_key for e, _ in parked],
        [e.id for e, _ in parked],
        [encode(e).decode() for e, _ in parked],
        [reason for _, reason in parked],
        [r.topic if r is not None else None for r in records],
        [r.partition if r is not None else None for r in records],
        [r.offset if r is not None else None for r in records],
        [r.key if r is not None else None for r in records],
        [r.value if r is not None else None for r in records],
    )


async def source_of(db: Executor, seq: int) -> ConsumerRecord | None:
    """The Kafka record a parked request came from, as it came (rows parked before migration
    010: the stored envelope, offset -1); None if the row is gone."""
    r = await db.fetchrow(
        "SELECT event_id, transaction_key, envelope::text AS envelope, source_topic,"
        " source_partition, source_offset, source_key, source_value"
        " FROM parked_requests WHERE seq = $1",
        seq,
    )
    if r is None:
        return None
    key = bytes(r["source_key"]) if r["source_key"] is not None else r["transaction_key"].encode()
    value = bytes(r["source_value"]) if r["source_value"] is not None else r["envelope"].encode()
    return ConsumerRecord(
        topic=r["source_topic"] or VALIDATION_REQUESTS.name,
        partition=r["source_partition"] if r["source_partition"] is not None else -1,
        offset=r["source_offset"] if r["source_offset"] is not None else -1,
        timestamp=0,
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key),
        serialized_value_size=len(value),
        headers=(),
    )


async def discard(conn: asyncpg.Connection, seq: int) -> None:
    """Delete a request that was dead-lettered, decided or not."""
    await conn.execute("DELETE FROM parked_requests WHERE seq = $1", seq)


async def queue_lengths(db: Executor) -> dict[str, int]:
    """Parked requests per distributor that has any."""
    rows = await db.fetch(
        "SELECT distributor_id, count(*) AS n FROM parked_requests GROUP BY distributor_id"
    )
    return {r["distributor_id"]: r["n"] for r in rows}


async def next_undecided(
    db: Executor, distributor_id: str, limit: int, *, up_to_seq: int | None = None
) -> list[Parked]:
    """The distributor's first undecided requests, in the order they were parked."""
    rows = await db.fetch(
        "SELECT seq, envelope::text AS envelope FROM parked_requests"
        " WHERE distributor_id = $1 AND decided_at IS NULL AND seq <= $2"
        " ORDER BY seq LIMIT $3",
        distributor_id,
        up_to_seq if up_to_seq is not None else 2**63 - 1,
        limit,
    )
    return [
        Parked(r["seq"], decode(r["envelope"].encode(), VALIDATION_REQUESTS.name)) for r in rows
    ]


async def decided_unpublished(
    conn: asyncpg.Connection, distributor_id: str
) -> list[tuple[int, str]]:
    """(seq, event id) of the distributor's requests decided but not known to be published:
    a drain stopped between the two (a crash, the broker)."""
    rows = await conn.fetch(
        "SELECT seq, event_id FROM parked_requests"
        " WHERE distributor_id = $1 AND decided_at IS NOT NULL ORDER BY seq",
        distributor_id,
    )
    return [(r["seq"], r["event_id"]) for r in rows]


async def mark_decided(conn: asyncpg.Connection, seqs: Sequence[int]) -> None:
    await conn.execute(
        "UPDATE parked_requests SET decided_at = now() WHERE seq = ANY($1::bigint[])", list(seqs)
    )


async def remove(conn: asyncpg.Connection, seqs: Sequence[int]) -> None:
    """Delete decided requests whose decisions the broker has."""
    await conn.execute(
        "DELETE FROM parked_requests WHERE seq = ANY($1::bigint[]) AND decided_at IS NOT NULL",
        list(seqs),
    )


async def earlier_decisions_unsent(
    conn: asyncpg.Connection, keys: Sequence[bytes], before_id: int
) -> bool:
    """Whether a decision of one of these transactions, written to the outbox before row
    `before_id`, may still be on its way to the broker (its row is deleted once sent)."""
    return await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM outbox WHERE topic = $1 AND key = ANY($2::bytea[])"
        " AND id < $3 AND published_at IS NULL AND undeliverable IS NULL)",
        DECISIONS.name,
        list(keys),
        before_id,
    )


# One drain at a time per distributor, across instances. Session-scoped, as it spans the
# transaction that decides and the publishing after it; drain.py releases it, or closes the
# connection, before the connection goes back to the pool.
async def try_lock(conn: asyncpg.Connection, distributor_id: str) -> bool:
    return await conn.fetchval(
        "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", _lock_key(distributor_id)
    )


async def unlock(conn: asyncpg.Connection, distributor_id: str) -> None:
    await conn.execute(
        "SELECT pg_advisory_unlock(hashtextextended($1, 0))", _lock_key(distributor_id)
    )


def _lock_key(distributor_id: str) -> str:
    return f"porgate:parked:{distributor_id}"
