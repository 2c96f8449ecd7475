"""por-validator's drain: decides the parked validation requests (parking.py) once their
distributor's Partner Center answers again, in the order they were parked.

For each distributor with parked requests: one probe of Partner Center (the gate's `ask`,
through the cache, with the client's own retries) per backoff step, never one per request,
and never before a Throttled answer's Retry-After. Once it answers, its requests are decided
a chunk at a time, oldest first, each chunk under the distributor's lock (one drain per
distributor across instances):
1. one transaction records the decisions, writes them to the outbox and marks the rows decided;
2. the decisions are published, after any earlier decision of the same transactions still
   on its way to the broker (order per key on por.decisions.v1);
3. the rows are deleted. Until then the distributor's new requests park behind them, so none
   of its decisions overtakes a parked one.
A chunk that fails for good is decided one request at a time; a request that fails
PORGATE_POISON_ATTEMPTS times goes to por.dlq.v1 as it came (its original record, kept
when it was parked) and leaves the queue, which goes on.
A crash before 1 commits leaves the rows to be decided again, with the same decision ids; a
crash after it leaves rows marked decided, whose outbox rows the next start publishes and the
next drain of the distributor deletes. Past PARTNER_CENTER_MAX_WAIT_S the gate's outage policy
answers as for any batch: `wait` keeps them parked, `registry` has the registry decide them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Literal

import asyncpg

from services.common import outbox
from services.common.handling import Handler, deferring_counts
from services.common.retry import Stopping, backoff_s, is_transient
from services.common.workers import WorkerContext
from services.por_validator import metrics, parked_store
from services.por_validator.parked_store import Parked
from services.por_validator.partner_center import Outcome, PartnerCenterGate, Unanswered
from services.por_validator.unit_of_work import PostgresValidatorUnitOfWork

log = logging.getLogger(__name__)

# Requests decided per transaction.
CHUNK = 500
# The consumer whose requests are parked: their dead letters name its group.
REQUESTS_CONSUMER = "requests"
# Without a doorbell, the queues are read this often (another instance's parked requests).
POLL_S = 2.0
# At most this often, however often batches park requests: each pass reads the queues.
MIN_PASS_S = 0.2
# While an earlier decision of the same transactions is still on its way to the broker.
EARLIER_SENT_POLL_S = 0.05

# How a distributor's drain ended: its queue is empty; another instance holds its lock; or
# Partner Center gave no answer.
Ended = Literal["empty", "busy"] | Unanswered


@dataclass
class Backoff:
    """When a distributor's Partner Center may be probed again."""

    failures: int = 0
    not_before: float = 0.0

    def failed(
        self, now: float, initial_s: float, max_s: float, retry_after_s: float = 0.0
    ) -> None:
        self.failures += 1
        self.not_before = now + max(backoff_s(self.failures, initial_s, max_s), retry_after_s)

    def succeeded(self) -> None:
        self.failures, self.not_before = 0, 0.0


async def drain_parked(context: WorkerContext, *, gate: PartnerCenterGate, decide: Handler) -> None:
    """por-validator's worker in partner-center mode: until the service stops."""
    await Drain(context, gate, decide).run()


