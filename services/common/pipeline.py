"""The batch pipeline every consumer runs: at-least-once delivery, once-only effects.

For each batch the broker hands over:
1. decode every record; what can never be processed goes to the DLQ with a reason;
2. in one PostgreSQL transaction: claim the events' ids in the inbox (a redelivery or a
   replay claims nothing and has no effect), run the consumer's handler on the new events,
   and write what it emits to the outbox (a consumer whose only effect is what it emits,
   under ids derived from its events', runs its handler with no transaction: service.py);
3. after commit, publish the outbox rows;
4. once the broker has acknowledged them, commit the batch's Kafka offsets.
Step 3 of a batch runs while the next batch goes through 1 and 2 (one batch in flight,
published in order): the broker's acks and PostgreSQL's commits overlap instead of adding
up. Offsets, and the deletion of sent outbox rows, are bookkeeping no message waits for:
they are flushed in bulk (coalesce.py), in order, off the path of the next batch. A crash
anywhere before 4 redelivers the batch, and the inbox makes that harmless; what a crash
left in the outbox is sent when its event comes again.

Transient failures (database or broker unreachable) are retried with capped backoff without
moving on. Any other failure is retried a few times per event and then dead-lettered with
its reason, so one poison message never stops a consumer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import partial
from typing import Any

import asyncpg
from aiokafka import ConsumerRecord, TopicPartition

from contracts.codec import InvalidMessage, decode
from services.common import metrics, record_tracing, tracing
from services.common.coalesce import BOOKKEEPING_EVERY_S, Coalescing
from services.common.dead_letters import DeadLetters
from services.common.handling import Handler, Held, deferring_counts, from_records
from services.common.inbox import Item
from services.common.kafka import (
    commit_or_warn,
    contract_topic,
    next_offsets,
    offsets_to_commit,
    partition_groups,
    record_lag,
    rewind,
)
from services.common.outbox import Outbox, unsaved
from services.common.retry import Retrier, Stopping, backoff_s
from services.common.service import Consumer
from services.common.stage_timer import StageTimer, untimed
from services.common.unit_of_work import OutboxRow, UnitOfWork

log = logging.getLogger(__name__)

# A batch is split no finer: below this, a transaction's fixed cost (inbox, outbox, the
# commit's fsync) outweighs what running it beside another saves.
MIN_RECORDS_PER_TRANSACTION = 16


@dataclass(frozen=True, slots=True)
class Committed:
    """A committed transaction's work left for after commit: the outbox rows to publish, the
    items they came from (to dead-letter the cause of a row the broker refuses), and the
    copies of processed events that came with a different body, to dead-letter."""

    rows: list[OutboxRow]
    items: list[Item]
    reused: list[tuple[ConsumerRecord, str]]


@dataclass(frozen=True, slots=True)
class InFlight:
    """A committed batch whose publishing is running in `task`."""

    task: asyncio.Task[None]
    records: tuple[ConsumerRecord, ...]


class BatchPipeline:
    """One consumer's batches, one at a time in order, with the next batch's transaction
    overlapping the previous batch's publishing."""

    def __init__(
        self,
        *,
        service: str,
        consumer: Consumer,
        unit_of_work: Callable[[asyncpg.Connection], UnitOfWork],
        group_id: str,
        pool: asyncpg.Pool,
        outbox: Outbox,
        dead_letters: DeadLetters,
        retrying: Retrier,
        poison_attempts: int,
        topic_prefix: str,
        on_committed: Callable[[], None],
        stage_timer: StageTimer = untimed,
        concurrency: int = 1,
    ) -> None:
        self.service = service
        self.consumer = consumer
        self.unit_of_work = unit_of_work
        self.group_id = group_id
        self.pool = pool
        self.outbox = outbox
        self.dead_letters = dead_letters
        self.retrying = retrying
        self.poison_attempts = max(1, poison_attempts)
        self.topic_prefix = topic_prefix
        self.on_committed = on_committed
        self.stage_timer = stage_timer
        self.concurrency = max(1, concurrency)
        self.label = f"{service}:{consumer.name}"
        self._in_flight: InFlight | None = None
        self._draining = False
        # The consumer the records come from: the subscriber's, the same for every batch.
        self._kafka: Any = None
        # (offsets to commit, records they cover), one per published batch.
        self._offsets: Coalescing[tuple[dict[TopicPartition, int], int]] = Coalescing(
            f"{self.label}: commit offsets", self._commit_offsets, every_s=BOOKKEEPING_EVERY_S
        )

    def _timed(self, stage: str, records: int) -> AbstractContextManager[None]:
        return self.stage_timer(self.label, stage, records)

    async def handle(self, records: tuple[ConsumerRecord, ...], kafka: Any) -> None:
        """Decode and apply a batch, then hand its publishing to a task that runs while the
        next batch is applied."""
        started = time.perf_counter()
        self._kafka = kafka
        with self._timed("batch", len(records)):
            previous, self._in_flight = self._in_flight, None
            failure: BaseException | None = None
            unsettled = records
            try:
                committed = await self._decode_and_apply(records)
            except BaseException as exc:  # noqa: BLE001 - re-raised below, after the rewind
                failure = exc
            if previous is not None:
                # The batch before goes out first: its messages acknowledged by the broker.
                with self._timed("wait-previous", len(previous.records)):
                    try:
                        await previous.task
                    except BaseException as exc:  # noqa: BLE001
                        # The batch before failed to publish: that is the failure to report,
                        # not this batch being held.
                        failure = exc if failure is None or isinstance(failure, Held) else failure
                        unsettled = records + previous.records
            if failure is None:
                self.on_committed()
                task = asyncio.create_task(self._finish(kafka, records, committed, started))
                if not self._draining:
                    self._in_flight = InFlight(task, records)
                    return
                try:
                    await task
                    # Stopping: the offsets and sent rows of this batch, and of any batch
                    # before it not flushed yet, go now, not after the consumer closed.
                    await self._offsets.drain()
                    await self.outbox.drain()
                    return
                except BaseException as exc:  # noqa: BLE001
                    failure = exc
            # Never let the consumer move past records whose effect is not durable and
            # published: back to the earliest record not settled, which then comes again.
            rewind(kafka, unsettled)
            if isinstance(failure, Held) and unsettled is records:
                # Fetched again by the next poll: holding between polls keeps the consumer
                # in its group, where blocking here for minutes would not.
                metrics.HELD.labels(self.label).inc()
                return
            raise failure

    async def drain(self) -> None:
        """Before the consumer stops: finish the batch in flight, and every later one inline,
        and commit their offsets."""
        self._draining = True
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None:
            # Its failure is its own to handle (it rewinds); the drain's cancellation is not.
            await asyncio.wait({in_flight.task})
        await self._offsets.drain()

    def cancel(self) -> list[asyncio.Task[None]]:
        tasks = [self._in_flight.task] if self._in_flight is not None else []
        for task in tasks:
            task.cancel()
        committing = self._offsets.cancel()
        return tasks + ([committing] if committing is not None else [])

    # ------------------------------------------------------------------ steps 1 and 2

    async def _decode_and_apply(self, records: Sequence[ConsumerRecord]) -> list[Committed]:
        with self._timed("decode", len(records)):
            good: list[Item] = []
            dead: list[tuple[ConsumerRecord, str]] = []
            for record in records:
                try:
                    topic = contract_topic(self.topic_prefix, record.topic)
                    good.append((record, decode(record.value, topic)))
                except InvalidMessage as exc:
                    dead.append((record, str(exc)))
        if not tracing.enabled():
            return await self._apply_decoded(good, dead)
        with record_tracing.batch(self.label, self.group_id, self.topic_prefix, records, good):
            return await self._apply_decoded(good, dead)

    async def _apply_decoded(
        self, good: list[Item], dead: list[tuple[ConsumerRecord, str]]
    ) -> list[Committed]:
        handle = self.consumer.handle
        if good and self.consumer.prefetch is not None:
            # Before the dead letters go: a held batch comes again and must not send them twice.
            with self._timed("prefetch", len(good)):
                prefetch, events = self.consumer.prefetch, [event for _, event in good]
                # Its own database reads and writes fail like the transaction's: with backoff.
                handle = await self.retrying(
                    "prefetch", partial(prefetch, self.pool, self.retrying, events)
                )
        if dead:
            await self.dead_letters.send(self.group_id, dead)
        if not good:
            return []
        with self._timed("transaction", len(good)):
            groups = partition_groups(good, self.concurrency, MIN_RECORDS_PER_TRANSACTION)
            if len(groups) == 1:
                return await self._apply(handle, good)
            # Partitions hold different keys, with no order between them: their transactions
            # run side by side as replicas' would, one's Python work overlapping the other's
            # wait on PostgreSQL. A group fails only on shutdown (_apply dead-letters the
            # rest); the batch then comes again, and the inbox knows what a group committed.
            outcomes = await asyncio.gather(
                *(self._apply(handle, group) for group in groups), return_exceptions=True
            )
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome
            return [c for outcome in outcomes for c in outcome]  # type: ignore[union-attr]

    async def _apply(self, handle: Handler, items: list[Item]) -> list[Committed]:
        try:
            return [await self.retrying("apply", partial(self._transaction, handle, items))]
        except Stopping:
            raise
        except Exception:
            if len(items) == 1:
                return await self._apply_poison(handle, items[0])
            # One bad event must not hold back the rest: apply them one at a time.
            log.warning(
                "batch failed; applying its events one by one",
                extra={"service": self.service},
                exc_info=True,
            )
            committed: list[Committed] = []
            for item in items:
                try:
                    committed.append(
                        await self.retrying("apply", partial(self._transaction, handle, [item]))
                    )
                except Stopping:
                    raise
                except Exception:  # noqa: BLE001 - counted against the event's budget below
                    committed += await self._apply_poison(handle, item)
            return committed

    async def _apply_poison(self, handle: Handler, item: Item) -> list[Committed]:
        last: BaseException | None = None
        for attempt in range(1, self.poison_attempts):
            await self.retrying.sleep(
                backoff_s(attempt + 1, self.retrying.initial_s, self.retrying.max_s)
            )
            try:
                return [await self.retrying("apply", partial(self._transaction, handle, [item]))]
            except Stopping:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure counts against the budget
                last = exc
        record, event = item
        reason = f"processing failed after {self.poison_attempts} attempts"
        if last is not None:
            reason += f": {type(last).__name__}: {last}"
        log.error(
            "dead-lettering a message that cannot be processed",
            extra={"service": self.service, "event_id": event.id, "error": reason},
        )
        await self.dead_letters.send(self.group_id, [(record, reason)])
        return []

    async def _transaction(self, handle: Handler, items: list[Item]) -> Committed:
        with deferring_counts() as counts:
            result = await self._apply_in_transaction(handle, items)
        for count in counts:  # committed: a retried transaction never gets here twice
            count()
        return result

    async def _apply_in_transaction(self, handle: Handler, items: list[Item]) -> Committed:
        if self.consumer.messages_only:
            return await self._apply_without_database(handle, items)
        async with self.pool.acquire() as conn, conn.transaction():
            uow = self.unit_of_work(conn)
            claim = await uow.claim(items)
            events = [event for _, event in claim.fresh]
            with from_records(claim.fresh):
                emitted = await handle(events, uow) if events else []
            rows = await uow.write_outbox(
                [(e.id, o) for e, outs in zip(events, emitted, strict=True) for o in outs],
                # Each row stores the context of the event that caused it.
                record_tracing.carriers_for([e for e, outs in zip(events, emitted) for _ in outs])
                if tracing.enabled()
                else None,
            )
            reused: list[tuple[ConsumerRecord, str]] = []
            if claim.duplicates:
                if tracing.enabled():
                    record_tracing.mark_duplicates([e for _, e in claim.duplicates])
                # Redelivered after a crash between commit and publish: send what is still
                # unsent. Copies of an event processed in this very batch have nothing to add.
                fresh = {e.id for e in events}
                earlier = [e.id for _, e in claim.duplicates if e.id not in fresh]
                # In id order, the order they were written: a key's messages stay in order.
                rows = await uow.pending_for(earlier) + rows
                reused = await uow.reused(claim.duplicates)
        # Counted after commit, once per batch: a retried transaction must not count twice.
        counts = Counter((r.topic, "processed") for r, _ in claim.fresh)
        counts.update((r.topic, "duplicate") for r, _ in claim.duplicates)
        for (topic, outcome), n in counts.items():
            topic = contract_topic(self.topic_prefix, topic)
            metrics.MESSAGES.labels(self.service, topic, outcome).inc(n)
        return Committed(rows, items, reused)

    async def _apply_without_database(self, handle: Handler, items: list[Item]) -> Committed:
        # A copy of an event, in this batch or redelivered, emits the same messages under the
        # same ids again: the consumers downstream have them once.
        events = [event for _, event in items]
        emitted = await handle(events, None)
        caused = [(e, o) for e, outs in zip(events, emitted, strict=True) for o in outs]
        rows = unsaved(
            [(e.id, o) for e, o in caused],
            record_tracing.carriers_for([e for e, _ in caused]) if tracing.enabled() else None,
        )
        counts = Counter(contract_topic(self.topic_prefix, r.topic) for r, _ in items)
        for topic, n in counts.items():
            metrics.MESSAGES.labels(self.service, topic, "processed").inc(n)
        return Committed(rows, items, [])

    # ------------------------------------------------------------------ steps 3 and 4

    async def _finish(
        self,
        kafka: Any,
        records: tuple[ConsumerRecord, ...],
        committed: list[Committed],
        started: float,
    ) -> None:
        try:
            with self._timed("publish", len(records)):
                for c in committed:
                    await self._publish(c)
        except BaseException as exc:
            if not isinstance(exc, Stopping | asyncio.CancelledError):
                log.exception(
                    "publishing a batch failed; its records will be processed again",
                    extra={"service": self.service},
                )
            # Whether or not another batch comes to notice, these records must come again.
            rewind(kafka, records)
            raise
        self._offsets.add([(next_offsets(records), len(records))])
        metrics.PROCESSING.labels(self.service).observe(time.perf_counter() - started)

    async def _publish(self, committed: Committed) -> None:
        refused = await self.outbox.publish(committed.rows) if committed.rows else {}
        if refused:
            causes = [
                (record, reason)
                for record, event in committed.items
                if (reason := refused.get(event.id))
            ]
            await self.dead_letters.send(self.group_id, causes)
        await self.dead_letters.send(self.group_id, committed.reused)

    async def _commit_offsets(self, published: list[tuple[dict[TopicPartition, int], int]]) -> None:
        # The batches' own offsets, not the consumer's position: later batches are fetched.
        offsets = offsets_to_commit(self._kafka.assignment(), [batch for batch, _ in published])
        if not offsets:
            return
        with self._timed("offset-commit", sum(n for _, n in published)):
            await commit_or_warn(self._kafka, offsets, self.service)
            await record_lag(self._kafka, self.service, self.topic_prefix)
