"""The workload and what comes back: DemoWorld's orders and registry, publishing them, reading
the decisions, and the mix of both (every error code must show up).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

import asyncpg
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import NewTopic

from benchmarks.processes import SERVICES, Ctx, db_url, start_services, stop_all
from benchmarks.stats import latency_summary
from contracts.errors import ErrorCode
from contracts.topics import PARTNER_REGISTRY
from services.common.kafka_clients import new_admin, new_consumer, new_producer
from services.devtools.demo import Message
from services.settings import Settings

try:  # the load generator's own parsing should cost as little CPU as it can
    import orjson

    json_loads = orjson.loads
except ImportError:  # pragma: no cover
    json_loads = json.loads

_PLA_SHAPE = re.compile(r"[0-9]{5,10}")


def order_mix(orders: Sequence[Message]) -> dict:
    lines = Counter()
    kinds = Counter()
    dists = Counter()
    for m in orders:
        d = json_loads(m.value)["data"]
        lines[len(d["lineItems"])] += 1
        dists[d["distributorId"]] += 1
        for li in d["lineItems"]:
            pid = li.get("partnerIdOnRecord")
            if pid is None:
                kinds["missing"] += 1
            elif not _PLA_SHAPE.fullmatch(pid.strip()):
                kinds["malformed"] += 1
            elif pid.startswith("5"):
                kinds["PGA (global account, not a PLA)"] += 1
            else:
                kinds["PLA"] += 1
    return {
        "orders": len(orders),
        "lines": sum(n * c for n, c in lines.items()),
        "orders_by_line_count": {str(k): v for k, v in sorted(lines.items())},
        "orders_by_distributor": dict(sorted(dists.items())),
        "partner_id_on_record": dict(kinds.most_common()),
        "bytes_per_order_avg": round(sum(len(m.value) for m in orders) / len(orders)),
    }


def decision_mix(values: list[bytes]) -> dict:
    outcomes, basis, orders_with, lines_with = Counter(), Counter(), Counter(), Counter()
    multi_line_blocked = 0
    for v in values:
        d = json_loads(v)["data"]
        outcomes[d["outcome"]] += 1
        basis[d["basis"]] += 1
        orders_with.update(set(d["errorCodes"]))
        for line in d["lines"]:
            lines_with.update(line["errorCodes"])
        if len(d["lines"]) > 1 and d["outcome"] == "blocked":
            multi_line_blocked += 1
    missing = [f"{int(c)} {c.name}" for c in ErrorCode if orders_with.get(int(c), 0) == 0]
    return {
        "decisions": len(values),
        "outcomes": dict(outcomes.most_common()),
        "basis": dict(basis.most_common()),
        "error_codes": {
            f"{int(c)} {c.name}": {
                "orders": orders_with.get(int(c), 0),
                "lines": lines_with.get(int(c), 0),
            }
            for c in ErrorCode
        },
        "multi_line_orders_blocked": multi_line_blocked,
        "every_error_code_present": not missing,
        "missing_error_codes": missing,
    }


def load_producer(bootstrap: str) -> AIOKafkaProducer:
    # porgate's producer, without linger: each order leaves when it is handed over, so the
    # time it was handed over is the time latency counts from.
    # Not idempotent: it stands in for upstream commerce, not for porgate (whose producers
    # are idempotent where the broker grants it, `start_producer`).
    return new_producer(Settings(kafka_bootstrap_servers=bootstrap), idempotent=False, linger_ms=0)


async def create_plain_topics(bootstrap: str, names: list[str], partitions: int) -> None:
    admin = new_admin(Settings(kafka_bootstrap_servers=bootstrap), client_id="porgate-bench")
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(n, num_partitions=partitions, replication_factor=1) for n in names]
        )
    finally:
        await admin.close()


class Collector:
    """Reads a topic from its beginning (every partition assigned, no group) and records, per
    key, when this process received the record, the record's own timestamp, and its value."""

    def __init__(self, bootstrap: str, topic: str, *, timestamps_only: bool = False) -> None:
        self.topic = topic
        self.consumer = new_consumer(
            Settings(kafka_bootstrap_servers=bootstrap),
            client_id="porgate-bench",
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            # A reader of record timestamps only can fetch rarely, and load the broker (which
            # the services share) little; the decisions reader times what it receives.
            fetch_max_wait_ms=500 if timestamps_only else 10,
            fetch_min_bytes=256 * 1024 if timestamps_only else 1,
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        self.seen: dict[str, tuple[float, float, bytes]] = {}
        self.records = 0
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        await self.consumer.start()
        partitions = None
        for _ in range(100):
            partitions = self.consumer.partitions_for_topic(self.topic)
            if partitions:
                break
            await self.consumer._client.force_metadata_update()
            await asyncio.sleep(0.1)
        if not partitions:
            raise RuntimeError(f"no partitions for {self.topic}")
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self.consumer.assign(tps)
        await self.consumer.seek_to_beginning(*tps)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=100, max_records=5000)
            now = time.time()
            for records in batch.values():
                self.records += len(records)
                for r in records:
                    key = r.key.decode() if r.key is not None else ""
                    if key not in self.seen:
                        self.seen[key] = (now, r.timestamp / 1000.0, r.value)

    async def wait_for(self, keys: Sequence[str], *, stall_s: float, on_progress=None) -> bool:
        """Until every key was seen; False when nothing new arrived for `stall_s` seconds."""
        last_count, last_change = -1, time.monotonic()
        while True:
            if self._task is not None and self._task.done():
                self._task.result()
            count = (
                sum(1 for k in keys if k in self.seen) if len(keys) < 2000 else self._count(keys)
            )
            if on_progress is not None:
                on_progress(count)
            if count >= len(keys):
                return True
            if count != last_count:
                last_count, last_change = count, time.monotonic()
            elif time.monotonic() - last_change > stall_s:
                return False
            await asyncio.sleep(0.05)

    def _count(self, keys: Sequence[str]) -> int:
        # Cheap when almost nothing or everything has arrived; exact either way.
        seen = self.seen
        return (
            len(keys)
            if len(seen) >= len(keys) and all(k in seen for k in keys)
            else sum(k in seen for k in keys)
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.consumer.stop()


async def publish(
    producer: AIOKafkaProducer, topic: str, messages: Sequence[Message], rate: float | None
) -> dict:
    """Send every message (key = its key); at `rate` per second on a fixed schedule, or flat out.
    Returns the time each key was handed to the producer and how precise the pacing was."""
    sent: dict[str, float] = {}
    lag: list[float] = []
    futures = []
    t0 = time.perf_counter()
    wall0 = time.time()
    for i, m in enumerate(messages):
        if rate:
            due = t0 + i / rate
            delay = due - time.perf_counter()
            if delay > 0.0005:
                await asyncio.sleep(delay)
            lag.append(max(0.0, time.perf_counter() - due))
        elif i % 200 == 0:
            await asyncio.sleep(0)  # let the collector read while we push
        sent[m.key] = wall0 + (time.perf_counter() - t0)
        futures.append(await producer.send(topic, m.value, key=m.key.encode()))
    await producer.flush()
    await asyncio.gather(*futures)
    elapsed = time.perf_counter() - t0
    out = {
        "messages": len(messages),
        "seconds": round(elapsed, 2),
        "achieved_rate_per_s": round(len(messages) / elapsed, 1),
    }
    if rate:
        lag.sort()
        out["pacing"] = {"target_rate_per_s": rate, "schedule_lag": latency_summary(lag)}
    return {"sent": sent, "summary": out}


async def dlq_count(bootstrap: str, topic: str) -> int:
    consumer = new_consumer(
        Settings(kafka_bootstrap_servers=bootstrap), client_id="porgate-bench", group_id=None
    )
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        if not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in parts]
        if not tps:
            return 0
        ends = await consumer.end_offsets(tps)
        starts = await consumer.beginning_offsets(tps)
        return sum(ends[tp] - starts[tp] for tp in tps)
    finally:
        await consumer.stop()


