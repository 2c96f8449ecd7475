"""How much code one order crosses: the distinct functions and files under services/ and
contracts/ that run from order-intake's fetch of an order to por-validator's published
decision, on the real servers (embedded Tansu and PostgreSQL), counted with sys.setprofile.

    python3 -m benchmarks.trace_order             # the counts
    python3 -m benchmarks.trace_order --list      # and every function, by file
    python3 -m benchmarks.trace_order --json out.json

order-intake and por-validator run in this process, as `porgate run` runs them, on a small
registry projected beforehand. A first order warms them up (imports, caches, the consumers'
first fetch); the second one is traced, from its publish until its decision is read back.
Its lines: one valid PLA id and one inactive (a blocked decision, with its explanation), so
both the accepted and the blocked paths are counted. Comprehensions and generator
expressions are part of the function around them, not counted apart; lambdas are counted.
Everything the processes run meanwhile is counted too (the runtime's bookkeeping, idle
consumers' polls), so a run with nothing else happening is the figure; run it twice to see
it is stable.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
ROOTS = tuple(str(REPO / d) + "/" for d in ("services", "contracts"))
# Code objects that belong to the function around them.
NOT_FUNCTIONS = {"<listcomp>", "<dictcomp>", "<setcomp>", "<genexpr>", "<module>"}
DIST = "dist-trace-1"
VALID, INACTIVE = "4000001", "4000002"


def _envelope(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/benchmarks/trace-order",
        "type": event_type,
        "time": datetime.now(UTC).isoformat(),
        "datacontenttype": "application/json",
        "data": data,
    }


def registry() -> list[tuple[str, dict[str, Any]]]:
    """(key, event): a distributor and two resellers partnered with it, one PLA inactive."""
    events = [
        (
            DIST,
            _envelope(
                "csp.distributor.upserted.v1",
                {"distributorId": DIST, "name": DIST, "country": "DE"},
            ),
        )
    ]
    for pid, status in ((VALID, "active"), (INACTIVE, "inactive")):
        tenant = f"ten-{pid}"
        events += [
            (
                tenant,
                _envelope(
                    "csp.reseller-tenant.upserted.v1",
                    {
                        "resellerTenantId": tenant,
                        "name": tenant,
                        "kind": "csp_indirect_reseller",
                        "status": "active",
                        "indirectResellerAuthorized": True,
                        "country": "DE",
                    },
                ),
            ),
            (
                pid,
                _envelope(
                    "csp.partner-account.upserted.v1",
                    {
                        "partnerId": pid,
                        "accountType": "PLA",
                        "status": status,
                        "name": pid,
                        "resellerTenantId": tenant,
                    },
                ),
            ),
            (
                tenant,
                _envelope(
                    "csp.partnership.upserted.v1",
                    {"distributorId": DIST, "resellerTenantId": tenant, "status": "active"},
                ),
            ),
        ]
    return events


def order(order_id: str) -> dict[str, Any]:
    lines = [
        {
            "lineItemId": str(i),
            "offerId": "CFQ7TTC0LH18:0001",
            "quantity": 1,
            "billingPlan": "monthly",
            "termDuration": "P1Y",
            "partnerIdOnRecord": pid,
        }
        for i, pid in enumerate((VALID, INACTIVE), 1)
    ]
    return _envelope(
        "csp.order.placed.v1",
        {
            "orderId": order_id,
            "distributorId": DIST,
            "customerId": "cust-trace",
            "placedAt": datetime.now(UTC).isoformat(),
            "lineItems": lines,
        },
    )


class Crossed:
    """The functions under ROOTS that are called while it is on, by file."""

    def __init__(self) -> None:
        self.functions: dict[str, set[str]] = defaultdict(set)
        self._seen: set[object] = set()

    def __call__(self, frame, event: str, arg: object) -> None:
        if event != "call":
            return
        code = frame.f_code
        if code in self._seen:
            return
        self._seen.add(code)
        path = code.co_filename
        if path.startswith(ROOTS) and code.co_name not in NOT_FUNCTIONS:
            self.functions[str(Path(path).relative_to(REPO))].add(code.co_qualname)

    def on(self) -> None:
        sys.setprofile(self)

    def off(self) -> None:
        sys.setprofile(None)

    def report(self) -> dict[str, Any]:
        return {
            "functions": sum(len(f) for f in self.functions.values()),
            "files": len(self.functions),
            "by_file": {f: sorted(names) for f, names in sorted(self.functions.items())},
        }


async def trace_one_order() -> dict[str, Any]:
    import asyncpg

    from services.catalog import build_services
    from services.common.app import build_app
    from services.common.db import migrate
    from services.common.kafka_clients import new_consumer, start_client, start_producer
    from services.common.topic_creation import create_topics
    from services.devtools.embedded import EmbeddedKafka, EmbeddedPostgres
    from services.settings import Settings

    kafka, postgres = EmbeddedKafka(), EmbeddedPostgres(tempfile.mkdtemp(prefix="trace-pg-"))
    bootstrap = kafka.start()
    try:
        url = postgres.start("trace")
        settings = Settings(
            kafka_bootstrap_servers=bootstrap, database_url=url, log_level="WARNING"
        )
        await create_topics(bootstrap, partitions=1)
        services = build_services(["order-intake", "por-validator"], settings)
        for service in services:
            await migrate(url, service.schema, service.migrations)
        # The factory's clients, as every porgate process builds them (docs/kafka.md).
        decisions = new_consumer(
            settings,
            "por.decisions.v1",
            client_id="porgate-trace",
            group_id=None,
            auto_offset_reset="earliest",
        )
        app, _ = build_app(services, settings)
        producer = await start_producer(settings, client_id="porgate-trace")
        await start_client(decisions, settings)
        await app.start()
        crossed = Crossed()
        try:
            for key, event in registry():
                await producer.send_and_wait(
                    "csp.partner-registry.v1", json.dumps(event).encode(), key=key.encode()
                )
            conn = await asyncpg.connect(url)
            try:
                deadline = time.monotonic() + 60
                while await conn.fetchval("SELECT count(*) FROM por_validator.partnerships") < 2:
                    if time.monotonic() > deadline:
                        raise TimeoutError("the registry was not projected")
                    await asyncio.sleep(0.1)
            finally:
                await conn.close()
            for n, traced in enumerate((False, True)):
                order_id = f"ord-trace-{n}"
                await asyncio.sleep(1.0)  # the bookkeeping of what came before, done
                if traced:
                    crossed.on()
                await producer.send_and_wait(
                    "csp.orders.v1", json.dumps(order(order_id)).encode(), key=order_id.encode()
                )
                await _decision_for(decisions, order_id)
                crossed.off()
        finally:
            crossed.off()
            await app.stop()
            await decisions.stop()
            await producer.stop()
    finally:
        postgres.stop()
        kafka.stop()
    return crossed.report()


async def _decision_for(consumer, order_id: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for records in (await consumer.getmany(timeout_ms=100)).values():
            for record in records:
                if json.loads(record.value)["data"].get("orderId") == order_id:
                    return
    raise TimeoutError(f"no decision for {order_id}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="print every function, by file")
    parser.add_argument("--json", help="write the report to this file")
    args = parser.parse_args(argv)
    report = asyncio.run(trace_one_order())
    if args.list:
        for path, names in report["by_file"].items():
            print(f"{path} ({len(names)})")
            for name in names:
                print(f"    {name}")
    print(f"one order crosses {report['functions']} functions in {report['files']} files")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
