"""Replays for on-call: redrive dead letters, re-publish topic slices, re-validate blocked transactions.

Every replay is safe to run twice: what it publishes keeps its CloudEvents id (or, for a
re-validation, derives it deterministically), and each consumer's inbox turns a second copy
into a no-op.

Written for brokers with the embedded Tansu broker's gaps: no idempotent producer, and no
`offsets_for_times` (it answers 0), so time windows are found by reading the records' own
timestamps, and reads use a group-less consumer with assign() + seek().
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from contracts.codec import encode, new_event
from contracts.events import ValidationRequested
from contracts.topics import DLQ, DLQ_HEADERS, TOPICS_BY_NAME, VALIDATION_REQUESTS
from services.common.runtime import CONTENT_TYPE
from services.domain.decisions import derived_event_id

ProgressFn = Callable[[int, int], None]
"""Called as (done, total) while a replay runs."""

REDRIVEN_OFFSET = "x-redriven-from-dlq-offset"
REDRIVEN_PARTITION = "x-redriven-from-dlq-partition"
REPLAYED_FROM = "x-replayed-from"
REVALIDATION_SOURCE = "/porgate/ops/revalidate"

Headers = Sequence[tuple[str, bytes]]


class ReplayError(Exception):
    """A replay that cannot run as asked; the message is meant for the operator."""


# ----------------------------------------------------------------------------- rate limit


class TokenBucket:
    """At most `rate` messages a second on average, bursts of at most `burst`.

    Reservations may drive the bucket negative: each caller then waits its own share of
    the debt, so concurrent callers are spaced correctly without a lock.
    """

    def __init__(
        self, rate: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        # A tenth of a second's worth by default: smooth, yet coarse enough that sleep
        # overshoot does not eat into the rate.
        self.capacity = burst if burst is not None else max(1.0, rate / 10)
        self.clock = clock
        self.tokens = self.capacity
        self.updated = clock()

    def reserve(self, n: float = 1) -> float:
        """Take `n` tokens now; return the seconds to wait before using them (0: go)."""
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        self.tokens -= n
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    async def acquire(
        self, n: float = 1, sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep
    ) -> None:
        wait = self.reserve(n)
        if wait > 0:
            await sleep(wait)


async def _no_limit() -> None:
    return None


def _limiter(rate: float | None) -> Callable[[], Awaitable[None]]:
    return TokenBucket(rate).acquire if rate else _no_limit


# ----------------------------------------------------------------------------- pure pieces


def header_map(headers: Headers | None) -> dict[str, str]:
    """Headers as text; the last of repeated names wins (the runtime appends its own last)."""
    return {k: v.decode("utf-8", "replace") if v is not None else "" for k, v in headers or ()}


def parse_time(text: str) -> datetime:
    """ISO 8601 / RFC 3339; a time without a zone is taken as UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"not an ISO 8601 time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def to_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def in_window(timestamp_ms: int, since: datetime | None, until: datetime | None) -> bool:
    """`since` inclusive, `until` exclusive."""
    return (since is None or timestamp_ms >= to_ms(since)) and (
        until is None or timestamp_ms < to_ms(until)
    )


