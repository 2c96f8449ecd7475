"""On-call replays against the real broker and PostgreSQL: DLQ redrive, topic slices, re-validation."""

import asyncio
import json
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
import typer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from typer.testing import CliRunner

from contracts.ids import decision_id_for
from services.cli import dlq
from services.cli import replay as replay_commands
from services.common.kafka_security import client_options
from services.ops.dead_letters import list_dead_letters, redrive
from services.ops.replay import replay_topic
from services.ops.revalidate import revalidate
from services.ops.topic_io import partition_offsets, reader
from services.settings import get_settings
from tests.e2e import registry_data as R
from tests.e2e.test_orders import SERVICES, load_registry, registry_loaded
from tests.support import Bus, envelope, eventually, running

ORDERS = "csp.orders.v1"


@pytest.fixture
def cli(settings, monkeypatch):
    """Run a `porgate dlq|replay` command line against this test's servers, off the event loop."""
    monkeypatch.setenv("PORGATE_KAFKA_BOOTSTRAP_SERVERS", settings.kafka_bootstrap_servers)
    monkeypatch.setenv("PORGATE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("PORGATE_TOPIC_PREFIX", settings.topic_prefix)
    get_settings.cache_clear()
    app = typer.Typer()
    app.add_typer(dlq.app, name="dlq")
    app.add_typer(replay_commands.app, name="replay")

    async def invoke(*args: str):
        # The commands call asyncio.run(), so they get a thread (and a loop) of their own.
        result = await asyncio.to_thread(CliRunner().invoke, app, list(args))
        assert result.exit_code == 0, (result.output, result.exception)
        return result

    yield invoke
    get_settings.cache_clear()


async def end_offsets(settings, topic: str) -> dict[int, int]:
    async with reader(settings) as consumer:
        return (await partition_offsets(consumer, settings.topic_prefix + topic))[1]


async def create_topic(settings, topic: str) -> None:
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(settings.topic_prefix + topic, 2, 1)])
    finally:
        await admin.close()


async def count(settings, sql: str, *args) -> int:
    conn = await asyncpg.connect(settings.database_url)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


def dlq_headers(settings, source_offset: int) -> list[tuple[str, bytes]]:
    return [
        (k, v.encode())
        for k, v in (
            ("content-type", "application/cloudevents+json"),
            ("x-dlq-source-topic", ORDERS),
            ("x-dlq-source-partition", "0"),
            ("x-dlq-source-offset", str(source_offset)),
            ("x-dlq-consumer-group", f"{settings.topic_prefix}porgate.order-intake.orders"),
            ("x-dlq-error", "processing failed after 3 attempts: ConnectionRefusedError"),
            ("x-dlq-failed-at", (datetime.now(UTC) - timedelta(hours=2)).isoformat()),
        )
    ]


