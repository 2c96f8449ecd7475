"""What por-validator's writes cost PostgreSQL, index by index: not part of the benchmark.

    python3 -m benchmarks.write_costs [--orders 6000] [--batch 150] [--variants all,...]

Decides DemoWorld's orders in memory (as benchmarks/rules.py does), then writes them into a
fresh, migrated por-validator schema on the embedded PostgreSQL exactly as a batch does
(decision_store.record_decisions and the outbox, one transaction per batch), once per
variant: every index as migrated, then without each suspect. Prints wall-clock per batch
and the PostgreSQL backend's CPU per decision, so each index's cost is a measured figure.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import psutil

from benchmarks.rules import provenance_from_messages, registry_from_messages
from contracts.codec import decision_event, decode
from contracts.ids import derived_event_id
from contracts.topics import DECISIONS, ORDERS
from services.common import outbox
from services.common.db import migrate
from services.common.handling import Outgoing
from services.devtools.demo import DemoWorld
from services.domain.decisions import decide
from services.domain.scope import DEFAULT_ENFORCEMENT_START
from services.order_intake.intake import validation_request
from services.por_validator import decision_store

MIGRATIONS = Path(decision_store.__file__).parent / "migrations"

# Each variant: the indexes dropped before writing.
VARIANTS: dict[str, list[str]] = {
    "as migrated": [],
    "no console indexes (005)": [
        "decisions_timeline",
        "decisions_distributor_timeline",
        "decisions_by_order",
        "decisions_by_subscription",
        "decisions_by_customer",
        "decisions_by_superseded",
        "decision_lines_by_partner",
    ],
    "no decisions_timeline": ["decisions_timeline"],
    "no decisions_distributor_timeline": ["decisions_distributor_timeline"],
    "no decisions_by_order": ["decisions_by_order"],
    "no decisions_by_customer": ["decisions_by_customer"],
    "no decision_lines_by_partner": ["decision_lines_by_partner"],
    "no decision_lines_blocked_by_pla": ["decision_lines_blocked_by_pla"],
    "no decision_lines_by_distributor": ["decision_lines_by_distributor"],
    "no decisions_source": ["decisions_source"],
}
# Variants that change what is written rather than the indexes.
WITHOUT_OUTBOX = "no outbox rows"
UNEXPLAINED = "blocked lines unexplained"
VARIANTS[WITHOUT_OUTBOX] = []
VARIANTS[UNEXPLAINED] = []
# Variants that change the schema: statements run before writing.
ALTERED = {
    # As before migration 009.
    "request and decision jsonb": [
        "ALTER TABLE decisions ALTER COLUMN request TYPE jsonb, ALTER COLUMN decision TYPE jsonb"
    ],
    # A decision with walks is over TOAST's 2 KB: PostgreSQL compresses it, with pglz unless
    # told otherwise.
    "documents compressed with lz4": [
        (
            "ALTER TABLE decisions ALTER COLUMN request SET COMPRESSION lz4,"
            " ALTER COLUMN decision SET COMPRESSION lz4"
        )
    ],
    "rows under 8 KB kept whole": ["ALTER TABLE decisions SET (toast_tuple_target = 8160)"],
    "documents out of line uncompressed": [
        (
            "ALTER TABLE decisions ALTER COLUMN request SET STORAGE EXTERNAL,"
            " ALTER COLUMN decision SET STORAGE EXTERNAL"
        )
    ],
}
VARIANTS.update({name: [] for name in ALTERED})


def decided(orders: int, explained: bool = True) -> list[tuple]:
    world = DemoWorld(resellers=2000, seed=7)
    messages = world.registry()
    reg = registry_from_messages(messages)
    # Blocked lines carry their walks, as por-validator attaches them.
    provenance = provenance_from_messages(messages) if explained else None
    now = datetime.now(UTC)
    pairs = []
    for m in (world.order() for _ in range(orders)):
        e = decode(m.value, ORDERS.name)
        r = validation_request(e.data, e.id)
        req_id = derived_event_id("validation-request", e.id)
        d = decide(
            r,
            reg,
            enforcement_start=DEFAULT_ENFORCEMENT_START,
            decided_at=now,
            provenance=provenance,
        ).model_copy(update={"source_event_id": req_id})
        pairs.append((r, d))
    return pairs


async def write_all(
    url: str,
    schema: str,
    pairs: list[tuple],
    batch: int,
    drop: list[str],
    outbox_rows: bool = True,
    alter: list[str] = (),  # type: ignore[assignment]
) -> dict:
    await migrate(url, schema, MIGRATIONS)
    conn = await asyncpg.connect(url, server_settings={"search_path": schema})
    try:
        for name in drop:
            await conn.execute(f"DROP INDEX IF EXISTS {name}")
        for statement in alter:
            await conn.execute(statement)
        backend = psutil.Process(await conn.fetchval("SELECT pg_backend_pid()"))
        cpu0 = sum(backend.cpu_times()[:2])
        walls = []
        for i in range(0, len(pairs), batch):
            chunk = pairs[i : i + batch]
            t = time.perf_counter()
            async with conn.transaction():
                inserted = await decision_store.record_decisions(conn, chunk)
                await (outbox.write if outbox_rows else _nothing)(
                    conn,
                    [
                        (
                            d.source_event_id,
                            Outgoing(DECISIONS, d.transaction_key, decision_event(d, source="/b")),
                        )
                        for _, d in chunk
                        if d.decision_id in inserted
                    ],
                )
            walls.append(time.perf_counter() - t)
        cpu = sum(backend.cpu_times()[:2]) - cpu0
    finally:
        await conn.close()
    return {
        "batch_ms_median": statistics.median(walls) * 1e3,
        "pg_cpu_us_per_decision": cpu / len(pairs) * 1e6,
    }


async def _nothing(*args: object) -> None:
    return None


async def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--orders", type=int, default=6000)
    p.add_argument("--batch", type=int, default=150)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--variants", default=",".join(VARIANTS))
    args = p.parse_args(argv)
    from services.devtools.embedded import EmbeddedPostgres

    pairs = decided(args.orders)
    unexplained = decided(args.orders, explained=False)

    pg = EmbeddedPostgres()
    url = pg.start("porgate_writes")
    names = [v for v in args.variants.split(",") if v]
    results: dict[str, list[dict]] = {n: [] for n in names}
    unsupported: dict[str, str] = {}
    try:
        for r in range(args.rounds):
            for i, name in enumerate(names):  # interleaved: the machine's noise falls on all
                if name in unsupported:
                    continue
                try:
                    results[name].append(
                        await write_all(
                            url,
                            f"w{r}_{i}",
                            unexplained if name == UNEXPLAINED else pairs,
                            args.batch,
                            VARIANTS[name],
                            outbox_rows=name != WITHOUT_OUTBOX,
                            alter=ALTERED.get(name, []),
                        )
                    )
                except asyncpg.FeatureNotSupportedError as exc:
                    # The embedded server lacks what the variant needs (lz4): say so, go on.
                    unsupported[name] = str(exc).splitlines()[0]
    finally:
        pg.stop()
    base = statistics.median(x["pg_cpu_us_per_decision"] for x in results[names[0]])
    print(f"{args.orders:,} decisions in batches of {args.batch}, median of {args.rounds} rounds")
    print(f"{'variant':40} {'batch ms':>9} {'PG CPU us/decision':>19} {'vs first':>9}")
    for name in names:
        if name in unsupported:
            print(f"{name:40} not supported by this server: {unsupported[name]}")
            continue
        ms = statistics.median(x["batch_ms_median"] for x in results[name])
        us = statistics.median(x["pg_cpu_us_per_decision"] for x in results[name])
        print(f"{name:40} {ms:9.1f} {us:19.1f} {us - base:+9.1f}")


if __name__ == "__main__":
    asyncio.run(main())