async def load_registry(ctx: Ctx, registry: Sequence[Message]) -> dict:
    """DemoWorld's registry through por-validator's projection into the template database."""
    from services.catalog import build_services
    from services.common.db import migrate
    from services.common.topic_creation import create_topics

    admin = await asyncpg.connect(ctx.admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{ctx.template_db}"')
    finally:
        await admin.close()
    url = db_url(ctx.admin_url, ctx.template_db)
    for service in build_services(SERVICES, Settings(database_url=url)):
        await migrate(url, service.schema, service.migrations)
    prefix = f"{ctx.run_id}-registry."
    await create_topics(ctx.bootstrap, prefix=prefix)
    procs = await start_services(
        ctx, "registry", ["por-validator"], prefix=prefix, database_url=url
    )
    producer = load_producer(ctx.bootstrap)
    await producer.start()
    conn = await asyncpg.connect(url)
    try:
        t0 = time.perf_counter()
        futures = [
            await producer.send(prefix + PARTNER_REGISTRY.name, m.value, key=m.key.encode())
            for m in registry
        ]
        await producer.flush()
        await asyncio.gather(*futures)
        published = time.perf_counter() - t0
        last, last_change = -1, time.monotonic()
        while True:
            n = await conn.fetchval("SELECT count(*) FROM por_validator.inbox")
            if n >= len(registry):
                break
            if n != last:
                last, last_change = n, time.monotonic()
            elif time.monotonic() - last_change > 60:
                raise RuntimeError(f"registry projection stalled at {n}/{len(registry)} events")
            await asyncio.sleep(0.2)
        elapsed = time.perf_counter() - t0
        counts = dict(
            await conn.fetchrow(
                "SELECT (SELECT count(*) FROM por_validator.distributors) AS distributors,"
                " (SELECT count(*) FROM por_validator.partner_accounts) AS partner_accounts,"
                " (SELECT count(*) FROM por_validator.reseller_tenants) AS reseller_tenants,"
                " (SELECT count(*) FROM por_validator.partnerships) AS partnerships"
            )
        )
        pg = dict(
            await conn.fetchrow(
                "SELECT current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS synchronous_commit,"
                " current_setting('shared_buffers') AS shared_buffers, current_setting('server_version') AS version"
            )
        )
    finally:
        await conn.close()
        await producer.stop()
        await stop_all(procs)
    return {
        "events": len(registry),
        "published_in_s": round(published, 2),
        "projected_in_s": round(elapsed, 2),
        "events_per_s": round(len(registry) / elapsed),
        "rows": counts,
        "postgres_settings": pg,
    }


def reissued(messages: list, tag: str) -> list:
    """The same orders as new events: new event and order ids, the same lines."""
    out = []
    for m in messages:
        event = json.loads(m.value)
        event["id"] = f"{event['id']}-{tag}"
        order_id = event["data"]["orderId"] = f"{event['data']['orderId']}-{tag}"
        event["subject"] = order_id
        out.append(replace(m, key=order_id, value=json.dumps(event).encode()))
    return out
