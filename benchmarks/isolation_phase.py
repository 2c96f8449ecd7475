"""The `isolation` phase: one distributor's Partner Center down in `wait` mode must hold only
that distributor's orders (issue 23, target 7).

The partner-center phase's setup (Partner Center as the authority, the stand-in in its own
process answering after --partner-center-delay-ms), paced at --rate for 10 s (--quick) or
20 s (fewer if --orders has fewer), twice on fresh topics and databases: with nobody down, then with DOWN's Partner Center
answering 503 from the first order on. Per distributor, from the orders' record timestamps to
the decisions' receipt: how fast the other distributors' orders were decided and their p99,
the outage run against the baseline (targets: rate >= 0.9 x, p99 <= 1.5 x). Then DOWN's
Partner Center comes back: how long its held orders took to drain, and that each was decided
exactly once (decisions per key on por.decisions.v1 and rows in PostgreSQL).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

import asyncpg
from aiokafka import TopicPartition

from benchmarks.phases import pipeline_phase
from benchmarks.processes import Ctx, Proc, db_url, log, porgate_env
from benchmarks.stats import latency_summary
from benchmarks.workload import Collector, json_loads
from contracts.topics import DECISIONS, ORDERS
from services.common.kafka_clients import new_consumer
from services.devtools.demo import Message
from services.settings import Settings

DOWN = "dist-us-1"
RATE_TARGET, P99_TARGET = 0.9, 1.5


class DecisionTally:
    """Reads a decisions topic from its start: when each key's first decision arrived, and
    how many decisions each key got."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.consumer = new_consumer(
            Settings(kafka_bootstrap_servers=bootstrap),
            client_id="porgate-bench",
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=10,
        )
        self.first: dict[str, float] = {}
        self.decisions: Counter[str] = Counter()
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        await self.consumer.start()
        partitions = None
        while not partitions:
            partitions = self.consumer.partitions_for_topic(self.topic)
            if not partitions:
                await self.consumer._client.force_metadata_update()
                await asyncio.sleep(0.1)
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self.consumer.assign(tps)
        await self.consumer.seek_to_beginning(*tps)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=100, max_records=5000)
            now = time.time()
            for records in batch.values():
                for r in records:
                    key = r.key.decode()
                    self.decisions[key] += 1
                    self.first.setdefault(key, now)

    async def wait_for(self, keys: Iterable[str], stall_s: float) -> bool:
        """Until each key has a decision; False after `stall_s` seconds with no new one."""
        keys = list(keys)
        last, changed = -1, time.monotonic()
        while (n := sum(k in self.first for k in keys)) < len(keys):
            if n != last:
                last, changed = n, time.monotonic()
            elif time.monotonic() - changed > stall_s:
                return False
            await asyncio.sleep(0.05)
        return True

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.consumer.stop()


def per_distributor(
    keys_of: dict[str, list[str]], sent: dict[str, float], decided: dict[str, float]
) -> dict[str, dict]:
    """Per distributor: orders decided, per second (first order sent to last decision), and
    the latency of each (order record timestamp to decision received)."""
    out = {}
    for distributor, keys in sorted(keys_of.items()):
        done = [k for k in keys if k in decided and k in sent]
        if not done:
            out[distributor] = {"decided": 0}
            continue
        span = max(decided[k] for k in done) - min(sent[k] for k in keys if k in sent)
        out[distributor] = {
            "decided": len(done),
            "per_s": round(len(done) / span, 1),
            "latency": latency_summary(decided[k] - sent[k] for k in done),
        }
    return out