async def test_dead_letters_are_listed_and_redriven_with_one_effect(migrated, cli):
    settings = migrated
    prefix = settings.topic_prefix
    async with Bus(settings) as bus, running(settings, SERVICES):
        await bus.send(ORDERS, b"{not json", key="bad-1")
        await bus.send(
            ORDERS,
            json.dumps(envelope("csp.order.placed.v1", {"orderId": "o"})).encode(),
            key="bad-2",
        )
        # A valid order that was dead-lettered during a database outage, say: a poison message no more.
        poison = json.dumps(R.order("ord-poison", R.UNKNOWN)).encode()
        await bus.producer.send_and_wait(
            prefix + "por.dlq.v1",
            poison,
            key=b"ord-poison",
            headers=dlq_headers(settings, 99),
            partition=0,
        )
        letters = await eventually(lambda: _letters(settings, 3))
        by_key = {d.key_text: d for d in letters}
        assert by_key["bad-1"].error.startswith("not JSON")
        assert by_key["bad-2"].error.startswith("csp.order.placed.v1: data.")
        assert {d.source_topic for d in letters} == {ORDERS}
        assert {d.consumer_group for d in letters} == {f"{prefix}porgate.order-intake.orders"}
        assert by_key["ord-poison"].summary(datetime.now(UTC))["age"].startswith("2h")
        assert await list_dead_letters(settings, source_topic="csp.subscription-changes.v1") == []
        # With a limit, only each partition's tail is read: the same newest letters as reading all.
        for limit in (1, 2, 3):
            newest = sorted(letters, key=lambda d: (d.timestamp_ms, d.partition, d.offset))
            assert {(d.partition, d.offset) for d in newest[-limit:]} == {
                (d.partition, d.offset) for d in await list_dead_letters(settings, limit=limit)
            }

        listed = json.loads((await cli("dlq", "list", "--json")).stdout)
        assert sorted(d["key"] for d in listed) == ["bad-1", "bad-2", "ord-poison"]
        target = by_key["ord-poison"]
        shown = (
            await cli("dlq", "inspect", str(target.offset), "--partition", str(target.partition))
        ).stdout
        assert "x-dlq-error" in shown and '"orderId": "ord-poison"' in shown

        before = await end_offsets(settings, ORDERS)
        dry = await redrive(settings, dry_run=True)
        assert (len(dry.selected), dry.sent) == (3, 0)
        assert await end_offsets(settings, ORDERS) == before

        progress = []
        done = await redrive(
            settings, rate=100, on_progress=lambda n, total: progress.append((n, total))
        )
        assert done.sent == 3 and progress[-1] == (3, 3)
        decisions = await bus.events("por.decisions.v1", 1)
        assert decisions[0]["data"]["orderId"] == "ord-poison"
        # Still malformed: dead-lettered again, marked as redriven.
        again = await eventually(lambda: _letters(settings, 5))
        redriven = [
            d
            for d in again
            if d.offset not in {x.offset for x in letters if x.partition == d.partition}
        ]
        assert sorted(d.key_text for d in redriven) == ["bad-1", "bad-2"]
        assert all(dict(d.headers).get("x-redriven-from-dlq-offset") for d in redriven)

        # The same dead letter once more: the consumers' inbox makes it a no-op.
        assert (
            await redrive(settings, offsets=[target.offset], partition=target.partition)
        ).sent == 1
        # A later order on every partition: once it is decided, the redriven copy was handled.
        for p in before:
            await bus.producer.send_and_wait(
                prefix + ORDERS,
                json.dumps(R.order(f"ord-after-{p}", R.UNKNOWN)).encode(),
                key=b"x",
                partition=p,
            )
        decisions = await bus.events("por.decisions.v1", 1 + len(before), settle=0.5)
    assert sorted(d["data"]["orderId"] for d in decisions) == [
        "ord-after-0",
        "ord-after-1",
        "ord-poison",
    ]
    assert len(await list_dead_letters(settings)) == 5
    assert (
        await count(
            settings, "SELECT count(*) FROM por_validator.decisions WHERE order_id = 'ord-poison'"
        )
        == 1
    )


async def _letters(settings, n):
    letters = await list_dead_letters(settings)
    return letters if len(letters) >= n else None


async def test_topic_slices_are_copied_exactly_and_replays_into_the_source_change_nothing(migrated):
    settings = migrated
    prefix = settings.topic_prefix
    await create_topic(settings, "scratch.copy.v1")
    await create_topic(settings, "scratch.window.v1")
    async with Bus(settings) as bus, running(settings, SERVICES):
        for i in range(6):
            await bus.send(ORDERS, R.order(f"ord-a{i}", R.UNKNOWN), key=f"ord-a{i}")
        await asyncio.sleep(0.05)
        boundary = datetime.now(UTC)
        await asyncio.sleep(0.05)
        for i in range(3):
            await bus.send(ORDERS, R.order(f"ord-b{i}", R.UNKNOWN), key=f"ord-b{i}")
        await bus.events("por.decisions.v1", 9)
        records = await bus.read(ORDERS, lambda rs: len(rs) >= 9)

        # An offset slice of one partition into another topic: the same records, keys and order.
        by_partition = {p: [r for r in records if r.partition == p] for p in (0, 1)}
        p, recs = max(by_partition.items(), key=lambda kv: len(kv[1]))
        wanted = recs[1:]
        result = await replay_topic(
            settings,
            ORDERS,
            target="scratch.copy.v1",
            partitions=[p],
            from_offset=wanted[0].offset,
            to_offset=wanted[-1].offset,
        )
        assert (result.scanned, result.copied) == (len(wanted), len(wanted))
        copies = await bus.read("scratch.copy.v1", lambda rs: len(rs) >= len(wanted), settle=0.3)
        assert [(c.partition, c.key, c.value) for c in copies] == [
            (p, r.key, r.value) for r in wanted
        ]
        assert (
            dict(copies[0].headers)["x-replayed-from"]
            == f"{ORDERS}/{p}/{wanted[0].offset}".encode()
        )

        # A time window, chosen by the records' own timestamps (rate-limited on the way).
        window = await replay_topic(
            settings, ORDERS, target="scratch.window.v1", since=boundary, rate=50
        )
        assert (window.scanned, window.copied) == (9, 3)
        late = await bus.read("scratch.window.v1", lambda rs: len(rs) >= 3, settle=0.3)
        assert sorted(json.loads(r.value)["data"]["orderId"] for r in late) == [
            "ord-b0",
            "ord-b1",
            "ord-b2",
        ]

        before = await end_offsets(settings, ORDERS)
        assert (await replay_topic(settings, ORDERS, dry_run=True)).copied == 9
        assert await end_offsets(settings, ORDERS) == before

        # The whole topic into itself, with the services running: stops at the start's end, decides nothing new.
        again = await replay_topic(settings, ORDERS)
        assert again.copied == 9
        assert sum((await end_offsets(settings, ORDERS)).values()) == 18
        for (
            q
        ) in before:  # a later order per partition: once decided, the replayed copies were handled
            await bus.producer.send_and_wait(
                prefix + ORDERS,
                json.dumps(R.order(f"ord-after-{q}", R.UNKNOWN)).encode(),
                key=b"x",
                partition=q,
            )
        decisions = await bus.events("por.decisions.v1", 9 + len(before), settle=0.5)
    assert len(decisions) == 9 + len(before)
    assert await count(settings, "SELECT count(*) FROM por_validator.decisions") == 9 + len(before)


