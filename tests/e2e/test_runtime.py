"""The consumer runtime itself: poison messages, transient failures, graceful shutdown."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.codec import decode
from contracts.topics import DLQ, ORDERS
from services.common import outbox, pipeline
from services.common.app import build_app
from services.common.db import migrate
from services.common.kafka_security import client_options
from services.common.ports import free_port
from services.common.service import Consumer, Outgoing, Service
from services.order_intake.handlers import on_orders_placed
from tests.e2e import registry_data as R
from tests.support import Bus, eventually, running


def recording_service(tmp_path, fail: dict[str, int]) -> Service:
    """A service whose handler records orders, and fails for the order ids in `fail`:
    with ValueError (never succeeds) when the count is -1, else with ConnectionError that many times."""
    (tmp_path / "001_seen.sql").write_text("CREATE TABLE seen (order_id text PRIMARY KEY);")

    async def handle(events, uow):
        for event in events:
            oid = event.data.order_id
            if fail.get(oid) == -1:
                raise ValueError(f"cannot handle {oid}")
            if fail.get(oid, 0) > 0:
                fail[oid] -= 1
                raise ConnectionResetError("database went away")
            await uow.conn.execute("INSERT INTO seen VALUES ($1)", oid)
        return [[] for _ in events]

    return Service(
        name="rt-test",
        schema="rt_test",
        migrations=tmp_path,
        consumers=(Consumer("orders", (ORDERS,), handle),),
    )


async def test_poison_is_dead_lettered_transient_is_retried_and_the_rest_carries_on(
    settings, tmp_path
):
    settings = settings.model_copy(update={"poison_attempts": 3})
    fail = {"ord-poison": -1, "ord-flaky": 2}
    service = recording_service(tmp_path, fail)
    await migrate(settings.database_url, service.schema, service.migrations)
    app, _ = build_app([service], settings)
    async with Bus(settings) as bus:
        for oid in ("ord-1", "ord-poison", "ord-flaky", "ord-2"):
            await bus.send("csp.orders.v1", R.order(oid, R.VALID), key="same-partition")
        await app.start()
        try:
            conn = await asyncpg.connect(settings.database_url)
            try:

                async def all_seen():
                    return await conn.fetchval("SELECT count(*) FROM rt_test.seen") == 3

                await eventually(all_seen)
                seen = {r[0] for r in await conn.fetch("SELECT order_id FROM rt_test.seen")}
                assert (
                    await conn.fetchval("SELECT count(*) FROM rt_test.inbox") == 3
                )  # the poison left no trace
            finally:
                await conn.close()
            dead = await bus.read("por.dlq.v1", lambda rs: len(rs) >= 1, settle=1.0)
        finally:
            await app.stop()
    assert seen == {"ord-1", "ord-flaky", "ord-2"}
    assert len(dead) == 1
    headers = {k: v.decode() for k, v in dead[0].headers}
    assert (
        headers["x-dlq-error"]
        == "processing failed after 3 attempts: ValueError: cannot handle ord-poison"
    )
    assert fail["ord-flaky"] == 0  # retried through both transient failures


async def test_a_batch_split_across_transactions_keeps_each_keys_order_and_each_event_once(
    settings, tmp_path
):
    """A backlog over many partitions, taken in batches big enough to split: the batch's
    transactions run side by side, and still every event has one effect, each key's in
    the order they were sent."""
    (tmp_path / "001_seen.sql").write_text(
        "CREATE TABLE seen (at bigserial, order_id text PRIMARY KEY, key text, seq int);"
    )
    running_now, most = 0, 0

    async def handle(events, uow):
        nonlocal running_now, most
        running_now += 1
        most = max(most, running_now)
        try:
            for event in events:
                key, seq = event.data.order_id.removeprefix("ord-split-").split("-")
                await uow.conn.execute(
                    "INSERT INTO seen (order_id, key, seq) VALUES ($1, $2, $3)",
                    event.data.order_id,
                    key,
                    int(seq),
                )
            return [[] for _ in events]
        finally:
            running_now -= 1

    service = Service(
        name="rt-split",
        schema="rt_split",
        migrations=tmp_path,
        consumers=(Consumer("orders", (ORDERS,), handle),),
    )
    await migrate(settings.database_url, service.schema, service.migrations)
    keys, per_key = 40, 15
    app, _ = build_app([service], settings.model_copy(update={"consumer_concurrency": 2}))
    async with Bus(settings) as bus:
        for seq in range(per_key):
            for k in range(keys):
                oid = f"ord-split-k{k}-{seq}"
                await bus.send("csp.orders.v1", R.order(oid, R.VALID), key=f"k{k}")
        await app.start()
        try:
            conn = await asyncpg.connect(settings.database_url)
            try:

                async def all_seen():
                    return (
                        await conn.fetchval("SELECT count(*) FROM rt_split.seen") == keys * per_key
                    )

                await eventually(all_seen, timeout=60)
                rows = await conn.fetch("SELECT key, seq FROM rt_split.seen ORDER BY at")
            finally:
                await conn.close()
        finally:
            await app.stop()
    assert most == 2, "the batches were never split"
    by_key: dict[str, list[int]] = {}
    for row in rows:
        by_key.setdefault(row["key"], []).append(row["seq"])
    assert by_key == {f"k{k}": list(range(per_key)) for k in range(keys)}


async def intake_service(settings, tmp_path, *, messages_only: bool) -> Service:
    """order-intake's handler as a consumer with a transaction (inbox, outbox), or as the
    messages_only consumer order-intake runs, in a schema of its own."""
    service = Service(
        name="rt-intake",
        schema="rt_intake",
        migrations=tmp_path,
        consumers=(Consumer("orders", (ORDERS,), on_orders_placed, messages_only=messages_only),),
    )
    await migrate(settings.database_url, service.schema, service.migrations)
    return service


@pytest.mark.parametrize("messages_only", [False, True], ids=["transaction", "messages-only"])
async def test_a_batch_whose_publishing_fails_comes_again_and_nothing_is_lost_or_doubled(
    settings, tmp_path, messages_only
):
    service = await intake_service(settings, tmp_path, messages_only=messages_only)
    app, runtimes = build_app([service], settings)
    oids = [f"ord-pub-{i}" for i in range(4)]
    async with Bus(settings) as bus:
        await app.start()
        try:
            runtime = runtimes[0]
            for oid in oids[:3]:
                await bus.send("csp.orders.v1", R.order(oid, R.VALID), key=oid)
            await bus.events("por.validation-requests.v1", 3)
            publish, calls = runtime.outbox.publish, []

            async def breaks_once(rows):
                calls.append(len(rows))
                if len(calls) == 1:
                    raise RuntimeError("publishing broke after the transaction committed")
                return await publish(rows)

            # The last batch, with no later batch to notice its failure: it must rewind itself.
            runtime.outbox.publish = breaks_once
            await bus.send("csp.orders.v1", R.order(oids[3], R.VALID), key=oids[3])
            requests = await bus.events("por.validation-requests.v1", len(oids), settle=2.0)
            async with runtime.pool.acquire() as conn:
                assert await conn.fetchval("SELECT count(*) FROM outbox") == 0
                claimed = await conn.fetchval("SELECT count(*) FROM inbox")
        finally:
            await app.stop()
    # The failed batch came again: with a transaction, the inbox made it a duplicate whose
    # outbox row, still unsent, was sent then; without, the handler made the same message
    # again. Either way, each request exactly once.
    assert calls == [1, 1]
    assert sorted(r["data"]["orderId"] for r in requests) == oids
    assert claimed == (0 if messages_only else len(oids))


async def test_sigterm_stops_a_service_cleanly(migrated):
    settings = migrated
    port = free_port()
    env = {
        **os.environ,
        "PORGATE_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "PORGATE_DATABASE_URL": settings.database_url,
        "PORGATE_TOPIC_PREFIX": settings.topic_prefix,
        "PORGATE_HEALTH_PORT": str(port),
        "PORGATE_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "run", "order-intake"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        async with httpx.AsyncClient() as client:

            async def ready():
                try:
                    return (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(ready, timeout=60)
        async with Bus(settings) as bus:
            await bus.send("csp.orders.v1", R.order("ord-before-stop", R.VALID), key="k")
            await bus.events("por.validation-requests.v1", 1)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, _ = await asyncio.to_thread(proc.communicate, timeout=30)
        assert proc.returncode == 0, out.decode()[-2000:]
        assert time.monotonic() - started < 20
    finally:
        if proc.poll() is None:
            proc.kill()


async def test_housekeeping_prunes_only_what_is_old_and_done(settings, tmp_path):
    service = await intake_service(settings, tmp_path, messages_only=False)
    app, runtimes = build_app([service], settings)
    await app.start()
    try:
        async with Bus(settings) as bus:
            runtime = runtimes[0]
            for oid in ("ord-old", "ord-new"):
                await bus.send(
                    "csp.orders.v1", R.order(oid, R.VALID, event_id=f"evt-{oid}"), key=oid
                )
            await bus.events("por.validation-requests.v1", 2)
            async with runtime.pool.acquire() as conn:
                await conn.execute(
                    "UPDATE inbox SET processed_at = now() - interval '91 days' WHERE event_id = 'evt-ord-old'"
                )
                # Published rows leave the outbox as soon as the broker has them.
                assert await eventually(lambda: conn.fetchval("SELECT count(*) = 0 FROM outbox"))
                await conn.execute(
                    "INSERT INTO outbox (source_event_id, topic, value, created_at)"
                    " VALUES ('unsent', 'x', 'x', now() - interval '30 days')"
                )
                # A row the previous release marked sent, during a rollout.
                await conn.execute(
                    "INSERT INTO outbox (source_event_id, topic, value, published_at)"
                    " VALUES ('marked', 'x', 'x', now())"
                )
                assert await runtime.prune() == (1, 1)
                assert await conn.fetchval("SELECT count(*) FROM inbox") == 1
                # Unpublished rows stay, however old: they are still owed to the broker.
                assert (
                    await conn.fetchval(
                        "SELECT count(*) FROM outbox WHERE source_event_id = 'unsent'"
                    )
                    == 1
                )
    finally:
        await app.stop()


async def test_sending_what_a_crash_left_ends_while_other_instances_keep_writing(migrated):
    """At start, a service sends the outbox rows a crash left unsent. Other instances of the
    service write (and soon delete) rows in the same table all the while; the sending must
    still end, having sent every row that was there when it began."""
    settings = migrated
    async with Bus(settings) as bus, running(settings, ["order-intake"]) as (runtime,):
        left = [f"crash-{i}" for i in range(5)]

        def outgoing(oid: str) -> Outgoing:
            event = decode(json.dumps(R.order(oid, R.VALID)).encode(), ORDERS.name)
            return Outgoing(DLQ, oid, event)

        async with runtime.pool.acquire() as conn, conn.transaction():
            await outbox.write(conn, [(oid, outgoing(oid)) for oid in left])
        stop = asyncio.Event()

        async def another_instance(name: str) -> None:
            # Busy: rows written in batches by several writers are (almost) always there.
            n = 0
            while not stop.is_set():
                batch = [f"{name}-{n}-{i}" for i in range(20)]
                async with runtime.pool.acquire() as conn, conn.transaction():
                    await outbox.write(conn, [(oid, outgoing(oid)) for oid in batch])
                n += 1
                await asyncio.sleep(0)

        writers = [asyncio.create_task(another_instance(f"other{w}")) for w in range(3)]
        try:
            sent = await asyncio.wait_for(runtime.outbox.publish_pending(), timeout=20)
        finally:
            stop.set()
            await asyncio.gather(*writers)
        assert sent >= len(left)
        dead = await bus.read("por.dlq.v1", lambda rs: {r.key.decode() for r in rs} >= set(left))
        assert {r.key.decode() for r in dead} >= set(left)


async def test_a_clean_stop_commits_the_offsets_of_everything_it_processed(migrated, monkeypatch):
    """Offsets are committed in bulk, off the path of the next batch; stopping must still
    commit them all, so the next start redelivers nothing."""
    # Long enough that the second wave's offsets are still waiting when the service stops.
    monkeypatch.setattr(pipeline, "BOOKKEEPING_EVERY_S", 60.0)
    settings = migrated
    waves = [[f"ord-stop-{w}-{i}" for i in range(6)] for w in range(2)]
    async with Bus(settings) as bus:
        async with running(settings, ["order-intake"]):
            for n, wave in enumerate(waves, start=1):
                for oid in wave:
                    await bus.send("csp.orders.v1", R.order(oid, R.VALID), key=oid)
                await bus.events("por.validation-requests.v1", 6 * n)
        group = f"{settings.topic_prefix}porgate.order-intake.orders"
        topic = settings.topic_prefix + ORDERS.name
        consumer = AIOKafkaConsumer(**client_options(settings), group_id=group)
        await consumer.start()
        try:
            # The tests' topics have two partitions (tests/conftest.py).
            partitions = [TopicPartition(topic, p) for p in range(2)]
            ends = await consumer.end_offsets(partitions)
            committed = {tp: await consumer.committed(tp) for tp in partitions}
        finally:
            await consumer.stop()
    assert sum(ends.values()) == 12
    assert committed == ends


async def test_with_compression_the_services_batches_reach_any_consumer(migrated):
    """PORGATE_PRODUCER_COMPRESSION: the codec is installed, the broker takes the compressed
    batches, and a consumer with no setting of its own reads them."""
    settings = migrated.model_copy(update={"producer_compression": "zstd"})
    async with Bus(migrated) as bus, running(settings, ["order-intake"]) as (runtime,):
        assert runtime.outbox.producer._compression_type == "zstd"
        await bus.send("csp.orders.v1", R.order("ord-zstd", R.VALID), key="ord-zstd")
        requests = await bus.events("por.validation-requests.v1", 1)
    assert [r["data"]["orderId"] for r in requests] == ["ord-zstd"]