class Watch:
    """pipeline_phase's `during`: times the orders by distributor and, for the outage run,
    takes DOWN's Partner Center down at the start and back up once the others are decided."""

    def __init__(
        self, ctx: Ctx, orders: Sequence[Message], distributor_of: dict[str, str], label: str
    ) -> None:
        self.ctx, self.label = ctx, label
        self.keys_of: dict[str, list[str]] = {}
        for m in orders:
            self.keys_of.setdefault(distributor_of[m.key], []).append(m.key)
        self.signal: Callable[[signal.Signals], None] | None = None

    async def during(self, producer, prefix: str) -> dict:
        if self.signal is not None:
            self.signal(signal.SIGUSR1)
        tally = DecisionTally(self.ctx.bootstrap, prefix + DECISIONS.name)
        orders = Collector(self.ctx.bootstrap, prefix + ORDERS.name, timestamps_only=True)
        await tally.start()
        await orders.start()
        try:
            return await self._watch(tally, orders)
        finally:
            if self.signal is not None:
                self.signal(signal.SIGUSR2)  # whatever happened: never leave it down
            await tally.stop()
            await orders.stop()

    async def _watch(self, tally: DecisionTally, orders: Collector) -> dict:
        held = self.keys_of.get(DOWN, []) if self.signal is not None else []
        others = [k for d, keys in self.keys_of.items() if d != DOWN or not held for k in keys]
        everyone = [k for keys in self.keys_of.values() for k in keys]
        stall = 60.0
        out: dict = {"others_complete": await tally.wait_for(others, stall)}
        await orders.wait_for(everyone, stall_s=5.0)
        sent = {k: v[1] for k, v in orders.seen.items()}
        decided_now = dict(tally.first)
        out["by_distributor"] = per_distributor(self.keys_of, sent, decided_now)
        rest = [k for d, keys in self.keys_of.items() if d != DOWN for k in keys]
        out["others"] = per_distributor({"others": rest}, sent, decided_now)["others"]
        if not held:
            return out
        database = db_url(self.ctx.admin_url, f"bench_{self.label.replace('-', '_')}")
        out["held"] = {
            "orders": len(held),
            "decided_during_outage": sum(k in decided_now for k in held),
            "parked_at_recovery": await _fetchval(
                database, "SELECT count(*) FROM por_validator.parked_requests"
            ),
        }
        up_at = time.time()
        assert self.signal is not None
        self.signal(signal.SIGUSR2)
        log(f"{self.label}: {DOWN}'s Partner Center answers again; draining its held orders")
        complete = await tally.wait_for(held, stall)
        await asyncio.sleep(2.0)  # a second copy of a decision would show by now
        copies = Counter(tally.decisions[k] for k in held)
        rows = await _fetch(
            database,
            "SELECT order_id, count(*) AS n FROM por_validator.decisions"
            " WHERE order_id = ANY($1::text[]) GROUP BY order_id",
            held,
        )
        in_db = Counter(r["n"] for r in rows)
        # Until the first: the breaker's cool-down and the drain's backoff; then deciding.
        times = [tally.first[k] - up_at for k in held if k in tally.first]
        out["held"] |= {
            "complete": complete,
            "first_decision_s": round(min(times), 2) if times else None,
            "drain_s": round(max(times), 2) if times else None,
            "decisions_per_order_on_topic": {str(n): c for n, c in sorted(copies.items())},
            "decisions_per_order_in_postgres": {str(n): c for n, c in sorted(in_db.items())},
            "parked_after": await _fetchval(
                database, "SELECT count(*) FROM por_validator.parked_requests"
            ),
        }
        out["held"]["each_decided_exactly_once"] = (
            complete
            and copies == Counter({1: len(held)})
            and in_db == Counter({1: len(held)})
            and out["held"]["parked_after"] == 0
        )
        return out


