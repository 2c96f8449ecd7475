"""The consumer runtime every service runs on: at-least-once, once-only effects, DLQ, retries.

For each batch a faststream subscriber hands over:
1. decode every record; what can never be processed goes to the DLQ with a reason;
2. in one PostgreSQL transaction: claim the events' ids in the inbox (a redelivery or a
   replay claims nothing and has no effect), run the service's handler for each claimed
   event, and write what it emits to the outbox;
3. after commit, publish the outbox rows and delete them;
4. only then commit the batch's Kafka offsets.
Steps 3 and 4 of a batch run while the next batch goes through 1 and 2 (one batch in
flight, published and committed in order): the broker's acks and PostgreSQL's commits
overlap instead of adding up.
A crash anywhere before 4 redelivers the batch, and the inbox makes that harmless; outbox
rows a crash left unpublished are sent when their event is redelivered, or on the next start.

Transient failures (database or broker unreachable) are retried with capped exponential
backoff, without moving on. Any other failure is retried a few times per event and then
dead-lettered with its reason, so one poison message never stops a consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Union

import asyncpg
from aiokafka import AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.middlewares import AckPolicy
from tenacity import AsyncRetrying, retry_if_exception, stop_never, wait_exponential_jitter

from contracts.codec import InvalidMessage, decode, encode
from contracts.envelope import CloudEvent
from contracts.topics import DLQ, EVENT_MODELS, Topic
from services.common import metrics
from services.common.config import Settings
from services.common.db import create_pool

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message a handler emits; written to the outbox in the handler's transaction."""

    topic: Topic
    key: str | None
    event: CloudEvent[Any]


Handle = Callable[[asyncpg.Connection, CloudEvent[Any]], Awaitable[Sequence[Outgoing]]]
HandleMany = Callable[
    [asyncpg.Connection, list[CloudEvent[Any]]], Awaitable[list[Sequence[Outgoing]]]
]


@dataclass(frozen=True)
class Consumer:
    # Names the consumer group (porgate.SERVICE.NAME): each consumer commits its own offsets.
    name: str
    topics: tuple[Topic, ...]
    handle: Handle
    description: str = ""
    # Optional: the same for a whole batch at once (one result per event, in order), for
    # consumers whose per-event round trips to PostgreSQL dominate.
    handle_many: HandleMany | None = None


@dataclass
class Service:
    """A service: its schema and migrations, its consumers, its background workers."""

    name: str
    schema: str
    migrations: Path
    consumers: tuple[Consumer, ...]
    # Topics it publishes to, declared for the AsyncAPI document.
    publishes: tuple[Topic, ...] = ()
    # Long-running loops (delivery, termination), given the started runtime.
    workers: tuple[Callable[[Runtime], Awaitable[None]], ...] = ()
    pool_size: int = 5


@dataclass(frozen=True, slots=True)
class _Settled:
    """A committed transaction's leftovers, for after commit: its outbox rows to publish, and
    the copies of already-processed events that came with a different body."""

    rows: list[asyncpg.Record]
    items: list[tuple[ConsumerRecord, CloudEvent[Any]]]
    conflicting: list[tuple[ConsumerRecord, str]]


@dataclass(frozen=True, slots=True)
class _Tail:
    """A batch whose effects are committed and whose publishing and offset commit are running."""

    task: asyncio.Task
    records: tuple[ConsumerRecord, ...]


def _rewind(consumer: Any, records: Sequence[ConsumerRecord]) -> None:
    """Seek each partition back to its earliest record here, so none is skipped."""
    earliest: dict[TopicPartition, int] = {}
    for r in records:
        tp = TopicPartition(r.topic, r.partition)
        earliest[tp] = min(earliest.get(tp, r.offset), r.offset)
    for tp, offset in earliest.items():
        with contextlib.suppress(
            Exception
        ):  # a partition no longer ours is the new owner's to redeliver
            consumer.seek(tp, offset)