def format_age(then: datetime | None, now: datetime) -> str:
    if then is None:
        return "?"
    seconds = max(0, int((now - then).total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes}m"
    if minutes:
        return f"{minutes}m{seconds}s"
    return f"{seconds}s"


@dataclass(frozen=True)
class Slice:
    """Offsets [start, stop) of one partition."""

    partition: int
    start: int
    stop: int

    @property
    def size(self) -> int:
        return max(0, self.stop - self.start)


def plan_slices(
    beginning: dict[int, int],
    end: dict[int, int],
    partitions: Iterable[int] | None = None,
    from_offset: int | None = None,
    to_offset: int | None = None,
) -> list[Slice]:
    """What to read of each partition: the asked range (`to_offset` inclusive) within what exists.

    `end` is taken once, before reading, so a replay into its own source topic stops.
    """
    if from_offset is not None and to_offset is not None and from_offset > to_offset:
        raise ReplayError(f"--from-offset {from_offset} is after --to-offset {to_offset}")
    chosen = sorted(set(partitions)) if partitions else sorted(end)
    unknown = [p for p in chosen if p not in end]
    if unknown:
        raise ReplayError(f"no partition {', '.join(map(str, unknown))}; the topic has {len(end)}")
    slices = []
    for p in chosen:
        start = max(beginning.get(p, 0), from_offset if from_offset is not None else 0)
        stop = min(end[p], to_offset + 1 if to_offset is not None else end[p])
        slices.append(Slice(p, start, max(start, stop)))
    return slices


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    source_topic: str | None
    source_partition: int | None
    source_offset: int | None
    consumer_group: str | None
    error: str | None
    failed_at: datetime | None

    @property
    def key_text(self) -> str:
        return self.key.decode("utf-8", "replace") if self.key is not None else ""

    def summary(self, now: datetime) -> dict[str, Any]:
        return {
            "partition": self.partition,
            "offset": self.offset,
            "sourceTopic": self.source_topic,
            "sourcePartition": self.source_partition,
            "sourceOffset": self.source_offset,
            "consumerGroup": self.consumer_group,
            "error": self.error,
            "failedAt": self.failed_at.isoformat() if self.failed_at else None,
            "age": format_age(self.failed_at, now),
            "key": self.key_text if self.key is not None else None,
        }


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def parse_dead_letter(
    partition: int,
    offset: int,
    timestamp_ms: int,
    key: bytes | None,
    value: bytes | None,
    headers: Headers | None,
) -> DeadLetter:
    h = header_map(headers)
    try:
        failed_at = parse_time(h["x-dlq-failed-at"]) if "x-dlq-failed-at" in h else None
    except ValueError:
        failed_at = None
    if failed_at is None and timestamp_ms >= 0:
        failed_at = datetime.fromtimestamp(timestamp_ms / 1000, UTC)
    return DeadLetter(
        partition=partition,
        offset=offset,
        timestamp_ms=timestamp_ms,
        key=key,
        value=value,
        headers=tuple(headers or ()),
        source_topic=h.get("x-dlq-source-topic") or None,
        source_partition=_int_or_none(h.get("x-dlq-source-partition")),
        source_offset=_int_or_none(h.get("x-dlq-source-offset")),
        consumer_group=h.get("x-dlq-consumer-group"),
        error=h.get("x-dlq-error"),
        failed_at=failed_at,
    )


def redrive_headers(
    headers: Headers, dlq_partition: int, dlq_offset: int
) -> list[tuple[str, bytes]]:
    """The original headers without the DLQ's (or an earlier redrive's), plus where this copy came from."""
    drop = {*DLQ_HEADERS, REDRIVEN_OFFSET, REDRIVEN_PARTITION}
    kept = [(k, v) for k, v in headers if k not in drop and not k.startswith("x-dlq-")]
    return kept + [
        (REDRIVEN_PARTITION, str(dlq_partition).encode()),
        (REDRIVEN_OFFSET, str(dlq_offset).encode()),
    ]


def redrive_problem(letter: DeadLetter) -> str | None:
    """Why this dead letter cannot be redriven, or None."""
    if letter.source_topic is None:
        return "no x-dlq-source-topic header"
    if letter.source_topic not in TOPICS_BY_NAME:
        return f"unknown source topic {letter.source_topic!r}"
    if letter.source_topic == DLQ.name:
        return "source topic is the DLQ itself"
    if letter.value is None:
        return "no value (tombstone)"
    return None


def replay_headers(
    headers: Headers, source: str, partition: int, offset: int
) -> list[tuple[str, bytes]]:
    kept = [(k, v) for k, v in headers if k != REPLAYED_FROM]
    return kept + [(REPLAYED_FROM, f"{source}/{partition}/{offset}".encode())]


def check_replay_target(source: str, target: str) -> None:
    """Refuse copying between two contract topics whose event types differ: every copy would be dead-lettered."""
    src, dst = TOPICS_BY_NAME.get(source), TOPICS_BY_NAME.get(target)
    if src is None or dst is None or src is dst:
        return
    if not set(src.event_types) & set(dst.event_types):
        hint = " (use `porgate dlq redrive` for dead letters)" if src is DLQ else ""
        raise ReplayError(
            f"{source} and {target} carry different event types; refusing to copy{hint}"
        )


@dataclass(frozen=True)
class Revalidation:
    """One re-validation request for one blocked decision."""

    decision_id: str
    source_event_id: str
    distributor_id: str
    error_codes: tuple[int, ...]
    decided_at: datetime
    key: str
    event_id: str
    value: bytes


def revalidation_for(
    decision_id: str, request: dict[str, Any], decided_at: datetime, error_codes: Sequence[int] = ()
) -> Revalidation:
    """The request as first sent, now naming the decision it supersedes.

    Byte-identical on every run (id and envelope time derive from the decision): the
    validator's inbox dead-letters a known id that comes back with a different body.
    """
    original = ValidationRequested.model_validate(request)
    revised = original.model_copy(update={"supersedes_decision_id": decision_id})
    key = revised.order_id or revised.subscription_id or revised.source_event_id
    event = new_event(
        revised,
        source=REVALIDATION_SOURCE,
        id=derived_event_id("revalidation", decision_id),
        subject=key,
        time=decided_at,
    )
    return Revalidation(
        decision_id=decision_id,
        source_event_id=revised.source_event_id,
        distributor_id=revised.distributor_id,
        error_codes=tuple(error_codes),
        decided_at=decided_at,
        key=key,
        event_id=event.id,
        value=encode(event),
    )


# ----------------------------------------------------------------------------- Kafka plumbing


@contextlib.asynccontextmanager
async def _consumer(bootstrap_servers: str) -> AsyncIterator[AIOKafkaConsumer]:
    # No group: nothing is committed, and no running consumer group is disturbed.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id="porgate-ops",
    )
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


