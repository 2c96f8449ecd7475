"""A long soak under faults: a steady stream of orders and suspensions for minutes, kill -9 of a
random consumer process every few seconds, PostgreSQL stopped now and then, and in the end the
same exactly-once checks as tests/reliability/test_crash.py. Measured and checked, not in CI.

    python3 -m benchmarks.soak [--minutes 10] [--rate 200] [--kill-every 15] [--db-outage-every 90]

Servers: PORGATE_KAFKA_BOOTSTRAP_SERVERS / PORGATE_DATABASE_URL when set (database outages are
then skipped: only the embedded PostgreSQL can be stopped from here), else the embedded broker
and PostgreSQL. Prints the figures as JSON and exits 1 if anything was lost or done twice.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from services.catalog import all_services
from services.common.db import migrate
from services.common.topic_creation import create_topics
from services.devtools.embedded import EmbeddedKafka, EmbeddedPostgres
from services.settings import Settings
from tests.reliability import world as W
from tests.reliability.harness import Kafka, LocalServer, Processes, Webhook, fetchval, read_topic

SERVICES = ["order-intake", "por-validator", "gdap-revoker", "notifier"]


async def fresh_database(server_url: str) -> str:
    name = f"soak_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')  # a generated identifier, not input
    finally:
        await admin.close()
    return urlunsplit(urlsplit(server_url)._replace(path="/" + name))


async def soak(
    args, bootstrap: str, db_url: str, pg: EmbeddedPostgres | None, log_dir: Path
) -> dict:
    prefix = f"soak{uuid.uuid4().hex[:6]}."
    settings = Settings(
        kafka_bootstrap_servers=bootstrap,
        database_url=await fresh_database(db_url),
        topic_prefix=prefix,
    )
    for service in all_services(settings):
        await migrate(settings.database_url, service.schema, service.migrations)
    await create_topics(bootstrap, prefix=prefix, partitions=args.partitions)

    hook = Webhook(W.SECRET, latency_s=0.01)
    gdap_events, relationships = W.gdap_world(args.tenants, 5, tag="s")
    suspensions = [W.tenant(f"ten-s{i}", "suspended") for i in range(args.tenants)]
    procs = Processes(settings, log_dir)
    figures: dict = {"kills": defaultdict(int), "database outages": 0}
    orders: list[tuple[str, dict]] = []
    source = W.orders(10_000_000, "soak")
    started = time.monotonic()
    end = started + args.minutes * 60
    try:
        async with LocalServer(hook.app()) as server, Kafka(settings) as kafka:
            env = {
                "notify_webhook_url": f"{server.base}/hook",
                "notify_webhook_secret": W.SECRET,
                "notify_webhook_timeout_s": 2,
                "graph_timeout_s": 1,
            }
            running = {name: procs.spawn(name, **env) for name in SERVICES}
            await kafka.send_many(W.REGISTRY, W.registry() + gdap_events)
            while await fetchval(
                settings, "SELECT count(*) FROM notifier.customer_assignments"
            ) < len(relationships):
                await asyncio.sleep(0.5)

            async def stream() -> None:
                per_tick = max(1, args.rate // 10)
                suspend_every = max(1.0, args.minutes * 60 / (args.tenants + 1))
                next_suspension = time.monotonic() + suspend_every
                while time.monotonic() < end:
                    chunk = [next(source) for _ in range(per_tick)]
                    await kafka.send_many(W.ORDERS, chunk)
                    orders.extend(chunk)
                    if suspensions and time.monotonic() >= next_suspension:
                        s = suspensions.pop(0)
                        await kafka.send(W.REGISTRY, s, key=s["data"]["resellerTenantId"])
                        next_suspension += suspend_every
                    await asyncio.sleep(0.1)
                for s in suspensions:  # whatever the schedule left
                    await kafka.send(W.REGISTRY, s, key=s["data"]["resellerTenantId"])
                suspensions.clear()

            async def faults() -> None:
                next_outage = time.monotonic() + args.db_outage_every
                while time.monotonic() < end - 5:
                    await asyncio.sleep(random.uniform(0.5, 1.5) * args.kill_every)
                    name = random.choice(SERVICES)
                    running[name].kill()
                    figures["kills"][name] += 1
                    await asyncio.sleep(random.uniform(0, 2))
                    running[name].start()
                    if pg is not None and args.db_outage_every and time.monotonic() >= next_outage:
                        await asyncio.to_thread(pg.pause)
                        await asyncio.sleep(args.db_outage_s)
                        await asyncio.to_thread(pg.resume)
                        figures["database outages"] += 1
                        next_outage = time.monotonic() + args.db_outage_every
                    procs.check_alive()

            await asyncio.gather(stream(), faults())
            stream_s = time.monotonic() - started
            expected_notes = {
                W.blocked_notification_id(e["id"]) for _, e in orders if W.expected_codes(e)
            }
            expected_notes |= {W.revoked_notification_id(rid) for rid in relationships}
            deadline = time.monotonic() + args.drain_timeout
            while time.monotonic() < deadline:
                decided = await fetchval(settings, "SELECT count(*) FROM por_validator.decisions")
                delivered = await fetchval(
                    settings,
                    "SELECT count(*) FROM notifier.notifications WHERE state = 'delivered'",
                )
                terminated = await fetchval(
                    settings,
                    "SELECT count(*) FROM gdap_revoker.terminations WHERE state = 'terminated'",
                )
                if (
                    decided >= len(orders)
                    and delivered >= len(expected_notes)
                    and terminated >= len(relationships)
                ):
                    break
                await asyncio.sleep(1)
            drain_s = time.monotonic() - started - stream_s
    finally:
        procs.cleanup()

    decided_rows = await fetchval(settings, "SELECT count(*) FROM por_validator.decisions")
    distinct_orders = await fetchval(
        settings, "SELECT count(DISTINCT order_id) FROM por_validator.decisions"
    )
    records = await read_topic(settings, W.DECISIONS, lambda rs: True, timeout=30, settle=3.0)
    per_order: dict[str, set] = defaultdict(set)
    for r in records:
        d = json.loads(r.value)["data"]
        per_order[d["orderId"]].add((d["decisionId"], d["outcome"]))
    notes = await fetchval(
        settings, "SELECT count(*) FROM notifier.notifications WHERE state = 'delivered'"
    )
    receipts = hook.by_id()
    figures.update(
        {
            "minutes": args.minutes,
            "stream seconds": round(stream_s),
            "drain seconds": round(drain_s),
            "events pushed": kafka.sent,
            "orders": len(orders),
            "kills": dict(figures["kills"]),
            "decision rows": decided_rows,
            "orders lost": len({o for o, _ in orders} - set(per_order))
            + (len(orders) - distinct_orders),
            "orders decided twice": sum(1 for v in per_order.values() if len(v) > 1)
            + (decided_rows - distinct_orders),
            "decision records published twice (same id)": len(records) - len(per_order),
            "relationships": len(relationships),
            "revocations missing": len(relationships)
            - await fetchval(
                settings,
                "SELECT count(*) FROM gdap_revoker.terminations WHERE state = 'terminated'",
            ),
            "notifications expected": len(expected_notes),
            "notifications delivered (database)": notes,
            "notifications never received": len(expected_notes - hook.accepted_ids()),
            "webhook receipts repeated (same notification id)": sum(
                len(v) - 1 for v in receipts.values()
            ),
        }
    )
    return figures


async def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=200, help="orders per second")
    parser.add_argument(
        "--tenants", type=int, default=40, help="resellers suspended along the way (5 GDAP each)"
    )
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument(
        "--kill-every", type=float, default=15.0, help="seconds between kill -9s (on average)"
    )
    parser.add_argument("--db-outage-every", type=float, default=90.0, help="seconds; 0: never")
    parser.add_argument("--db-outage-s", type=float, default=5.0)
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    args = parser.parse_args()
    log_dir = Path(tempfile.mkdtemp(prefix="porgate-soak-"))
    kafka = pg = None
    try:
        bootstrap = os.environ.get("PORGATE_KAFKA_BOOTSTRAP_SERVERS")
        if not bootstrap:
            kafka = EmbeddedKafka(log_path=log_dir / "tansu.log")
            bootstrap = kafka.start()
        db_url = os.environ.get("PORGATE_DATABASE_URL")
        if not db_url:
            pg = EmbeddedPostgres()
            db_url = pg.start()
        figures = await soak(args, bootstrap, db_url, pg, log_dir)
    finally:
        if kafka is not None:
            kafka.stop()
        if pg is not None:
            pg.stop()
    figures["logs"] = str(log_dir)
    print(json.dumps(figures, indent=2))
    bad = (
        figures["orders lost"]
        or figures["orders decided twice"]
        or figures["revocations missing"]
        or figures["notifications never received"]
        or figures["notifications delivered (database)"] != figures["notifications expected"]
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