class Stopping(Exception):
    """The process is shutting down: abandon the batch uncommitted; it will be redelivered."""


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, KafkaError):
        # MessageSizeTooLargeError and the like will fail the same way forever.
        return bool(getattr(exc, "retriable", False))
    return isinstance(
        exc,
        (
            OSError,
            asyncio.TimeoutError,
            asyncpg.PostgresConnectionError,
            asyncpg.InterfaceError,
            asyncpg.CannotConnectNowError,
            asyncpg.TooManyConnectionsError,
            asyncpg.OperatorInterventionError,  # admin shutdown, crash recovery
            asyncpg.SerializationError,
            asyncpg.DeadlockDetectedError,
        ),
    )


def _headers(*pairs: tuple[str, str]) -> list[tuple[str, bytes]]:
    return [(k, v.encode()) for k, v in pairs]


CONTENT_TYPE = _headers(("content-type", "application/cloudevents+json"))


@dataclass
class Runtime:
    service: Service
    settings: Settings
    # Shared by every runtime of the process; set at start (aiokafka needs a running loop).
    producer: AIOKafkaProducer | None = None
    pool: asyncpg.Pool | None = None
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task] = field(default_factory=list)
    _tails: dict[str, _Tail] = field(default_factory=dict)  # by consumer name
    _draining: bool = False

    # ------------------------------------------------------------------ naming

    def topic_name(self, topic: Topic) -> str:
        return self.settings.topic_prefix + topic.name

    def contract_topic(self, actual: str) -> str:
        p = self.settings.topic_prefix
        return actual[len(p) :] if p and actual.startswith(p) else actual

    def group_id(self, consumer: Consumer) -> str:
        return f"{self.settings.topic_prefix}porgate.{self.service.name}.{consumer.name}"

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self.pool = await self.retrying(
            "connect",
            lambda: create_pool(
                self.settings.database_url, self.service.schema, max_size=self.service.pool_size
            ),
        )
        await self.publish_unpublished()
        self._tasks.append(
            asyncio.create_task(self._housekeeping(), name=f"{self.service.name}:housekeeping")
        )
        for worker in self.service.workers:
            self._tasks.append(
                asyncio.create_task(worker(self), name=f"{self.service.name}:{worker.__name__}")
            )

    async def stop(self) -> None:
        self.stopping.set()
        self.wakeup.set()
        for task in [*self._tasks, *(t.task for t in self._tails.values())]:
            task.cancel()
        await asyncio.gather(
            *self._tasks, *(t.task for t in self._tails.values()), return_exceptions=True
        )
        if self.pool is not None:
            await self.pool.close()

    def attach(self, broker: KafkaBroker) -> None:
        for consumer in self.service.consumers:
            self._subscribe(broker, consumer)
        for topic in self.service.publishes:
            # Declared for the AsyncAPI document; sending goes through the outbox and `producer`.
            models = [EVENT_MODELS[t] for t in topic.event_types]
            broker.publisher(
                self.topic_name(topic),
                title=f"{self.service.name}:{topic.name}",
                description=f"{topic.description} Key: {topic.key}.",
                schema=CloudEvent[Union[tuple(models)]] if models else bytes,  # type: ignore[misc]
            )

    def _subscribe(self, broker: KafkaBroker, consumer: Consumer) -> None:
        runtime = self

        # faststream's KafkaMessage annotation injects the message itself (records and consumer).
        async def handle_batch(message: KafkaMessage) -> None:
            await runtime.process_batch(consumer, message)

        handle_batch.__name__ = f"{self.service.name}_{consumer.name}".replace("-", "_")
        broker.subscriber(
            *(self.topic_name(t) for t in consumer.topics),
            group_id=self.group_id(consumer),
            batch=True,
            max_records=self.settings.consumer_max_records,
            batch_timeout_ms=50,
            fetch_max_wait_ms=self.settings.consumer_fetch_max_wait_ms,
            fetch_min_bytes=self.settings.consumer_fetch_min_bytes,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.MANUAL,
            # Bytes stay bytes: decoding, and its failures, are ours (see process_batch).
            decoder=_raw_decoder,
            title=f"{self.service.name}:{consumer.name}",
            description=" ".join(
                [
                    consumer.description,
                    "Event types:",
                    ", ".join(t for tp in consumer.topics for t in tp.event_types),
                    "(JSON Schema in contracts/schemas/).",
                ]
            ),
        )(handle_batch)

    async def prune(self) -> tuple[int, int]:
        """Delete old inbox ids, and outbox rows a previous release marked sent instead of
        deleting them; (outbox, inbox) rows deleted."""
        assert self.pool is not None
        outbox = await self.pool.fetchval(
            "WITH d AS (DELETE FROM outbox WHERE published_at IS NOT NULL RETURNING 1) SELECT count(*) FROM d"
        )
        inbox = await self.pool.fetchval(
            "WITH d AS (DELETE FROM inbox WHERE processed_at < now() - make_interval(days => $1) RETURNING 1)"
            " SELECT count(*) FROM d",
            self.settings.inbox_retention_days,
        )
        unpublished = await self.pool.fetchval(
            "SELECT count(*) FROM outbox WHERE published_at IS NULL AND undeliverable IS NULL"
        )
        metrics.OUTBOX_PENDING.labels(self.service.name).set(unpublished)
        return outbox, inbox

    async def _housekeeping(self, every_s: float = 3600.0) -> None:
        while not self.stopping.is_set():
            try:
                await self.prune()
            except Exception:
                log.warning(
                    "housekeeping failed", extra={"service": self.service.name}, exc_info=True
                )
            try:
                await asyncio.wait_for(self.stopping.wait(), timeout=every_s)
            except TimeoutError:
                continue

    async def wait_for_work(self, poll_s: float = 5.0) -> bool:
        """For workers: wait until a consumer committed something, or `poll_s` passed.

        Polling as well covers work committed by another instance. False once stopping.
        """
        try:
            await asyncio.wait_for(self.wakeup.wait(), timeout=poll_s)
        except TimeoutError:
            pass
        self.wakeup.clear()
        return not self.stopping.is_set()

    # ------------------------------------------------------------------ retries

    async def retrying(self, operation: str, fn: Callable[[], Awaitable[Any]]) -> Any:
        """Run `fn` until it succeeds, backing off on transient failures; give up only on stop."""

        def before_sleep(state) -> None:
            metrics.RETRIES.labels(self.service.name, operation).inc()
            exc = state.outcome.exception()
            log.warning(
                "transient failure, retrying",
                extra={
                    "service": self.service.name,
                    "operation": operation,
                    "attempt": state.attempt_number,
                    "error": f"{type(exc).__name__}: {exc}",
                },
            )

        async for attempt in AsyncRetrying(
            retry=retry_if_exception(lambda e: is_transient(e) and not self.stopping.is_set()),
            wait=wait_exponential_jitter(
                initial=self.settings.retry_initial_s, max=self.settings.retry_max_s
            ),
            stop=stop_never,
            before_sleep=before_sleep,
            sleep=self._sleep,
            reraise=True,
        ):
            with attempt:
                return await fn()

    async def _sleep(self, seconds: float) -> None:
        # Wake early on shutdown, so SIGTERM never waits out a long backoff.
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)
        except TimeoutError:
            return
        raise Stopping()

    # ------------------------------------------------------------------ the batch

    async def process_batch(self, consumer: Consumer, message: KafkaMessage) -> None:
        """Decode and apply a batch, then hand its publishing and offset commit to a task that
        runs while the next batch is applied: one batch in flight, in order."""
        records: tuple[ConsumerRecord, ...] = message.raw_message  # type: ignore[assignment]
        kafka = message.consumer
        started = time.perf_counter()
        previous = self._tails.pop(consumer.name, None)
        failure: BaseException | None = None
        rewind = records
        try:
            settled = await self._settle(consumer, records)
        except BaseException as exc:  # noqa: BLE001 - re-raised below, after the rewind
            failure = exc
        if previous is not None:
            # The batch before goes out, and commits, first.
            try:
                await previous.task
            except BaseException as exc:  # noqa: BLE001
                failure = failure or exc
                rewind = records + previous.records
        if failure is None:
            self.wakeup.set()
            tail = _Tail(
                asyncio.create_task(self._finish(consumer, kafka, records, settled, started)),
                records,
            )
            if not self._draining:
                self._tails[consumer.name] = tail
                return
            try:
                await tail.task
                return
            except BaseException as exc:  # noqa: BLE001
                failure = exc
        # Never let the consumer move past records whose effect is not durable and published:
        # back to the earliest record not settled, which then comes again (the inbox makes
        # that harmless, and sends what is still in the outbox).
        _rewind(kafka, rewind)
        raise failure

    async def drain(self) -> None:
        """Before the consumers stop: finish the batches in flight, and every later one inline."""
        self._draining = True
        tails, self._tails = list(self._tails.values()), {}
        await asyncio.gather(*(t.task for t in tails), return_exceptions=True)

    async def _settle(
        self, consumer: Consumer, records: Sequence[ConsumerRecord]
    ) -> list[_Settled]:
        good: list[tuple[ConsumerRecord, CloudEvent[Any]]] = []
        dead: list[tuple[ConsumerRecord, str]] = []
        for record in records:
            try:
                good.append((record, decode(record.value, self.contract_topic(record.topic))))
            except InvalidMessage as exc:
                dead.append((record, str(exc)))
        if dead:
            await self.dead_letter(consumer, dead)
        return await self._apply(consumer, good) if good else []

    async def _finish(
        self,
        consumer: Consumer,
        kafka: Any,
        records: Sequence[ConsumerRecord],
        settled: list[_Settled],
        started: float,
    ) -> None:
        try:
            for s in settled:
                await self._publish_settled(consumer, s)
            await self._commit(kafka, records)
        except BaseException as exc:
            if not isinstance(exc, (Stopping, asyncio.CancelledError)):
                log.error(
                    "publishing a batch failed; its records will be processed again",
                    extra={"service": self.service.name},
                    exc_info=True,
                )
            # Whether or not another batch comes to notice, these records must come again.
            _rewind(kafka, records)
            raise
        metrics.PROCESSING.labels(self.service.name).observe(time.perf_counter() - started)
        await self._record_lag(kafka)

    async def _record_lag(self, consumer: Any) -> None:
        if consumer is None or not hasattr(consumer, "assignment"):
            return
        with contextlib.suppress(Exception):  # a metric must never fail a batch
            for tp in consumer.assignment():
                end = consumer.highwater(tp)
                if end is not None:
                    lag = max(0, end - await consumer.position(tp))
                    metrics.CONSUMER_LAG.labels(
                        self.service.name, self.contract_topic(tp.topic), str(tp.partition)
                    ).set(lag)

    async def _commit(self, consumer: Any, records: Sequence[ConsumerRecord]) -> None:
        # This batch's offsets, not the consumer's position: the next batch is already fetched.
        offsets: dict[TopicPartition, int] = {}
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            offsets[tp] = max(offsets.get(tp, 0), r.offset + 1)
        try:
            await consumer.commit(offsets)
        except KafkaError as exc:
            # Typically a rebalance took the partitions away: the new owner gets these
            # records again, and the inbox makes them no-ops there.
            log.warning(
                "offset commit failed", extra={"service": self.service.name, "error": repr(exc)}
            )

    async def _apply(
        self, consumer: Consumer, items: list[tuple[ConsumerRecord, CloudEvent[Any]]]
    ) -> list[_Settled]:
        try:
            return [await self.retrying("apply", lambda: self._transaction(consumer, items))]
        except Stopping:
            raise
        except Exception:
            if len(items) == 1:
                return await self._apply_poison(consumer, items[0])
            # One bad event must not hold back the rest: settle them one at a time.
            log.warning(
                "batch failed; applying its events one by one",
                extra={"service": self.service.name},
                exc_info=True,
            )
            settled: list[_Settled] = []
            for item in items:
                settled += await self._apply_one(consumer, item)
            return settled

    async def _apply_one(
        self, consumer: Consumer, item: tuple[ConsumerRecord, CloudEvent[Any]]
    ) -> list[_Settled]:
        try:
            return [await self.retrying("apply", lambda: self._transaction(consumer, [item]))]
        except Stopping:
            raise
        except Exception:
            return await self._apply_poison(consumer, item)

    async def _apply_poison(
        self, consumer: Consumer, item: tuple[ConsumerRecord, CloudEvent[Any]]
    ) -> list[_Settled]:
        attempts = max(1, self.settings.poison_attempts)
        last: BaseException | None = None
        for attempt in range(1, attempts):
            await self._sleep(
                min(self.settings.retry_max_s, self.settings.retry_initial_s * 2**attempt)
            )
            try:
                return [await self.retrying("apply", lambda: self._transaction(consumer, [item]))]
            except Stopping:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure counts against the budget
                last = exc
        record, event = item
        reason = f"processing failed after {attempts} attempts"
        if last is not None:
            reason += f": {type(last).__name__}: {last}"
        log.error(
            "dead-lettering a message that cannot be processed",
            extra={"service": self.service.name, "event_id": event.id, "error": reason},
        )
        await self.dead_letter(consumer, [(record, reason)])
        return []

    async def _transaction(
        self, consumer: Consumer, items: list[tuple[ConsumerRecord, CloudEvent[Any]]]
    ) -> _Settled:
        assert self.pool is not None
        conflicting: list[tuple[ConsumerRecord, str]] = []
        async with self.pool.acquire() as conn, conn.transaction():
            ids = [e.id for _, e in items]
            claimed = {
                r["event_id"]
                for r in await conn.fetch(
                    "INSERT INTO inbox (event_id, event_type, body_sha256)"
                    " SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[])"
                    " ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
                    ids,
                    [e.type for _, e in items],
                    [hashlib.sha256(r.value).digest() for r, _ in items],
                )
            }
            processed_here = set(claimed)
            counts: Counter[tuple[str, str]] = Counter()
            outgoing: list[tuple[str, Outgoing]] = []
            duplicates: list[tuple[ConsumerRecord, CloudEvent[Any]]] = []
            fresh: list[CloudEvent[Any]] = []
            for record, event in items:
                if event.id in claimed:
                    claimed.discard(event.id)  # a second copy in the same batch is a duplicate
                    fresh.append(event)
                    counts[(record.topic, "processed")] += 1
                else:
                    duplicates.append((record, event))
                    counts[(record.topic, "duplicate")] += 1
            if consumer.handle_many is not None and fresh:
                results = await consumer.handle_many(conn, fresh)
            else:
                results = [await consumer.handle(conn, event) for event in fresh]
            for event, outs in zip(fresh, results, strict=True):
                outgoing.extend((event.id, out) for out in outs)
            rows = await self._write_outbox(conn, outgoing) if outgoing else []
            if duplicates:
                # Redelivered after a crash between commit and publish: send what is still
                # unsent. Copies of an event processed in this very batch have nothing to add.
                earlier = [e.id for _, e in duplicates if e.id not in processed_here]
                if earlier:
                    rows += await self._outbox_for(conn, earlier)
                conflicting = await self._conflicting(conn, duplicates)
        # Counted after commit, once per batch: a retried transaction must not count twice.
        for (topic, outcome), n in counts.items():
            metrics.MESSAGES.labels(self.service.name, self.contract_topic(topic), outcome).inc(n)
        return _Settled(rows, items, conflicting)

    async def _publish_settled(self, consumer: Consumer, settled: _Settled) -> None:
        if settled.rows:
            refused = await self.publish_rows(settled.rows)
            if refused:
                await self.dead_letter(
                    consumer,
                    [
                        (record, reason)
                        for record, event in settled.items
                        if (reason := refused.get(event.id))
                    ],
                )
        if settled.conflicting:
            await self.dead_letter(consumer, settled.conflicting)

    async def _write_outbox(
        self, conn, outgoing: list[tuple[str, Outgoing]]
    ) -> list[asyncpg.Record]:
        return await conn.fetch(
            "INSERT INTO outbox (source_event_id, topic, key, value)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bytea[])"
            " RETURNING id, source_event_id, topic, key, value",
            [source for source, _ in outgoing],
            [o.topic.name for _, o in outgoing],
            [o.key.encode() if o.key is not None else None for _, o in outgoing],
            [encode(o.event) for _, o in outgoing],
        )

    async def _outbox_for(self, conn, source_event_ids: list[str]) -> list[asyncpg.Record]:
        return await conn.fetch(
            "SELECT id, source_event_id, topic, key, value FROM outbox"
            " WHERE published_at IS NULL AND undeliverable IS NULL AND source_event_id = ANY($1::text[])",
            source_event_ids,
        )

    async def _conflicting(self, conn, duplicates) -> list[tuple[ConsumerRecord, str]]:
        known = {
            r["event_id"]: bytes(r["body_sha256"])
            for r in await conn.fetch(
                "SELECT event_id, body_sha256 FROM inbox WHERE event_id = ANY($1::text[])",
                [e.id for _, e in duplicates],
            )
        }
        return [
            (
                record,
                f"event id {event.id!r} was already processed with a different body; this copy was ignored",
            )
            for record, event in duplicates
            if known.get(event.id) not in (None, hashlib.sha256(record.value).digest())
        ]

    # ------------------------------------------------------------------ publishing

    async def _send_all(
        self, messages: list[tuple[str, bytes | None, bytes | None, list]]
    ) -> list[str | None]:
        """Send (topic, key, value, headers) messages; per message None, or why the broker
        refused it for good. Transient failures raise, for `retrying` to send again."""
        assert self.producer is not None
        pending: list[Any] = []
        for topic, key, value, headers in messages:
            try:
                pending.append(
                    await self.producer.send(topic, value=value, key=key, headers=headers)
                )
            except KafkaError as exc:
                if is_transient(exc):
                    raise
                pending.append(exc)
        outcome: list[str | None] = []
        for item in pending:
            if isinstance(item, BaseException):
                outcome.append(f"{type(item).__name__}: {item}")
                continue
            try:
                await item
                outcome.append(None)
            except KafkaError as exc:
                if is_transient(exc):
                    raise
                outcome.append(f"{type(exc).__name__}: {exc}")
        return outcome

    async def publish_rows(self, rows: Sequence[asyncpg.Record]) -> dict[str, str]:
        """Publish outbox rows and delete them; return {source event id: reason} for the rows
        the broker refused for good, which are set aside instead of retried forever."""
        outcome = await self.retrying(
            "publish",
            lambda: self._send_all(
                [
                    (
                        self.settings.topic_prefix + row["topic"],
                        bytes(row["key"]) if row["key"] is not None else None,
                        bytes(row["value"]),
                        CONTENT_TYPE,
                    )
                    for row in rows
                ]
            ),
        )
        sent = [row["id"] for row, refused in zip(rows, outcome, strict=True) if refused is None]
        refused = [
            (row, reason) for row, reason in zip(rows, outcome, strict=True) if reason is not None
        ]
        assert self.pool is not None
        if sent:
            await self.retrying(
                "outbox",
                # Deleted, not marked: a delete writes far less WAL than an update of the row, and
                # the broker (and each consumer's records) keep what was sent.
                lambda: self.pool.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", sent),
            )
        for row, reason in refused:
            size = len(row["value"])
            reason = (
                f"its {row['topic']} message of {size} bytes was refused by the broker: {reason}"
            )
            log.error(
                "outbox message undeliverable",
                extra={"service": self.service.name, "outbox_id": row["id"], "reason": reason},
            )
            await self.retrying(
                "outbox",
                lambda: self.pool.execute(
                    "UPDATE outbox SET undeliverable = $2 WHERE id = $1", row["id"], reason
                ),
            )
        return {row["source_event_id"]: reason for row, reason in refused}

    async def publish_unpublished(self) -> int:
        """Send what a crash left in the outbox. Consumers dedupe, so a double send is harmless."""
        assert self.pool is not None
        total = 0
        while True:
            rows = await self.retrying(
                "outbox",
                lambda: self.pool.fetch(
                    "SELECT id, source_event_id, topic, key, value FROM outbox"
                    " WHERE published_at IS NULL AND undeliverable IS NULL ORDER BY id LIMIT 1000"
                ),
            )
            if not rows:
                return total
            await self.publish_rows(rows)
            total += len(rows)

    async def emit(
        self, conn: asyncpg.Connection, source_id: str, outgoing: list[Outgoing]
    ) -> list[asyncpg.Record]:
        """For workers: write to the outbox inside their own transaction; publish after commit."""
        return await self._write_outbox(conn, [(source_id, o) for o in outgoing])

    async def dead_letter(
        self, consumer: Consumer, items: list[tuple[ConsumerRecord, str]]
    ) -> None:
        if not items:
            return
        failed_at = datetime.now(UTC).isoformat()

        def headers(record: ConsumerRecord, reason: str, *extra: tuple[str, str]) -> list:
            return list(record.headers or ()) + _headers(
                ("x-dlq-source-topic", self.contract_topic(record.topic)),
                ("x-dlq-source-partition", str(record.partition)),
                ("x-dlq-source-offset", str(record.offset)),
                ("x-dlq-consumer-group", self.group_id(consumer)),
                ("x-dlq-error", reason[:1000]),
                ("x-dlq-failed-at", failed_at),
                *extra,
            )

        dlq = self.topic_name(DLQ)
        outcome = await self.retrying(
            "dead-letter",
            lambda: self._send_all(
                [(dlq, r.key, r.value, headers(r, reason)) for r, reason in items]
            ),
        )
        too_big = [
            (r, reason, refusal)
            for (r, reason), refusal in zip(items, outcome, strict=True)
            if refusal
        ]
        if too_big:
            # The original cannot be copied (over the broker's size limit): the dead letter
            # keeps its coordinates and reason, so on-call can read it from the source topic.
            await self.retrying(
                "dead-letter",
                lambda: self._send_all(
                    [
                        (
                            dlq,
                            r.key,
                            None,
                            headers(
                                r,
                                reason,
                                ("x-dlq-value-omitted", f"{len(r.value or b'')} bytes: {refusal}"),
                            ),
                        )
                        for r, reason, refusal in too_big
                    ]
                ),
            )
        for record, reason in items:
            metrics.DEAD_LETTERS.labels(self.service.name, self.contract_topic(record.topic)).inc()
            log.warning(
                "message dead-lettered",
                extra={
                    "service": self.service.name,
                    "topic": record.topic,
                    "partition": record.partition,
                    "offset": record.offset,
                    "reason": reason,
                },
            )


async def _raw_decoder(msg: Any) -> Any:
    return msg.body


def new_producer(settings: Settings) -> AIOKafkaProducer:
    # No idempotent producer: Tansu (the embedded broker) lacks InitProducerId, and the
    # consumers' inbox already makes a duplicate send harmless.
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=False,
        linger_ms=settings.producer_linger_ms,
        max_request_size=2 * 1024 * 1024,
        client_id=f"porgate-{settings.instance_id}",
    )
