"""Nothing lost, nothing twice: duplicates, replays, dead letters, and a consumer that carries on."""

import json

import asyncpg

from contracts.ids import derived_event_id
from tests.e2e import registry_data as R
from tests.e2e.test_orders import SERVICES, load_registry, registry_loaded
from tests.support import Bus, envelope, running


async def test_same_order_event_twice_has_one_effect_and_replay_is_harmless(migrated):
    settings = migrated
    first = R.order("ord-dup", R.VALID, event_id="evt-dup-1")
    async with Bus(settings) as bus:
        async with running(settings, SERVICES):
            await load_registry(bus)
            await registry_loaded(settings, 8)
            await bus.send("csp.orders.v1", first, key="ord-dup")
            await bus.send("csp.orders.v1", first, key="ord-dup")
            await bus.send("csp.orders.v1", R.order("ord-after", R.VALID), key="ord-after")
            decisions = await bus.events("por.decisions.v1", 2, settle=2.0)
        # A replay on-call style: the whole orders topic again, with the system restarted.
        async with running(settings, SERVICES):
            await bus.send("csp.orders.v1", first, key="ord-dup")
            await bus.send("csp.orders.v1", R.order("ord-last", R.VALID), key="ord-last")
            decisions = await bus.events("por.decisions.v1", 3, settle=2.0)
            requests = await bus.read(
                "por.validation-requests.v1", lambda rs: len(rs) >= 5, settle=1.0
            )
            dead = await bus.read("por.dlq.v1", lambda rs: True, timeout=2.0, settle=1.0)
    assert dead == []
    copies = {r.value for r in requests if r.key == b"ord-dup"}
    assert len([r for r in requests if r.key == b"ord-dup"]) == 3 and len(copies) == 1
    ids = [d["data"]["decisionId"] for d in decisions]
    assert len(ids) == len(set(ids)) == 3
    assert sorted(d["data"]["orderId"] for d in decisions) == ["ord-after", "ord-dup", "ord-last"]
    conn = await asyncpg.connect(settings.database_url)
    try:
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM por_validator.decisions WHERE order_id = 'ord-dup'"
            )
            == 1
        )
        # order-intake asked three times, under one id and in the same bytes: one claim in
        # por-validator's inbox, and no copy taken for an id reused (nothing dead-lettered).
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM por_validator.inbox WHERE event_id = $1",
                derived_event_id("validation-request", "evt-dup-1"),
            )
            == 1
        )
        assert await conn.fetchval("SELECT count(*) FROM por_validator.outbox") == 0
    finally:
        await conn.close()


async def test_malformed_messages_go_to_the_dlq_with_headers_and_the_next_good_one_is_decided(
    migrated,
):
    settings = migrated
    bad = {
        b"\xff\xfenot utf-8": "not UTF-8",
        b"{not json": "not JSON",
        b"[1,2,3]": "not an object",
        json.dumps(envelope("csp.nope.v1", {})).encode(): "unknown event type",
        json.dumps({"id": "x", "data": {}}).encode(): "envelope",
        json.dumps(
            envelope("csp.order.placed.v1", {"orderId": "o"})
        ).encode(): "csp.order.placed.v1: data.",
        json.dumps(
            envelope("csp.subscription.change-requested.v1", {})
        ).encode(): "does not belong",
    }
    async with Bus(settings) as bus, running(settings, SERVICES):
        await load_registry(bus)
        await registry_loaded(settings, 8)
        for raw in bad:
            await bus.send("csp.orders.v1", raw, key="bad")
        await bus.send("csp.orders.v1", R.order("ord-good", R.VALID), key="ord-good")
        decisions = await bus.events("por.decisions.v1", 1)
        dead = await bus.read("por.dlq.v1", lambda rs: len(rs) >= len(bad))
    assert decisions[0]["data"]["orderId"] == "ord-good"
    assert decisions[0]["data"]["outcome"] == "accepted"
    assert {r.value for r in dead} == set(bad)
    for record in dead:
        headers = {k: v.decode() for k, v in record.headers}
        assert headers["x-dlq-source-topic"] == "csp.orders.v1"
        assert (
            headers["x-dlq-consumer-group"] == f"{settings.topic_prefix}porgate.order-intake.orders"
        )
        assert (
            int(headers["x-dlq-source-offset"]) >= 0 and int(headers["x-dlq-source-partition"]) >= 0
        )
        assert headers["x-dlq-failed-at"].startswith("20")
        assert bad[record.value] in headers["x-dlq-error"], headers["x-dlq-error"]
        assert record.key == b"bad"


async def test_reused_event_id_with_a_different_body_is_ignored_and_dead_lettered(migrated):
    settings = migrated
    async with Bus(settings) as bus, running(settings, SERVICES):
        await load_registry(bus)
        await registry_loaded(settings, 8)
        await bus.send("csp.orders.v1", R.order("ord-a", R.VALID, event_id="same-id"), key="ord-a")
        await bus.send(
            "csp.orders.v1", R.order("ord-b", R.UNKNOWN, event_id="same-id"), key="ord-a"
        )
        decisions = await bus.events("por.decisions.v1", 1, settle=1.5)
        dead = await bus.read("por.dlq.v1", lambda rs: len(rs) >= 1)
    assert [d["data"]["orderId"] for d in decisions] == ["ord-a"]
    assert "different body" in dict(dead[0].headers)["x-dlq-error"].decode()