class Drain:
    """The worker's state: a backoff and at most one running drain per distributor."""

    def __init__(
        self,
        context: WorkerContext,
        gate: PartnerCenterGate,
        decide: Handler,
        *,
        chunk: int = CHUNK,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.context = context
        self.gate = gate
        self.decide = decide
        self.chunk = chunk
        self.clock = clock
        self.backoffs: dict[str, Backoff] = {}
        self.running: dict[str, asyncio.Task[Ended]] = {}
        self._gauged: set[str] = set()

    async def run(self) -> None:
        ctx = self.context
        try:
            # What the start published from the outbox is deleted first, so that a decided
            # row's outbox rows found still there were never sent.
            await ctx.outbox.drain()
            while not ctx.stopping:
                lengths: Mapping[str, int] = {}
                try:
                    lengths = await ctx.retrying(
                        "parked:queues", partial(parked_store.queue_lengths, ctx.pool)
                    )
                    self._gauge(lengths)
                    for distributor_id in lengths:
                        self._start_if_due(distributor_id)
                except Stopping:
                    raise
                except Exception:
                    # A dead drain would leave every parked request parked, silently.
                    log.exception("reading the parked requests failed; trying again")
                await self._wait(lengths)
        except Stopping:
            return
        finally:
            for task in self.running.values():
                task.cancel()
            await asyncio.gather(*self.running.values(), return_exceptions=True)

    def _start_if_due(self, distributor_id: str) -> None:
        backoff = self.backoffs.setdefault(distributor_id, Backoff())
        if distributor_id in self.running or backoff.not_before > self.clock():
            return
        task = asyncio.create_task(self.drain(distributor_id), name=f"drain:{distributor_id}")
        self.running[distributor_id] = task
        task.add_done_callback(partial(self._ended, distributor_id))

    def _ended(self, distributor_id: str, task: asyncio.Task[Ended]) -> None:
        del self.running[distributor_id]
        if task.cancelled():
            return
        backoff, now, retrying = self.backoffs[distributor_id], self.clock(), self.context.retrying
        failure = task.exception()
        if isinstance(failure, Stopping):
            return
        if failure is not None:
            level = logging.WARNING if is_transient(failure) else logging.ERROR
            log.log(
                level,
                "deciding parked requests failed; trying again later",
                exc_info=failure,
                extra={"distributor_id": distributor_id},
            )
            backoff.failed(now, retrying.initial_s, retrying.max_s)
        elif isinstance(ended := task.result(), Unanswered):
            backoff.failed(now, retrying.initial_s, retrying.max_s, ended.retry_after_s)
        elif ended == "busy":
            backoff.not_before = now + POLL_S  # another instance drains it
        else:
            backoff.succeeded()
            self.gate.drained(distributor_id)
        self.gate.wakeup.set()

    async def _wait(self, lengths: Mapping[str, int]) -> None:
        now = self.clock()
        due = [
            self.backoffs[d].not_before - now
            for d in lengths
            if d not in self.running and d in self.backoffs
        ]
        timeout = max(MIN_PASS_S, min([POLL_S, *due]))
        try:
            await asyncio.wait_for(self.gate.wakeup.wait(), timeout)
        except TimeoutError:
            pass
        self.gate.wakeup.clear()
        await self.context.retrying.sleep(MIN_PASS_S)

    def _gauge(self, lengths: Mapping[str, int]) -> None:
        for distributor_id in self._gauged - lengths.keys():
            metrics.PARTNER_CENTER_PARKED.labels(distributor_id).set(0)
        for distributor_id, n in lengths.items():
            metrics.PARTNER_CENTER_PARKED.labels(distributor_id).set(n)
        self._gauged = set(lengths)

    # ------------------------------------------------------------------ one distributor

    async def drain(self, distributor_id: str) -> Ended:
        """Decide the distributor's parked requests, a chunk at a time, while Partner Center
        answers (or the outage policy has the registry decide)."""
        pool = self.context.pool
        while True:
            peek = await parked_store.next_undecided(pool, distributor_id, self.chunk)
            outcome: Outcome = {}
            if peek:
                ids, event_id = self.gate.ids_to_ask([p.event for p in peek])[distributor_id]
                outcome = await self.gate.ask(pool, distributor_id, ids, event_id)
                if isinstance(outcome, Unanswered):
                    return outcome
            if not await self._locked(distributor_id, peek[-1].seq if peek else None, outcome):
                return "busy"
            if not peek:
                return "empty"

    async def _locked(self, distributor_id: str, up_to_seq: int | None, outcome: Outcome) -> bool:
        """Under the distributor's lock: publish what an earlier drain decided and did not
        publish, then decide its undecided requests up to `up_to_seq`. False: another
        instance holds the lock."""
        async with self.context.pool.acquire() as conn:
            if not await parked_store.try_lock(conn, distributor_id):
                return False
            try:
                await self._publish_decided(conn, distributor_id)
                if up_to_seq is not None:
                    # The peek's requests, less any another instance decided since.
                    parked = await parked_store.next_undecided(
                        conn, distributor_id, self.chunk, up_to_seq=up_to_seq
                    )
                    if parked:
                        await self._decide_and_publish(conn, distributor_id, parked, outcome)
            except BaseException:
                # The pool resets nothing: the session lock must go with the connection.
                conn.terminate()
                raise
            await parked_store.unlock(conn, distributor_id)
        return True

    async def _decide_and_publish(
        self, conn: asyncpg.Connection, distributor_id: str, parked: list[Parked], outcome: Outcome
    ) -> None:
        try:
            rows = await self._decide(conn, distributor_id, parked, outcome)
        except Exception as exc:
            if is_transient(exc):
                raise
            # One request that can never be decided must not hold its distributor's queue:
            # one at a time, each with the consumers' budget of attempts.
            log.warning(
                "deciding parked requests failed; deciding them one by one",
                extra={"distributor_id": distributor_id},
                exc_info=True,
            )
            for one in parked:
                await self._decide_one(conn, distributor_id, one, outcome)
            return
        await self._publish(conn, rows)
        await parked_store.remove(conn, [p.seq for p in parked])

    async def _decide_one(
        self, conn: asyncpg.Connection, distributor_id: str, parked: Parked, outcome: Outcome
    ) -> None:
        retrying, attempts = self.context.retrying, max(1, self.context.settings.poison_attempts)
        failure: Exception | None = None
        for attempt in range(1, attempts + 1):
            try:
                rows = await self._decide(conn, distributor_id, [parked], outcome)
            except Exception as exc:
                if is_transient(exc):
                    raise
                failure = exc
                if attempt < attempts:
                    await retrying.sleep(backoff_s(attempt + 1, retrying.initial_s, retrying.max_s))
                continue
            await self._publish(conn, rows)
            await parked_store.remove(conn, [parked.seq])
            return
        reason = f"processing failed after {attempts} attempts: {type(failure).__name__}: {failure}"
        log.error(
            "dead-lettering a parked request that cannot be decided",
            extra={"distributor_id": distributor_id, "event_id": parked.event.id, "error": reason},
        )
        record = await parked_store.source_of(conn, parked.seq)
        if record is not None:
            await self.context.dead_letters.send(
                self.context.group_id(REQUESTS_CONSUMER), [(record, reason)]
            )
        await parked_store.discard(conn, parked.seq)

    async def _decide(
        self, conn: asyncpg.Connection, distributor_id: str, parked: list[Parked], outcome: Outcome
    ) -> list[asyncpg.Record]:
        events = [p.event for p in parked]
        with deferring_counts() as counts:
            async with conn.transaction():
                uow = PostgresValidatorUnitOfWork(conn)
                emitted = await self.decide(events, uow, answers={distributor_id: outcome})
                rows = await uow.write_outbox(
                    [(e.id, o) for e, outs in zip(events, emitted, strict=True) for o in outs]
                )
                await parked_store.mark_decided(conn, [p.seq for p in parked])
        for count in counts:  # committed
            count()
        log.info(
            "decided parked requests",
            extra={"distributor_id": distributor_id, "decided": len(events)},
        )
        return rows

    async def _publish_decided(self, conn: asyncpg.Connection, distributor_id: str) -> None:
        decided = await parked_store.decided_unpublished(conn, distributor_id)
        if decided:
            await self._publish(conn, await outbox.pending_for(conn, [e for _, e in decided]))
            await parked_store.remove(conn, [seq for seq, _ in decided])

    async def _publish(self, conn: asyncpg.Connection, rows: Sequence[asyncpg.Record]) -> None:
        if not rows:
            return
        keys = [bytes(r["key"]) for r in rows if r["key"] is not None]
        first = min(r["id"] for r in rows)
        while await parked_store.earlier_decisions_unsent(conn, keys, first):
            await self.context.retrying.sleep(EARLIER_SENT_POLL_S)
        await self.context.outbox.publish(rows)