@contextlib.asynccontextmanager
async def _producer(bootstrap_servers: str) -> AsyncIterator[AIOKafkaProducer]:
    # No idempotence: Tansu lacks InitProducerId, and the consumers' inbox absorbs duplicates.
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        acks="all",
        enable_idempotence=False,
        linger_ms=5,
        max_request_size=2 * 1024 * 1024,
        client_id="porgate-ops",
    )
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def _offsets(consumer: AIOKafkaConsumer, topic: str) -> tuple[dict[int, int], dict[int, int]]:
    """Each partition's first offset and its end now."""
    # Call before assign(): an assigned consumer's metadata covers only its own topics.
    if topic not in await consumer.topics():
        raise ReplayError(f"topic {topic!r} not found")
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        raise ReplayError(f"topic {topic!r} has no partitions yet")
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    beginning = await consumer.beginning_offsets(tps)
    end = await consumer.end_offsets(tps)
    return {tp.partition: o for tp, o in beginning.items()}, await _probe_end(consumer, end)


async def _probe_end(
    consumer: AIOKafkaConsumer, end: dict[TopicPartition, int], max_s: float = 2.0
) -> dict[int, int]:
    # Tansu's latest offset can trail concurrent writes to a partition until its next write,
    # while the records past it are readable: read on from there until a poll comes back
    # empty. On Kafka proper this costs one empty poll.
    consumer.assign(list(end))
    for tp, offset in end.items():
        consumer.seek(tp, offset)
    deadline = time.monotonic() + max_s
    while time.monotonic() < deadline:
        batch = await consumer.getmany(timeout_ms=200, max_records=1000)
        if not any(batch.values()):
            break
    return {tp.partition: max(offset, await consumer.position(tp)) for tp, offset in end.items()}


