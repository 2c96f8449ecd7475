"""Kafka I/O: sending with per-message refusals, offsets, lag (clients: kafka_clients.py)."""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Awaitable, Iterable, Sequence
from typing import Any, TypeVar

from aiokafka import AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from murmurhash2 import murmurhash2

from contracts.topics import MAX_MESSAGE_BYTES
from services.common import metrics
from services.common.retry import is_transient

log = logging.getLogger(__name__)

# Kafka's murmur2 seed (org.apache.kafka.common.utils.Utils.murmur2).
MURMUR2_SEED = 0x9747B28C
# The largest message a producer sends: what the contract's topics take (contracts/topics.py).
MAX_REQUEST_SIZE = MAX_MESSAGE_BYTES

Headers = list[tuple[str, bytes]]
# (topic, key, value, headers) as it goes to the broker.
Message = tuple[str, bytes | None, bytes | None, Headers]


def contract_topic(prefix: str, actual: str) -> str:
    """The contract's name of a topic whose actual name carries the environment's prefix."""
    return actual[len(prefix) :] if prefix and actual.startswith(prefix) else actual


def consumer_group(prefix: str, service: str, consumer: str) -> str:
    """porgate.SERVICE.CONSUMER, after the environment's prefix: each consumer commits its own
    offsets."""
    return f"{prefix}porgate.{service}.{consumer}"


def text_headers(*pairs: tuple[str, str]) -> Headers:
    return [(k, v.encode()) for k, v in pairs]


CONTENT_TYPE = text_headers(("content-type", "application/cloudevents+json"))


