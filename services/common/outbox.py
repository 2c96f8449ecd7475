"""The outbox: messages written in the transaction of the effect that caused them, published
after commit, deleted once the broker has them.

A crash between commit and publish leaves rows behind; they are sent when their source
event is redelivered, or at the next start. A row the broker refuses for good (over its
size limit) is set aside as `undeliverable` with the reason instead of wedging the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from contracts.codec import encode
from services.common import metrics, record_tracing, tracing
from services.common.coalesce import BOOKKEEPING_EVERY_S, Coalescing
from services.common.handling import Outgoing
from services.common.kafka import CONTENT_TYPE, send_all
from services.common.retry import Retrier, Stopping

log = logging.getLogger(__name__)


# Only the ids come back: the rows' values are the caller's already, and sending them back
# from PostgreSQL doubled what each message cost on the wire and in decoding.
_INSERT = (
    "INSERT INTO outbox (source_event_id, topic, key, value)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bytea[]) RETURNING id"
)
# With tracing on, each row also stores the trace context of what caused it (tracing.py).
_INSERT_TRACED = (
    "INSERT INTO outbox (source_event_id, topic, key, value, traceparent, tracestate)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bytea[], $5::text[], $6::text[])"
    " RETURNING id"
)


async def write(
    conn: asyncpg.Connection,
    outgoing: Sequence[tuple[str, Outgoing]],
    carriers: Sequence[dict[str, str]] | None = None,
) -> list[dict[str, Any]]:
    """Write (source event id, message) pairs in the caller's transaction; the rows to publish.

    With tracing on, each row stores its `carriers` entry (default: the current span's)."""
    if not outgoing:
        return []
    rows = unsaved(outgoing, carriers)
    columns = (
        [r["source_event_id"] for r in rows],
        [r["topic"] for r in rows],
        [r["key"] for r in rows],
        [r["value"] for r in rows],
    )
    if not tracing.enabled():
        ids = await conn.fetch(_INSERT, *columns)
    else:
        parents = [r["traceparent"] for r in rows]
        states = [r["tracestate"] for r in rows]
        ids = await conn.fetch(_INSERT_TRACED, *columns, parents, states)
    # The serial is drawn in the order unnest yields the rows, which is the order given:
    # sorted, the ids line up with the messages whatever order RETURNING lists them in.
    for row, row_id in zip(rows, sorted(r["id"] for r in ids), strict=True):
        row["id"] = row_id
    return rows


def unsaved(
    outgoing: Sequence[tuple[str, Outgoing]],
    carriers: Sequence[dict[str, str]] | None = None,
) -> list[dict[str, Any]]:
    """(source event id, message) pairs as rows to publish that no table holds (`id` None):
    what a consumer with no database effect sends straight away (pipeline.py)."""
    if tracing.enabled() and carriers is None:
        carriers = [tracing.carrier_of()] * len(outgoing)
    return [
        {
            "id": None,
            "source_event_id": source,
            "topic": o.topic.name,
            "key": o.key.encode() if o.key is not None else None,
            "value": encode(o.event) if o.value is None else o.value,
            "traceparent": carriers[i].get(tracing.TRACEPARENT) if carriers else None,
            "tracestate": carriers[i].get(tracing.TRACESTATE) if carriers else None,
        }
        for i, (source, o) in enumerate(outgoing)
    ]


async def pending_for(
    conn: asyncpg.Connection, source_event_ids: Sequence[str]
) -> list[asyncpg.Record]:
    """Rows still owed to the broker for these source events (a crash came before publishing)."""
    if not source_event_ids:
        return []
    return await conn.fetch(
        "SELECT id, source_event_id, topic, key, value, traceparent, tracestate FROM outbox"
        " WHERE published_at IS NULL AND undeliverable IS NULL"
        " AND source_event_id = ANY($1::text[]) ORDER BY id",
        list(source_event_ids),
    )


_NEWEST_ID = "SELECT max(id) FROM outbox"
_DELETE_SENT = "DELETE FROM outbox WHERE id = ANY($1::bigint[])"
_PENDING_PAGE = (
    "SELECT id, source_event_id, topic, key, value, traceparent, tracestate FROM outbox"
    " WHERE published_at IS NULL AND undeliverable IS NULL AND id > $1 AND id <= $2"
    " ORDER BY id LIMIT 1000"
)


@dataclass
class Outbox:
    """Publishing a service's outbox rows after commit."""

    service: str
    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    retrying: Retrier
    topic_prefix: str = ""
    # Sent rows are deleted in bulk, off the path of any message: a row sent but not yet
    # deleted is only sent again after a crash, and every consumer dedupes.
    _to_delete: Coalescing[int] = field(init=False)

    def __post_init__(self) -> None:
        self._to_delete = Coalescing(
            f"{self.service}: delete sent outbox rows", self._delete, every_s=BOOKKEEPING_EVERY_S
        )

    async def publish(self, rows: Sequence[asyncpg.Record]) -> dict[str, str]:
        """Publish committed rows, in the order given, and queue them for deletion;
        {source event id: reason} for the rows the broker refused for good, which are set
        aside instead of retried forever."""
        if not rows:
            return {}
        if tracing.enabled():
            outcome = await self._publish_traced(rows)
        else:
            messages = [
                (
                    self.topic_prefix + row["topic"],
                    bytes(row["key"]) if row["key"] is not None else None,
                    bytes(row["value"]),
                    CONTENT_TYPE,
                )
                for row in rows
            ]
            outcome = await self.retrying("publish", partial(send_all, self.producer, messages))
        self._to_delete.add(
            row["id"]
            for row, refusal in zip(rows, outcome, strict=True)
            if refusal is None and row["id"] is not None
        )
        refused: dict[str, str] = {}
        for row, refusal in zip(rows, outcome, strict=True):
            if refusal is not None:
                refused[row["source_event_id"]] = await self._set_aside(row, refusal)
        return refused

    async def _publish_traced(self, rows: Sequence[asyncpg.Record]) -> list[str | None]:
        headers, spans = record_tracing.sending(rows, self.topic_prefix, CONTENT_TYPE)
        messages = [
            (
                self.topic_prefix + row["topic"],
                bytes(row["key"]) if row["key"] is not None else None,
                bytes(row["value"]),
                row_headers,
            )
            for row, row_headers in zip(rows, headers, strict=True)
        ]
        try:
            outcome = await self.retrying("publish", partial(send_all, self.producer, messages))
        except BaseException as exc:
            record_tracing.sent(spans, exc)
            raise
        record_tracing.sent(spans, outcome)
        return outcome

    async def _set_aside(self, row: asyncpg.Record, refusal: str) -> str:
        reason = (
            f"its {row['topic']} message of {len(row['value'])} bytes was refused by the broker:"
            f" {refusal}"
        )
        log.error(
            "outbox message undeliverable",
            extra={"service": self.service, "outbox_id": row["id"], "reason": reason},
        )
        if row["id"] is None:  # in no table: its cause is dead-lettered, which is the record
            return reason
        await self.retrying(
            "outbox",
            lambda: self.pool.execute(
                "UPDATE outbox SET undeliverable = $2 WHERE id = $1", row["id"], reason
            ),
        )
        return reason

    async def _delete(self, ids: list[int]) -> None:
        # Deleted, not marked: the broker (and each consumer's inbox) keeps what was sent.
        with contextlib.suppress(Stopping):
            await self.retrying("outbox", partial(self.pool.execute, _DELETE_SENT, ids))

    async def drain(self) -> None:
        """Wait until the rows sent so far are deleted."""
        await self._to_delete.drain()

    def cancel(self) -> asyncio.Task[None] | None:
        return self._to_delete.cancel()

    async def publish_pending(self) -> int:
        """Send what a crash left unpublished. Consumers dedupe, so a double send is harmless.

        Up to the newest row at the start, by id: other instances keep writing rows (and
        deleting them a moment later), so "until the table is empty" might never come.
        """
        newest = await self.retrying("outbox", lambda: self.pool.fetchval(_NEWEST_ID))
        after, total = 0, 0
        while newest is not None and (
            rows := await self.retrying(
                "outbox", lambda a=after: self.pool.fetch(_PENDING_PAGE, a, newest)
            )
        ):
            await self.publish(rows)
            after, total = rows[-1]["id"], total + len(rows)
        return total

    async def commit_and_publish(
        self,
        operation: str,
        source_event_id: str,
        effect: Callable[[asyncpg.Connection], Awaitable[Sequence[Outgoing]]],
    ) -> int:
        """For workers: run `effect` in a transaction (retried while transient), write what
        it emits to the outbox in that transaction, and publish after commit. Messages sent."""

        async def transaction() -> list[asyncpg.Record]:
            async with self.pool.acquire() as conn, conn.transaction():
                emitted = await effect(conn)
                return await write(conn, [(source_event_id, o) for o in emitted])

        rows = await self.retrying(operation, transaction)
        await self.publish(rows)
        return len(rows)

    async def prune(self) -> int:
        """Delete rows a previous release marked sent instead of deleting them; set the
        backlog gauge. Rows deleted."""
        deleted = await self.pool.fetchval(
            "WITH d AS (DELETE FROM outbox WHERE published_at IS NOT NULL RETURNING 1)"
            " SELECT count(*) FROM d"
        )
        pending = await self.pool.fetchval(
            "SELECT count(*) FROM outbox WHERE published_at IS NULL AND undeliverable IS NULL"
        )
        metrics.OUTBOX_PENDING.labels(self.service).set(pending)
        return deleted
