"""The baseline: a bare aiokafka consume-and-produce relay, in a process of its own.

`python3 -m benchmarks.relay_proc BOOTSTRAP SOURCE_TOPIC TARGET_TOPIC GROUP` consumes SOURCE
in a consumer group and produces each record's value (and key) to TARGET, then commits the
offsets: no decoding, no database. Its consumer and producer take porgate's own settings
(`PORGATE_CONSUMER_*`, `PORGATE_PRODUCER_LINGER_MS`, from the environment like porgate's; the
producer is porgate's own, `services.common.kafka_clients.start_producer`), so the difference between
the two is porgate's own work. Prints `READY`, runs until SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from services.common.kafka_clients import new_consumer, start_producer
from services.settings import Settings


async def relay(bootstrap: str, source: str, target: str, group: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    settings = Settings(kafka_bootstrap_servers=bootstrap)
    consumer = new_consumer(
        settings,
        source,
        client_id="porgate-bench-relay",
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=settings.consumer_max_records,
        fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
        fetch_min_bytes=settings.consumer_fetch_min_bytes,
    )
    producer = await start_producer(settings)
    await consumer.start()
    print("READY", flush=True)
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=50, max_records=settings.consumer_max_records)
            futures = [
                await producer.send(target, r.value, key=r.key)
                for records in batch.values()
                for r in records
            ]
            if futures:
                await asyncio.gather(*futures)
                await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(
            "usage: python3 -m benchmarks.relay_proc BOOTSTRAP SOURCE_TOPIC TARGET_TOPIC GROUP"
        )
    asyncio.run(relay(*sys.argv[1:]))