def partition_for(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """Kafka's default partitioner, as the Java client and aiokafka compute it (murmur2 of the
    key), with the hash in C: aiokafka's pure-Python murmur2 is a hot spot of every send."""
    if key is None:
        return random.choice(available or all_partitions)
    return all_partitions[(murmurhash2(key, MURMUR2_SEED) & 0x7FFFFFFF) % len(all_partitions)]


# A message above this goes through `producer.send`, which checks it against the largest
# request; below, it joins a record batch the caller fills (`send_all`).
BATCHED_MESSAGE_BYTES = 256 * 1024


async def send_all(producer: AIOKafkaProducer, messages: Iterable[Message]) -> list[str | None]:
    """Send messages; per message None, or why the broker refused it for good.

    Transient failures raise, for the caller to send everything again (consumers dedupe).
    Each partition's messages go in record batches built here, in their order, one
    delivery future per batch: `producer.send` costs a future and an accumulator step per
    message, the most of a publish's CPU (benchmarks/README.md).
    """
    messages = list(messages)
    outcome: list[str | None] = [None] * len(messages)
    partitions: dict[str, list[int]] = {}
    filling: dict[tuple[str, int], tuple[Any, list[int]]] = {}
    pending: list[tuple[Any, list[int]]] = []  # (delivery future or refusal, message indexes)

    async def attempt(indexes: list[int], send: Awaitable[Any]) -> None:
        try:
            pending.append((await send, indexes))
        except KafkaError as exc:
            pending.append((_refusal(exc), indexes))

    def submit(topic: str, partition: int, batch: Any, indexes: list[int]) -> Awaitable[None]:
        return attempt(indexes, producer.send_batch(batch, topic, partition=partition))

    for i, (topic, key, value, headers) in enumerate(messages):
        if topic not in partitions:
            try:  # waits for the topic's metadata, as `producer.send` does
                partitions[topic] = sorted(await producer.partitions_for(topic))
            except KafkaError as exc:
                pending.append((_refusal(exc), [i]))
                continue
        every = partitions[topic]
        partition = partition_for(key, every, every)
        if len(key or b"") + len(value or b"") > BATCHED_MESSAGE_BYTES:
            if (topic, partition) in filling:  # what came before it goes before it
                await submit(topic, partition, *filling.pop((topic, partition)))
            await attempt([i], producer.send(topic, value, key, partition, headers=headers))
            continue
        batch, indexes = filling.get((topic, partition)) or (producer.create_batch(), [])
        if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
            await submit(topic, partition, batch, indexes)  # full: it goes, a new one fills
            batch, indexes = producer.create_batch(), []
            batch.append(key=key, value=value, timestamp=None, headers=headers)
        indexes.append(i)
        filling[(topic, partition)] = (batch, indexes)
    for (topic, partition), (batch, indexes) in filling.items():
        await submit(topic, partition, batch, indexes)
    for item, indexes in pending:
        if not isinstance(item, BaseException):
            try:
                await item
                continue
            except KafkaError as exc:
                item = _refusal(exc)
        for i in indexes:
            outcome[i] = f"{type(item).__name__}: {item}"
    return outcome


def _refusal(exc: KafkaError) -> KafkaError:
    """A broker's refusal for good; a transient failure raises, for the caller to retry."""
    if is_transient(exc):
        raise exc
    return exc


def next_offsets(records: Iterable[ConsumerRecord]) -> dict[TopicPartition, int]:
    """The offsets to commit once `records` are done: one past the last of each partition."""
    offsets: dict[TopicPartition, int] = {}
    for r in records:
        tp = TopicPartition(r.topic, r.partition)
        offsets[tp] = max(offsets.get(tp, 0), r.offset + 1)
    return offsets


T = TypeVar("T")


async def commit_or_warn(consumer: Any, offsets: dict[TopicPartition, int], service: str) -> None:
    """Commit offsets; a failure is logged, not raised: typically a rebalance took the
    partitions away, and the new owner gets these records again, which its inbox makes
    no-ops."""
    try:
        await consumer.commit(offsets)
    except KafkaError as exc:
        log.warning("offset commit failed", extra={"service": service, "error": repr(exc)})


def offsets_to_commit(
    assigned: Iterable[TopicPartition], batches: Iterable[dict[TopicPartition, int]]
) -> dict[TopicPartition, int]:
    """The furthest of these batches' offsets per partition, for the partitions still
    assigned: one a rebalance took away would fail the whole commit."""
    assigned = set(assigned)
    offsets: dict[TopicPartition, int] = {}
    for batch in batches:
        for tp, offset in batch.items():
            if tp in assigned:
                offsets[tp] = max(offsets.get(tp, 0), offset)
    return offsets


def partition_groups(
    items: Sequence[tuple[ConsumerRecord, T]], most: int, least: int
) -> list[list[tuple[ConsumerRecord, T]]]:
    """`items` split into at most `most` groups of about `least` records or more, each
    partition's records all in one group and in their order; balanced by record count."""
    by_partition: dict[tuple[str, int], list[tuple[ConsumerRecord, T]]] = {}
    for item in items:
        by_partition.setdefault((item[0].topic, item[0].partition), []).append(item)
    n = min(most, len(items) // max(1, least), len(by_partition))
    if n <= 1:
        return [list(items)]
    groups: list[list[tuple[ConsumerRecord, T]]] = [[] for _ in range(n)]
    for records in sorted(by_partition.values(), key=len, reverse=True):
        min(groups, key=len).extend(records)
    return groups


def rewind(consumer: Any, records: Sequence[ConsumerRecord]) -> None:
    """Seek each partition back to its earliest record here, so none is skipped."""
    earliest: dict[TopicPartition, int] = {}
    for r in records:
        tp = TopicPartition(r.topic, r.partition)
        earliest[tp] = min(earliest.get(tp, r.offset), r.offset)
    for tp, offset in earliest.items():
        # A partition no longer ours is the new owner's to redeliver.
        with contextlib.suppress(Exception):
            consumer.seek(tp, offset)


async def record_lag(consumer: Any, service: str, prefix: str) -> None:
    """Set the lag gauge of each partition assigned to `consumer`."""
    if consumer is None or not hasattr(consumer, "assignment"):
        return
    with contextlib.suppress(Exception):  # a metric must never fail a batch
        for tp in consumer.assignment():
            end = consumer.highwater(tp)
            if end is not None:
                lag = max(0, end - await consumer.position(tp))
                topic = contract_topic(prefix, tp.topic)
                metrics.CONSUMER_LAG.labels(service, topic, str(tp.partition)).set(lag)
