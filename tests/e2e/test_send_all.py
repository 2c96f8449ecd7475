"""`send_all` on the real broker: record batches built per partition, in order, with the
per-message refusals the outbox and the dead letters rely on."""

from __future__ import annotations

import uuid

from aiokafka import AIOKafkaProducer

from contracts.topics import ORDERS
from services.common.kafka import BATCHED_MESSAGE_BYTES, MAX_REQUEST_SIZE, send_all
from services.common.kafka_clients import new_producer, start_client
from services.common.topic_creation import create_topics
from services.settings import Settings
from tests.support import read_topic


async def _producer(settings: Settings) -> AIOKafkaProducer:
    return await start_client(new_producer(settings, idempotent=False), settings)


async def test_every_message_once_in_its_partition_in_order(kafka):
    prefix = f"t{uuid.uuid4().hex[:8]}."
    await create_topics(kafka, prefix=prefix, partitions=2)
    # The smallest batches: a partition's messages fill several, sent one after another.
    settings = Settings(
        kafka_bootstrap_servers=kafka, topic_prefix=prefix, producer_batch_bytes=16 * 1024
    )
    topic = prefix + ORDERS.name
    headers = [("content-type", b"application/json")]
    messages = [
        (topic, f"key-{i % 7}".encode(), f"{i:06d}".encode() * 300, headers) for i in range(120)
    ]
    # One above the batched size (sent on its own) and one no request can carry.
    messages.insert(50, (topic, b"key-3", b"b" * (BATCHED_MESSAGE_BYTES + 1), headers))
    messages.insert(80, (topic, b"key-4", b"h" * (MAX_REQUEST_SIZE + 1), headers))
    producer = await _producer(settings)
    try:
        outcome = await send_all(producer, messages)
    finally:
        await producer.stop()

    refused = {i: reason for i, reason in enumerate(outcome) if reason}
    assert list(refused) == [80] and "MessageSizeTooLarge" in refused[80], refused
    sent = [m for i, m in enumerate(messages) if i not in refused]
    records = await read_topic(settings, ORDERS.name, lambda rs: len(rs) >= len(sent), settle=0.5)
    assert sorted(r.value for r in records) == sorted(m[2] for m in sent)  # each once
    assert all(dict(r.headers) == dict(headers) for r in records)
    for key in {m[1] for m in sent}:
        got = [r for r in records if r.key == key]
        assert len({r.partition for r in got}) == 1, key
        assert [r.value for r in sorted(got, key=lambda r: r.offset)] == [
            m[2] for m in sent if m[1] == key
        ], key