async def topic_bounds(bootstrap_servers: str, topic: str) -> tuple[dict[int, int], dict[int, int]]:
    """(first offset, end offset) per partition of an actual (prefixed) topic name."""
    async with _consumer(bootstrap_servers) as consumer:
        return await _offsets(consumer, topic)


async def _records(
    consumer: AIOKafkaConsumer, topic: str, slices: Iterable[Slice], idle_timeout_s: float = 15.0
) -> AsyncIterator[ConsumerRecord]:
    """Every record of each slice, in offset order, one partition after the other."""
    for s in slices:
        if s.size == 0:
            continue
        tp = TopicPartition(topic, s.partition)
        consumer.assign([tp])
        consumer.seek(tp, s.start)
        position, idle_since = s.start, time.monotonic()
        while position < s.stop:
            batch = (await consumer.getmany(tp, timeout_ms=500, max_records=500)).get(tp, [])
            for record in batch:
                if record.offset >= s.stop:
                    break
                yield record
            position = await consumer.position(tp)
            if batch:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > idle_timeout_s:
                raise ReplayError(
                    f"{topic}[{s.partition}]: no records past offset {position} (expected up to {s.stop})"
                )


class _Sender:
    """Sends under the rate limit; counts what the broker acknowledged."""

    def __init__(self, producer: AIOKafkaProducer | None, rate: float | None) -> None:
        self.producer = producer
        self.limit = _limiter(rate)
        self.pending: list[asyncio.Future] = []
        self.sent = 0

    async def send(
        self, topic: str, value: bytes | None, key: bytes | None, headers: Headers
    ) -> None:
        assert self.producer is not None
        await self.limit()
        self.pending.append(
            await self.producer.send(topic, value=value, key=key, headers=list(headers))
        )
        if len(self.pending) >= 500:
            await self.flush()

    async def flush(self) -> None:
        pending, self.pending = self.pending, []
        await asyncio.gather(*pending)
        self.sent += len(pending)


@contextlib.asynccontextmanager
async def _sending(
    bootstrap_servers: str, dry_run: bool, rate: float | None
) -> AsyncIterator[_Sender]:
    async with contextlib.AsyncExitStack() as stack:
        producer = (
            None if dry_run else await stack.enter_async_context(_producer(bootstrap_servers))
        )
        sender = _Sender(producer, rate)
        yield sender
        if producer is not None:
            await sender.flush()


def _report(on_progress: ProgressFn | None, done: int, total: int) -> None:
    if on_progress is not None:
        on_progress(done, total)


# ----------------------------------------------------------------------------- dead letters


async def list_dead_letters(
    bootstrap_servers: str,
    prefix: str,
    *,
    source_topic: str | None = None,
    limit: int | None = None,
    on_progress: ProgressFn | None = None,
) -> list[DeadLetter]:
    """Dead letters in DLQ order (partition, offset); with `limit`, the newest that many."""
    topic = prefix + DLQ.name
    letters: list[DeadLetter] = []
    async with _consumer(bootstrap_servers) as consumer:
        beginning, end = await _offsets(consumer, topic)
        slices = plan_slices(beginning, end)
        total, done = sum(s.size for s in slices), 0
        _report(on_progress, 0, total)
        async for r in _records(consumer, topic, slices):
            letter = parse_dead_letter(
                r.partition, r.offset, r.timestamp, r.key, r.value, r.headers
            )
            if source_topic is None or letter.source_topic == source_topic:
                letters.append(letter)
            done += 1
            _report(on_progress, done, total)
    if limit is not None:
        letters = (
            sorted(letters, key=lambda d: (d.timestamp_ms, d.partition, d.offset))[-limit:]
            if limit > 0
            else []
        )
        letters.sort(key=lambda d: (d.partition, d.offset))
    return letters


