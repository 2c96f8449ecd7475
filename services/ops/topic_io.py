"""Reading and writing topics for the on-call tools: offsets, record slices, rate-limited sends.

Written for brokers with the embedded Tansu broker's gaps: no idempotent producer, and no
`offsets_for_times` (it answers 0), so time windows are found by reading the records' own
timestamps, and reads use a group-less consumer with assign() + seek().
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from services.common.kafka_clients import new_consumer, start_client, start_producer
from services.ops.rate import limiter
from services.settings import Settings

CLIENT_ID = "porgate-ops"

ProgressFn = Callable[[int, int], None]
"""Called as (done, total) while a tool runs."""

Headers = Sequence[tuple[str, bytes]]


class ReplayError(Exception):
    """A replay that cannot run as asked; the message is meant for the operator."""


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


def report_progress(on_progress: ProgressFn | None, done: int, total: int) -> None:
    if on_progress is not None:
        on_progress(done, total)


# ----------------------------------------------------------------------------- reading


@contextlib.asynccontextmanager
async def reader(settings: Settings) -> AsyncIterator[AIOKafkaConsumer]:
    # No group: nothing is committed, and no running consumer group is disturbed.
    consumer = new_consumer(
        settings,
        client_id=CLIENT_ID,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    # A start that fails closes the client itself (start_client), so nothing is left open.
    await start_client(consumer, settings)
    try:
        yield consumer
    finally:
        await consumer.stop()


async def partition_offsets(
    consumer: AIOKafkaConsumer, topic: str
) -> tuple[dict[int, int], dict[int, int]]:
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


async def records(
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


# ----------------------------------------------------------------------------- sending


class Sender:
    """Sends under the rate limit; counts what the broker acknowledged."""

    def __init__(self, producer: AIOKafkaProducer | None, rate: float | None) -> None:
        self.producer = producer
        self.limit = limiter(rate)
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
async def sending(settings: Settings, dry_run: bool, rate: float | None) -> AsyncIterator[Sender]:
    """A Sender; with `dry_run`, one without a producer, which must not be sent through."""
    if dry_run:
        yield Sender(None, rate)
        return
    producer = await start_producer(settings, linger_ms=5, client_id=CLIENT_ID)
    try:
        sender = Sender(producer, rate)
        yield sender
        await sender.flush()
    finally:
        await producer.stop()