async def test_revalidation_supersedes_the_blocked_decision_once(migrated, cli):
    # The manual tool, as with Partner Center as the authority or automatic release off.
    settings = migrated.model_copy(update={"auto_release": False})
    prefix = settings.topic_prefix
    async with Bus(settings) as bus, running(settings, SERVICES):
        await load_registry(bus)
        await registry_loaded(settings, 8)
        await bus.send(ORDERS, R.order("ord-susp", R.SUSPENDED_TENANT), key="ord-susp")
        await bus.send(ORDERS, R.order("ord-inactive", R.INACTIVE_PLA), key="ord-inactive")
        await bus.send(ORDERS, R.order("ord-ok", R.VALID), key="ord-ok")
        first = {d["data"]["orderId"]: d["data"] for d in await bus.events("por.decisions.v1", 3)}
        blocked = first["ord-susp"]
        assert blocked["errorCodes"] == [900400]

        dry = await revalidate(settings, code=900400, dry_run=True)
        assert [r.decision_id for r in dry.planned] == [blocked["decisionId"]] and dry.sent == 0
        shown = (await cli("replay", "revalidate", "--code", "900400", "--dry-run")).stdout
        assert "would re-validate 1 transaction(s)" in shown

        # The reseller fixes its tenant.
        later = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
        await bus.send(
            "csp.partner-registry.v1",
            envelope(
                "csp.reseller-tenant.upserted.v1",
                {
                    "resellerTenantId": "ten-suspended",
                    "name": "Tenant ten-suspended",
                    "kind": "csp_indirect_reseller",
                    "status": "active",
                    "indirectResellerAuthorized": True,
                    "country": "DE",
                },
                time_=later,
            ),
            key="ten-suspended",
        )
        await eventually(
            lambda: count(
                settings,
                "SELECT count(*) FROM por_validator.reseller_tenants"
                " WHERE reseller_tenant_id = 'ten-suspended' AND status = 'active'",
            )
        )

        progress = []
        sent = await revalidate(
            settings, code=900400, on_progress=lambda n, t: progress.append((n, t))
        )
        assert sent.sent == 1 and progress[-1] == (1, 1)
        decisions = await bus.events("por.decisions.v1", 4)
        [new] = [d["data"] for d in decisions if d["data"]["supersedesDecisionId"]]
        assert new["orderId"] == "ord-susp" and new["outcome"] == "accepted"
        assert new["supersedesDecisionId"] == blocked["decisionId"]
        assert new["decisionId"] == decision_id_for(blocked["sourceEventId"], blocked["decisionId"])
        assert new["decisionId"] != blocked["decisionId"]

        # Run again: the blocked decision is superseded now, so nothing is sent.
        assert (await revalidate(settings, code=900400)).planned == []
        # And the same request id delivered again is a no-op: send the very same bytes, then a
        # re-validation of the other blocked order behind it on the same partition.
        topic = prefix + "por.validation-requests.v1"
        same = sent.planned[0]
        other = (await revalidate(settings, dry_run=True)).planned
        assert [r.key for r in other] == ["ord-inactive"]
        await bus.producer.send_and_wait(topic, same.value, key=same.key.encode(), partition=0)
        await bus.producer.send_and_wait(
            topic, other[0].value, key=other[0].key.encode(), partition=0
        )
        decisions = await bus.events("por.decisions.v1", 5, settle=0.5)
    superseding = {
        d["data"]["orderId"]: d["data"] for d in decisions if d["data"]["supersedesDecisionId"]
    }
    assert sorted(superseding) == ["ord-inactive", "ord-susp"] and len(decisions) == 5
    assert (
        superseding["ord-inactive"]["supersedesDecisionId"] == first["ord-inactive"]["decisionId"]
    )
    assert (
        await count(
            settings, "SELECT count(*) FROM por_validator.decisions WHERE order_id = 'ord-susp'"
        )
        == 2
    )
    assert await list_dead_letters(settings) == []  # no "same id, different body" conflict either
