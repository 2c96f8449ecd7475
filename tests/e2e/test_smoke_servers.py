"""The chosen servers work: produce and consume through faststream, query through asyncpg."""

import asyncio
import uuid

import asyncpg
from faststream.kafka import KafkaBroker

from services.common.kafka_security import broker_security
from services.settings import Settings


async def test_faststream_round_trip_and_asyncpg_query(kafka, database_url):
    topic = f"smoke-{uuid.uuid4().hex[:8]}"
    received: asyncio.Future = asyncio.get_running_loop().create_future()
    # TLS and SASL as the tests' servers use them (PORGATE_TEST_KAFKA_SECURITY).
    broker = KafkaBroker(kafka, **broker_security(Settings(kafka_bootstrap_servers=kafka)))

    @broker.subscriber(topic, group_id=f"g-{topic}", auto_offset_reset="earliest")
    async def handle(body: dict) -> None:
        if not received.done():
            received.set_result(body)

    await broker.start()
    try:
        await broker.publish({"hello": "world"}, topic)
        assert await asyncio.wait_for(received, 30) == {"hello": "world"}
    finally:
        await broker.stop()

    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT 1 + $1::int", 41) == 42
        print("PostgreSQL", await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()