async def isolation_phase(
    ctx: Ctx, orders: Sequence[Message], warmup: Sequence[Message], fresh_broker
) -> dict:
    from services.common.ports import free_port
    from services.devtools.demo_standins import standin_credentials

    seconds = 10.0 if ctx.args.quick else 20.0
    orders = orders[: int(ctx.args.rate * seconds)]
    seconds = round(len(orders) / ctx.args.rate, 1)  # fewer when --orders is smaller
    distributor_of = {m.key: json_loads(m.value)["data"]["distributorId"] for m in orders}
    credentials = ctx.out_dir / "partner-center-credentials.json"
    credentials.write_text(json.dumps(standin_credentials()))
    result: dict = {
        "down": DOWN,
        "rate_per_s": ctx.args.rate,
        "seconds": seconds,
        "standin_delay_ms": ctx.args.partner_center_delay_ms,
        "orders_by_distributor": dict(sorted(Counter(distributor_of.values()).items())),
    }
    for label, outage in (("iso-baseline", False), ("iso-down", True)):
        port = free_port()
        standin = await Proc.start(
            f"{label}-standin",
            [
                sys.executable,
                "-m",
                "benchmarks.standin_proc",
                str(port),
                str(ctx.args.resellers),
                str(ctx.args.seed),
                str(ctx.args.partner_center_delay_ms / 1000),
                str(ctx.out_dir / f"{label}-standin-calls.json"),
                f"tenant-{DOWN}",
            ],
            porgate_env(ctx, prefix="", database_url=""),
            ctx.out_dir / f"{label}-standin.log",
        )
        watch = Watch(ctx, orders, distributor_of, label)
        if outage:
            watch.signal = lambda sig, pid=standin.pid: os.kill(pid, sig)
        url = f"http://127.0.0.1:{port}"
        try:
            fresh_broker()
            phase = await pipeline_phase(
                ctx,
                label,
                orders,
                warmup,
                rate=ctx.args.rate,
                env_extra={
                    "PORGATE_POR_AUTHORITY": "partner-center",
                    "PORGATE_PARTNER_CENTER_UNAVAILABLE": "wait",
                    "PORGATE_PARTNER_CENTER_URL": url,
                    "PORGATE_ENTRA_AUTHORITY_URL": url,
                    "PORGATE_PARTNER_CENTER_CREDENTIALS_FILE": str(credentials),
                },
                during=watch.during,
            )
        finally:
            await standin.stop()
        calls = ctx.out_dir / f"{label}-standin-calls.json"
        phase["standin_calls"] = json.loads(calls.read_text()) if calls.exists() else {}
        result[label.removeprefix("iso-")] = phase
    result["targets"] = isolation_targets(result)
    return result


def isolation_targets(iso: dict) -> dict:
    """The other distributors' rate and p99 with DOWN down, against the baseline's."""
    base, down = iso["baseline"]["during"], iso["down"]["during"]
    out = {}
    for who in sorted(d for d in base["by_distributor"] if d != DOWN) + ["others"]:
        b = base["others"] if who == "others" else base["by_distributor"][who]
        d = down["others"] if who == "others" else down["by_distributor"][who]
        if not b.get("decided") or not d.get("decided"):
            continue
        rate, p99 = d["per_s"] / b["per_s"], d["latency"]["p99_ms"] / b["latency"]["p99_ms"]
        out[who] = {
            "rate_per_s": [b["per_s"], d["per_s"]],
            "rate_ratio": round(rate, 3),
            "p99_ms": [b["latency"]["p99_ms"], d["latency"]["p99_ms"]],
            "p99_ratio": round(p99, 2),
            "met": rate >= RATE_TARGET and p99 <= P99_TARGET,
        }
    return out


def render_isolation(w: Callable[[str], None], res: dict) -> None:
    iso = res.get("isolation")
    if not iso:
        return
    w("")
    w(
        f"ISOLATION: {DOWN}'s Partner Center down (503) in wait mode, {iso['rate_per_s']:g} orders/s"
        f" for {iso['seconds']:g} s ({iso['orders_by_distributor']}), stand-in"
        f" {iso['standin_delay_ms']:g} ms; baseline -> outage, per distributor (targets: rate"
        f" >= {RATE_TARGET} x, p99 <= {P99_TARGET} x)"
    )
    for who, t in iso["targets"].items():
        w(
            f"  {who}: {t['rate_per_s'][0]:,} -> {t['rate_per_s'][1]:,} decided/s (x {t['rate_ratio']}),"
            f" p99 {t['p99_ms'][0]:.0f} -> {t['p99_ms'][1]:.0f} ms (x {t['p99_ratio']})"
            f"  {'met' if t['met'] else 'NOT MET'}"
        )
    held = iso["down"]["during"].get("held", {})
    if held:
        w(
            f"  {DOWN}: {held['orders']:,} orders, {held['decided_during_outage']} decided during the"
            f" outage, {held['parked_at_recovery']:,} parked at recovery; drained in"
            f" {held.get('drain_s')} s after it answered again (the first decided after"
            f" {held.get('first_decision_s')} s); decisions per order on the topic"
            f" {held.get('decisions_per_order_on_topic')}, in PostgreSQL"
            f" {held.get('decisions_per_order_in_postgres')}: each decided exactly once:"
            f" {'yes' if held.get('each_decided_exactly_once') else 'NO'}"
        )


async def _fetch(url: str, sql: str, *args) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def _fetchval(url: str, sql: str, *args):
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()
