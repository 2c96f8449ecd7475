"""Kafka I/O: sending with per-message refusals, offsets, lag (clients: kafka_clients.py)."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from aiokafka import AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from murmurhash2 import murmurhash2

from contracts.topics import MAX_MESSAGE_BYTES
from services.common import metrics
from services.common.retry import is_transient

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


async def send_all(producer: AIOKafkaProducer, messages: Iterable[Message]) -> list[str | None]:
    """Send messages; per message None, or why the broker refused it for good.

    Transient failures raise, for the caller to send everything again (consumers dedupe).
    """
    pending: list[Any] = []
    for topic, key, value, headers in messages:
        try:
            pending.append(await producer.send(topic, value=value, key=key, headers=headers))
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


def next_offsets(records: Iterable[ConsumerRecord]) -> dict[TopicPartition, int]:
    """The offsets to commit once `records` are done: one past the last of each partition."""
    offsets: dict[TopicPartition, int] = {}
    for r in records:
        tp = TopicPartition(r.topic, r.partition)
        offsets[tp] = max(offsets.get(tp, 0), r.offset + 1)
    return offsets


T = TypeVar("T")


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
