"""PostgreSQL stops in the middle of a stream and comes back: por-validator waits and retries
(order-intake, with no database effect, goes on asking),
commit no offset past work that is not durable, lose nothing and do nothing twice, and
/healthz says so: 503 from por-validator while it is down, degraded (200) from order-intake,
which keeps working, and 200 "ok" from both once it is back."""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from services.common.kafka_security import client_options
from tests.reliability import world as W
from tests.reliability.harness import Kafka, eventually, fetch, fetchval, note, read_topic, tally

N_ORDERS = 1500
OUTAGE_S = 6.0
# (consumer group, topic it reads, schema of its inbox); schema names are constants.
GROUPS = [("porgate.por-validator.requests", W.REQUESTS, "por_validator")]
# order-intake's consumer has no effect but the request it sends (messages_only): it goes on
# asking while the database is down.
INTAKE = ("porgate.order-intake.orders", W.ORDERS)


async def committed_offsets(settings, group: str, topic: str, partitions: int) -> dict[int, int]:
    """The consumer group's committed offsets, read as the group's own coordinator sees them."""
    consumer = AIOKafkaConsumer(
        **client_options(settings), group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        out = {}
        for p in range(partitions):
            out[p] = await consumer.committed(TopicPartition(settings.topic_prefix + topic, p)) or 0
        return out
    finally:
        await consumer.stop()


async def healthz(proc) -> tuple[int, dict]:
    try:
        r = await proc.get("/healthz", timeout=8)
        return r.status_code, r.json()
    except Exception as exc:  # noqa: BLE001 - not answering is a result too
        return 0, {"error": repr(exc)}


async def test_database_outage_mid_stream_loses_nothing_doubles_nothing_and_health_says_so(
    migrated, procs, postgres
):
    settings = migrated
    server = postgres[1]
    if server is None:
        pytest.skip(
            "PostgreSQL comes from PORGATE_DATABASE_URL or testcontainers: this test cannot stop and "
            "start it; it runs on the embedded PostgreSQL"
        )
    orders = list(W.orders(N_ORDERS, "pg"))
    by_event_id = {e["id"]: e for _, e in orders}

    async with Kafka(settings) as kafka:
        intake = procs.spawn("order-intake", health=True)
        validator = procs.spawn("por-validator", health=True)
        await kafka.send_many(W.REGISTRY, W.registry())

        async def loaded():
            return (
                await fetchval(settings, "SELECT count(*) FROM por_validator.partner_accounts") >= 8
            )

        await eventually(loaded, 60, what="registry loaded", describe=procs.report)
        for p in (intake, validator):
            status, body = await healthz(p)
            assert status == 200, body

        async def stream() -> None:
            for start in range(0, N_ORDERS, 50):
                await kafka.send_many(W.ORDERS, orders[start : start + 50])
                await asyncio.sleep(0.1)

        streaming = asyncio.create_task(stream())

        async def some_decided():
            n = await fetchval(settings, "SELECT count(*) FROM por_validator.decisions")
            return n >= 200 and n

        decided_before = await eventually(
            some_decided, 60, what="first decisions", describe=procs.report
        )
        await asyncio.to_thread(server.pause)
        down_at = time.monotonic()
        intake_at_start = await committed_offsets(
            settings, settings.topic_prefix + INTAKE[0], INTAKE[1], 2
        )
        # Nothing can commit from here on (the server and the test share this host's clock).
        stopped_at = datetime.now(UTC)
        try:
            # Both processes notice, and say so: por-validator cannot work, order-intake can.
            for p, code, said in ((validator, 503, "unhealthy"), (intake, 200, "degraded")):

                async def noticed(p=p, code=code, said=said):
                    status, body = await healthz(p)
                    return status == code and body.get("status") == said and body

                body = await eventually(noticed, 15, what=f"{p.label} /healthz {code} {said}")
                assert any(
                    k.startswith("database") and v != "ok" for k, v in body["checks"].items()
                ), body
                assert body["checks"]["broker"] == "ok", body
            # What the groups have committed while the database is down: only durable work.
            offsets_down = {
                (topic, schema): await committed_offsets(
                    settings, settings.topic_prefix + group, topic, 2
                )
                for group, topic, schema in GROUPS
            }
            await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
            for p in (intake, validator):
                assert p.alive, f"{p.label} died while the database was down:\n{p.tail()}"
            intake_at_end = await committed_offsets(
                settings, settings.topic_prefix + INTAKE[0], INTAKE[1], 2
            )
        finally:
            await asyncio.to_thread(server.resume)
        outage_s = time.monotonic() - down_at

        for p in (intake, validator):

            async def healthy(p=p):
                status, body = await healthz(p)
                return status == 200 and body.get("status") == "ok"

            await eventually(healthy, 30, what=f"{p.label} /healthz 200 again")

        await streaming

        async def all_decided():
            return (
                await fetchval(settings, "SELECT count(*) FROM por_validator.decisions") >= N_ORDERS
            )

        await eventually(
            all_decided,
            90,
            interval=0.5,
            what="every order decided after the outage",
            describe=procs.report,
        )
        await asyncio.sleep(1.0)
        retries = {p.label: await p.metric("porgate_retries_total") for p in (intake, validator)}
        procs.check_alive()

    # Nothing lost, nothing doubled.
    rows = await fetch(
        settings, "SELECT order_id, source_event_id, error_codes FROM por_validator.decisions"
    )
    assert len(rows) == N_ORDERS and len({r["order_id"] for r in rows}) == N_ORDERS
    for r in rows:
        assert list(r["error_codes"]) == W.expected_codes(by_event_id[r["source_event_id"]])
    assert (
        await fetchval(
            settings,
            "SELECT count(*) FROM por_validator.inbox"
            " WHERE event_type = 'por.validation.requested.v1'",
        )
        == N_ORDERS
    )
    records = await read_topic(
        settings,
        W.DECISIONS,
        lambda rs: len({json.loads(r.value)["data"]["decisionId"] for r in rs}) >= N_ORDERS,
    )
    per_order = defaultdict(set)
    for r in records:
        d = json.loads(r.value)["data"]
        per_order[d["orderId"]].add((d["decisionId"], d["outcome"]))
    assert set(per_order) == {o for o, _ in orders}
    assert all(len(v) == 1 for v in per_order.values()), "an order decided twice"
    assert await fetchval(settings, "SELECT count(*) FROM por_validator.outbox") == 0

    # Offsets committed during the outage cover only events made durable before it began.
    covered = 0
    for (topic, schema), offsets in offsets_down.items():
        records = await read_topic(settings, topic, lambda rs: len(rs) >= N_ORDERS)
        processed_at = {
            r["event_id"]: r["processed_at"]
            for r in await fetch(settings, f"SELECT event_id, processed_at FROM {schema}.inbox")
        }
        for rec in records:
            if rec.offset < offsets[rec.partition]:
                event_id = json.loads(rec.value)["id"]
                done = processed_at.get(event_id)
                assert done is not None and done < stopped_at, (
                    f"{topic} {rec.partition}:{rec.offset}: offset committed during the outage, but the event was "
                    f"{'never processed' if done is None else 'processed only after it'}"
                )
                covered += 1
    # order-intake went on asking through the outage; por-validator waited and retried.
    asked = sum(intake_at_end.values()) - sum(intake_at_start.values())
    assert asked > 0, f"order-intake asked nothing while the database was down: {intake_at_end}"
    assert retries["por-validator"] > 0, f"no retries counted: {retries}"

    tally(
        **{
            "events pushed": N_ORDERS + len(W.registry()),
            "faults injected": 1,
            "lost": 0,
            "decided twice": 0,
        }
    )
    note(
        f"database outage: PostgreSQL stopped {outage_s:.1f}s after {decided_before}/{N_ORDERS} orders were "
        f"decided; /healthz: por-validator 503, order-intake degraded, then both ok; order-intake asked for {asked} decisions meanwhile; "
        f"{covered} offsets committed before the outage, none past unprocessed work; retries counted {retries}; "
        f"every order decided once"
    )