async def dead_letter_at(
    bootstrap_servers: str, prefix: str, offset: int, partition: int = 0
) -> DeadLetter | None:
    topic = prefix + DLQ.name
    async with _consumer(bootstrap_servers) as consumer:
        beginning, end = await _offsets(consumer, topic)
        if partition not in end or not beginning[partition] <= offset < end[partition]:
            return None
        async with contextlib.aclosing(
            _records(consumer, topic, [Slice(partition, offset, offset + 1)])
        ) as records:
            async for r in records:
                return parse_dead_letter(
                    r.partition, r.offset, r.timestamp, r.key, r.value, r.headers
                )
    return None


@dataclass
class RedriveResult:
    selected: list[DeadLetter] = field(default_factory=list)
    skipped: list[tuple[DeadLetter, str]] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)  # asked-for offsets that are not in the DLQ
    sent: int = 0


async def redrive(
    bootstrap_servers: str,
    prefix: str,
    *,
    offsets: Sequence[int] | None = None,
    partition: int = 0,
    source_topic: str | None = None,
    dry_run: bool = False,
    rate: float | None = None,
    on_progress: ProgressFn | None = None,
) -> RedriveResult:
    """Publish dead letters (all, or these offsets of `partition`) to their source topics, unchanged.

    The copy keeps its key, value and non-DLQ headers, so the consumer sees the original
    event again: if it was processed meanwhile, its inbox makes the copy a no-op; if it is
    still malformed, it is dead-lettered again.
    """
    topic = prefix + DLQ.name
    result = RedriveResult()
    async with _consumer(bootstrap_servers) as consumer:
        beginning, end = await _offsets(consumer, topic)
        if offsets is None:
            slices = plan_slices(beginning, end)
        else:
            plan = plan_slices(beginning, end, [partition])[0]
            wanted = sorted(set(offsets))
            result.missing = [o for o in wanted if not plan.start <= o < plan.stop]
            slices = [Slice(partition, o, o + 1) for o in wanted if plan.start <= o < plan.stop]
        async for r in _records(consumer, topic, slices):
            letter = parse_dead_letter(
                r.partition, r.offset, r.timestamp, r.key, r.value, r.headers
            )
            if source_topic is not None and letter.source_topic != source_topic:
                continue
            problem = redrive_problem(letter)
            if problem is None:
                result.selected.append(letter)
            else:
                result.skipped.append((letter, problem))
    if dry_run:
        return result
    total = len(result.selected)
    _report(on_progress, 0, total)
    async with _sending(bootstrap_servers, dry_run, rate) as sender:
        for done, letter in enumerate(result.selected, 1):
            await sender.send(
                prefix + letter.source_topic,  # type: ignore[operator]
                letter.value,
                letter.key,
                redrive_headers(letter.headers, letter.partition, letter.offset),
            )
            _report(on_progress, done, total)
    result.sent = sender.sent
    return result


# ----------------------------------------------------------------------------- topic slices


@dataclass
class ReplayResult:
    source: str
    target: str
    slices: list[Slice]
    scanned: int = 0
    copied: int = 0  # with dry_run: what would be copied
    per_partition: dict[int, int] = field(default_factory=dict)


