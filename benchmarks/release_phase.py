"""The `release` phase (issue 13): how long one registry event takes to release 1,000 blocked
transactions, and full-speed order throughput while a 10,000-event registry sync arrives,
against the same without it (target: at least half).

1,000 orders name one reseller whose tenant is suspended, so all are blocked; then one
upsert makes the tenant active, and the clock runs from its publish until the 1,000 accepted
decisions superseding them have been consumed. The sync is DemoWorld's registry published
again as new events, newer than what the database holds, flat out: each upsert is projected
and looked up for transactions it may release.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from benchmarks.phases import pipeline_phase
from benchmarks.processes import (
    SERVICES,
    Ctx,
    fresh_database,
    log,
    start_services,
    stop_all,
    wait_quiet,
)
from benchmarks.workload import Collector, Message, load_producer, publish
from contracts.events import OrderLineItem, OrderPlaced, ResellerTenantUpserted
from contracts.topics import DECISIONS, ORDERS, PARTNER_REGISTRY
from services.devtools.demo import COUNTRY_OF, DemoWorld, message_for


def _tenant(world: DemoWorld, status: str, at: datetime) -> tuple[Message, str, str]:
    """The first healthy reseller's tenant upserted with `status`; and its PLA id and distributor."""
    r = next(x for x in world.resellers if x.profile == "valid" and x.customers)
    message = message_for(
        PARTNER_REGISTRY,
        r.tenant_id,
        ResellerTenantUpserted(
            reseller_tenant_id=r.tenant_id,
            name=f"Reseller {r.tenant_id}",
            kind="csp_indirect_reseller",
            status=status,
            indirect_reseller_authorized=True,
            country=COUNTRY_OF[r.distributor_id][0],
        ),
        time=at,
    )
    return message, r.pla, r.distributor_id


def _orders_for(pla: str, distributor_id: str, n: int) -> list[Message]:
    now = datetime.now(UTC)
    return [
        message_for(
            ORDERS,
            f"rel-{i:05d}",
            OrderPlaced(
                order_id=f"rel-{i:05d}",
                distributor_id=distributor_id,
                customer_id=f"rel-cust-{i % 50}",
                placed_at=now,
                line_items=[
                    OrderLineItem(
                        line_item_id="1", offer_id="CFQ7TTC0LH18:0001", quantity=1,
                        partner_id_on_record=pla,
                    )
                ],
            ),
        )
        for i in range(n)
    ]  # fmt: skip


async def time_to_release(ctx: Ctx, transactions: int) -> dict:
    from services.common.topic_creation import create_topics

    label = "release"
    await wait_quiet(ctx, label)
    prefix = f"{ctx.run_id}-{label}."
    database_url = await fresh_database(ctx, "bench_release")
    await create_topics(ctx.bootstrap, prefix=prefix)
    procs = await start_services(ctx, label, SERVICES, prefix=prefix, database_url=database_url)
    world = DemoWorld(resellers=ctx.args.resellers, seed=ctx.args.seed)
    now = datetime.now(UTC)
    suspend, pla, distributor_id = _tenant(world, "suspended", now)
    reactivate, _, _ = _tenant(world, "active", now + timedelta(seconds=1))
    orders = _orders_for(pla, distributor_id, transactions)
    collector = Collector(ctx.bootstrap, prefix + DECISIONS.name)
    producer = load_producer(ctx.bootstrap)
    try:
        await collector.start()
        await producer.start()
        await publish(producer, prefix + PARTNER_REGISTRY.name, [suspend], rate=None)
        # The orders go to another topic: give the projection time to see the suspension.
        await asyncio.sleep(2.0)
        await publish(producer, prefix + ORDERS.name, orders, rate=None)
        if not await collector.wait_for([m.key for m in orders], stall_s=120):
            raise RuntimeError("release: the orders were not all decided")
        blocked = collector.records
        log(f"release: {blocked} blocked; publishing the one upsert that frees them")
        started = time.time()
        await publish(producer, prefix + PARTNER_REGISTRY.name, [reactivate], rate=None)
        while collector.records < blocked + transactions:
            if time.time() - started > 300:
                raise RuntimeError(f"release: {collector.records - blocked} of {transactions}")
            await asyncio.sleep(0.01)
        seconds = time.time() - started
    finally:
        await collector.stop()
        await producer.stop()
        await stop_all(procs)
    return {
        "blocked_transactions": transactions,
        "released": collector.records - blocked,
        "seconds": round(seconds, 3),
        "per_s": round(transactions / seconds, 1),
    }


def sync_traffic(ctx: Ctx, events: int):
    """DemoWorld's registry again as `events` new upserts, newer than the template's."""
    world = DemoWorld(resellers=ctx.args.resellers, seed=ctx.args.seed)
    messages = [m for m in world.registry() if m.topic is PARTNER_REGISTRY][:events]

    async def send(producer, prefix: str) -> dict:
        started = time.perf_counter()
        result = await publish(producer, prefix + PARTNER_REGISTRY.name, messages, rate=None)
        return {
            "registry_events": len(messages),
            "published_in_s": round(time.perf_counter() - started, 2),
            "publish": result["summary"],
        }

    return send


async def release_phase(
    ctx: Ctx, orders: Sequence[Message], warmup: Sequence[Message], fresh_broker
) -> dict:
    fresh_broker()
    result: dict = {"time_to_release": await time_to_release(ctx, 1000)}
    # Each pipeline phase starts from the template database: the same orders serve both.
    fresh_broker()
    result["without_sync"] = await pipeline_phase(ctx, "rel-base", orders, warmup, rate=None)
    fresh_broker()
    result["with_sync"] = await pipeline_phase(
        ctx, "rel-sync", orders, warmup, rate=None, during=sync_traffic(ctx, 10_000)
    )
    base = result["without_sync"]["throughput"].get("per_s") or 0
    during = result["with_sync"]["throughput"].get("per_s") or 0
    result["throughput_ratio_during_sync"] = round(during / base, 2) if base else None
    return result