async def replay_topic(
    bootstrap_servers: str,
    prefix: str,
    source: str,
    *,
    target: str | None = None,
    partitions: Sequence[int] | None = None,
    from_offset: int | None = None,
    to_offset: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    dry_run: bool = False,
    rate: float | None = None,
    on_progress: ProgressFn | None = None,
) -> ReplayResult:
    """Copy a slice of `source` (offsets, inclusive, and/or a window of record timestamps) to `target`.

    Topic names are the contract's; `prefix` is prepended. Keys, values and headers are
    kept (plus x-replayed-from), so each copy lands on its key's partition again.
    """
    target = target or source
    check_replay_target(source, target)
    if since is not None and until is not None and since >= until:
        raise ReplayError("--since must be before --until")
    src = prefix + source
    async with _consumer(bootstrap_servers) as consumer:
        beginning, end = await _offsets(consumer, src)
        if target != source and prefix + target not in await consumer.topics():
            raise ReplayError(f"topic {prefix + target!r} not found")
        slices = plan_slices(beginning, end, partitions, from_offset, to_offset)
        result = ReplayResult(
            source, target, slices, per_partition={s.partition: 0 for s in slices}
        )
        total = sum(s.size for s in slices)
        _report(on_progress, 0, total)
        timed = since is not None or until is not None
        async with _sending(bootstrap_servers, dry_run, rate) as sender:
            async for r in _records(consumer, src, slices):
                result.scanned += 1
                if not timed or in_window(r.timestamp, since, until):
                    result.copied += 1
                    result.per_partition[r.partition] += 1
                    if not dry_run:
                        headers = replay_headers(r.headers or (), source, r.partition, r.offset)
                        await sender.send(prefix + target, r.value, r.key, headers)
                _report(on_progress, result.scanned, total)
    return result


# ----------------------------------------------------------------------------- re-validation

_BLOCKED = """
SELECT d.decision_id, d.decided_at, d.error_codes, d.request::text AS request
FROM por_validator.decisions d
WHERE d.outcome = 'blocked'
  AND ($1::text IS NULL OR d.distributor_id = $1)
  AND ($2::int IS NULL OR $2 = ANY (d.error_codes))
  AND ($3::timestamptz IS NULL OR d.decided_at >= $3)
  AND ($4::text[] IS NULL OR d.decision_id = ANY ($4::text[]))
  -- only the latest decision of its source event, and not already superseded
  AND NOT EXISTS (
    SELECT 1 FROM por_validator.decisions n
    WHERE n.source_event_id = d.source_event_id AND n.decision_id <> d.decision_id
      AND (n.decided_at > d.decided_at OR n.supersedes_decision_id = d.decision_id))
ORDER BY d.decided_at, d.decision_id
"""


async def blocked_decisions(
    conn: asyncpg.Connection,
    *,
    distributor: str | None = None,
    code: int | None = None,
    since: datetime | None = None,
    decision_ids: Sequence[str] | None = None,
) -> list[Revalidation]:
    """The re-validations to send: one per source event whose latest decision is blocked."""
    rows = await conn.fetch(
        _BLOCKED, distributor, code, since, list(decision_ids) if decision_ids else None
    )
    return [
        revalidation_for(
            r["decision_id"], json.loads(r["request"]), r["decided_at"], r["error_codes"]
        )
        for r in rows
    ]


@dataclass
class RevalidateResult:
    planned: list[Revalidation]
    sent: int = 0


async def revalidate(
    bootstrap_servers: str,
    prefix: str,
    dsn: str,
    *,
    distributor: str | None = None,
    code: int | None = None,
    since: datetime | None = None,
    decision_ids: Sequence[str] | None = None,
    dry_run: bool = False,
    rate: float | None = None,
    on_progress: ProgressFn | None = None,
) -> RevalidateResult:
    """Ask por-validator again about blocked transactions, each request naming the decision it supersedes."""
    conn = await asyncpg.connect(dsn)
    try:
        planned = await blocked_decisions(
            conn, distributor=distributor, code=code, since=since, decision_ids=decision_ids
        )
    finally:
        await conn.close()
    result = RevalidateResult(planned)
    if dry_run:
        return result
    _report(on_progress, 0, len(planned))
    async with _sending(bootstrap_servers, dry_run, rate) as sender:
        for done, item in enumerate(planned, 1):
            await sender.send(
                prefix + VALIDATION_REQUESTS.name, item.value, item.key.encode(), CONTENT_TYPE
            )
            _report(on_progress, done, len(planned))
    result.sent = sender.sent
    return result
