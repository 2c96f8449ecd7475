"""porgate's benchmark: `python3 -m benchmarks.run [--orders 50000] [--resellers 10000] [--quick]`.

On the embedded servers it starts itself (Tansu, PostgreSQL 18), with the services under
test in processes of their own (benchmarks/services_proc.py) and the load generator here:

1. rules engine alone: evaluate_por over a realistic registry, no I/O; and the pure CPU each
   order costs at each step (decode, decide, encode), to read the profile against;
2. registry: DemoWorld's registry (R resellers) through por-validator's projection, once,
   into a template database every later phase copies;
3. full speed: N orders published as fast as the producer goes, through order-intake and
   por-validator; throughput (orders decided per second) and publish-to-decision latency;
4. fixed load: the same orders paced at --rate (1,000/s) on fresh topics and a fresh database;
5. baseline: a bare aiokafka consume-and-produce relay (benchmarks/relay_proc.py) moving N
   messages of the same size on the same broker, and porgate's throughput as a ratio of it;
6. the POR validation API: single-ID requests from concurrent httpx workers, requests per
   second and latency percentiles;
7. with --profile: one more full-speed phase with py-spy attached to the services process(es).

Latency = the time this process consumed the decision record from por.decisions.v1 minus the
time it handed the order to its producer, matched by orderId (the decision's key). Memory is
the services processes' RSS, sampled every 0.2 s in a thread (psutil), plus the kernel's
VmHWM. Figures are printed and written to benchmarks/results/<timestamp>.json (git-ignored);
logs and profiles go to benchmarks/results/<timestamp>/. Nothing is asserted: targets are
reported as met or not.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
import random
import re
import signal
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from benchmarks.stats import CpuMeter, RssSampler, latency_summary, p99_by_tenth
from contracts.errors import ErrorCode
from contracts.topics import DECISIONS, DLQ, ORDERS, PARTNER_REGISTRY
from services.demo import DemoWorld, Message

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
SERVICES = ["order-intake", "por-validator"]

try:  # the load generator's own parsing should cost as little CPU as it can
    import orjson

    _loads = orjson.loads
except ImportError:  # pragma: no cover
    _loads = json.loads


def log(msg: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


def db_url(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


# --------------------------------------------------------------------------- processes


class Proc:
    """A child process that prints READY when it is serving; stopped with SIGTERM."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process, log_path: Path) -> None:
        self.name, self.proc, self.log_path = name, proc, log_path

    @property
    def pid(self) -> int:
        return self.proc.pid

    @classmethod
    async def start(
        cls, name: str, argv: list[str], env: dict[str, str], log_path: Path, timeout: float = 90
    ) -> Proc:
        log_file = open(log_path, "ab")  # noqa: SIM115, ASYNC230 - handed to the child
        proc = await asyncio.create_subprocess_exec(
            *argv, cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE, stderr=log_file
        )
        log_file.close()
        self = cls(name, proc, log_path)
        try:
            async with asyncio.timeout(timeout):
                while True:
                    line = await proc.stdout.readline()
                    if not line:
                        raise RuntimeError(
                            f"{name} exited before READY (code {await proc.wait()}); see {log_path}"
                        )
                    if line.strip() == b"READY":
                        break
        except BaseException:
            await self.stop()
            raise
        return self

    async def stop(self, timeout: float = 30) -> int | None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                await self.proc.wait()
        return self.proc.returncode


@dataclass
class Ctx:
    args: argparse.Namespace
    bootstrap: str
    admin_url: str  # the benchmark's own database on the embedded server
    run_id: str
    out_dir: Path
    kafka_pid: int
    pg_pid: int | None
    template_db: str = "bench_template"
    notes: list[str] = field(default_factory=list)
    # --what-if: environment for the services processes that departs from porgate's defaults
    what_if_env: dict[str, str] = field(default_factory=dict)


def porgate_env(ctx: Ctx, *, prefix: str, database_url: str, **extra: str) -> dict[str, str]:
    from services.common.embedded import free_port

    env = {k: v for k, v in os.environ.items() if not k.startswith("PORGATE_")}
    env.update(
        PORGATE_KAFKA_BOOTSTRAP_SERVERS=ctx.bootstrap,
        PORGATE_DATABASE_URL=database_url,
        PORGATE_TOPIC_PREFIX=prefix,
        PORGATE_HEALTH_PORT=str(free_port()),
        PORGATE_INSTANCE_ID=f"bench-{prefix.rstrip('.')}",
        PYTHONUNBUFFERED="1",
    )
    env.update({f"PORGATE_{k.upper()}": v for k, v in extra.items()})
    env.update(ctx.what_if_env)
    return env


async def start_services(
    ctx: Ctx, label: str, names: list[str], *, prefix: str, database_url: str, trace: bool = False
) -> list[Proc]:
    """`one`: both services in one process; `two`: a process per service (as `porgate run X` each).
    With `trace`, each process adds up its batch steps and SQL (benchmarks/trace.py)."""
    groups = [names] if ctx.args.layout == "one" or len(names) == 1 else [[n] for n in names]

    def env(g: list[str]) -> dict[str, str]:
        e = porgate_env(ctx, prefix=prefix, database_url=database_url)
        if trace:
            e["PORGATE_BENCH_TRACE"] = str(ctx.out_dir / f"trace-{'+'.join(g)}.json")
        return e

    return list(
        await asyncio.gather(
            *(
                Proc.start(
                    "+".join(g),
                    [sys.executable, "-m", "benchmarks.services_proc", *g],
                    env(g),
                    ctx.out_dir / f"{label}-{'+'.join(g)}.log",
                )
                for g in groups
            )
        )
    )


async def stop_all(procs: Sequence[Proc]) -> None:
    await asyncio.gather(*(p.stop() for p in procs))


# --------------------------------------------------------------------------- kafka helpers


async def create_plain_topics(bootstrap: str, names: list[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="porgate-bench")
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(n, num_partitions=partitions, replication_factor=1) for n in names]
        )
    finally:
        await admin.close()


def new_producer(bootstrap: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=False,
        linger_ms=0,
        max_request_size=2 * 1024 * 1024,
    )


class Collector:
    """Reads a topic from its beginning (every partition assigned, no group) and records, per
    key, when this process received the record, the record's own timestamp, and its value."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=10,
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
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
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


async def wait_quiet(ctx: Ctx, label: str) -> None:
    """Wait (up to --wait-quiet seconds) until processes other than ours leave the cores alone."""
    if ctx.args.wait_quiet <= 0:
        return
    me = psutil.Process()
    ours = {me.pid, ctx.kafka_pid, *(c.pid for c in me.children(recursive=True))}
    if ctx.pg_pid:
        ours.add(ctx.pg_pid)
        with contextlib.suppress(psutil.Error):
            ours.update(c.pid for c in psutil.Process(ctx.pg_pid).children(recursive=True))
    deadline = time.monotonic() + ctx.args.wait_quiet
    started = time.monotonic()
    quiet = False
    while True:
        meter = CpuMeter({"ours": sorted(ours)}).start()
        await asyncio.sleep(2.0)
        r = meter.stop()
        other = r["other_processes_cores"]
        if other is not None and other < 0.25:
            quiet = True
            break
        if time.monotonic() > deadline:
            log(f"{label}: other processes still use {other} cores; going ahead")
            break
    waited = time.monotonic() - started
    ctx.notes.append(
        f"{label}: "
        + (
            f"quiet after {waited:.0f} s"
            if quiet
            else f"not quiet after {waited:.0f} s (other processes {other} cores); went ahead"
        )
    )


# --------------------------------------------------------------------------- the data


_PLA_SHAPE = re.compile(r"[0-9]{5,10}")


def order_mix(orders: Sequence[Message]) -> dict:
    lines = Counter()
    kinds = Counter()
    dists = Counter()
    for m in orders:
        d = _loads(m.value)["data"]
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
        d = _loads(v)["data"]
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


# --------------------------------------------------------------------------- phases


async def load_registry(ctx: Ctx, registry: Sequence[Message]) -> dict:
    """DemoWorld's registry through por-validator's projection into the template database."""
    from services.common.db import migrate
    from services.common.topics_admin import create_topics
    from services.registry import build_services

    admin = await asyncpg.connect(ctx.admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{ctx.template_db}"')
    finally:
        await admin.close()
    url = db_url(ctx.admin_url, ctx.template_db)
    from services.common.config import Settings

    for service in build_services(SERVICES, Settings(database_url=url)):
        await migrate(url, service.schema, service.migrations)
    prefix = f"{ctx.run_id}-registry."
    await create_topics(ctx.bootstrap, prefix=prefix)
    procs = await start_services(
        ctx, "registry", ["por-validator"], prefix=prefix, database_url=url
    )
    producer = new_producer(ctx.bootstrap)
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


async def fresh_database(ctx: Ctx, name: str) -> str:
    admin = await asyncpg.connect(ctx.admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{ctx.template_db}"')
    finally:
        await admin.close()
    return db_url(ctx.admin_url, name)


def throughput(
    sent: dict[str, float], seen: dict[str, tuple[float, float, bytes]], keys: Sequence[str]
) -> dict:
    done = sorted(seen[k][0] for k in keys if k in seen)
    if not done:
        return {}
    first = min(sent[k] for k in keys)
    total = len(done) / (done[-1] - first)
    lo, hi = done[len(done) // 10], done[(len(done) * 9) // 10]
    steady = (len(done) * 8 // 10) / (hi - lo) if hi > lo else None
    return {
        "decided": len(done),
        "first_publish_to_last_decision_s": round(done[-1] - first, 2),
        "per_s": round(total, 1),
        "steady_per_s_10_to_90pct": round(steady, 1) if steady else None,
    }


class PySpy:
    """py-spy attached to a process, non-blocking (it never pauses the target); stopped with SIGINT."""

    def __init__(self, pid: int, out: Path, rate: int) -> None:
        self.pid, self.out, self.rate = pid, out, rate
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with open(self.out.with_suffix(".log"), "ab") as err:  # noqa: ASYNC230 - a local file, once
            self.proc = await asyncio.create_subprocess_exec(
                "py-spy",
                "record",
                "--pid",
                str(self.pid),
                "--rate",
                str(self.rate),
                "--format",
                "raw",
                "--output",
                str(self.out),
                "--nonblocking",
                stdout=asyncio.subprocess.DEVNULL,
                stderr=err,
            )
        self.started = time.monotonic()

    async def stop(self) -> float:
        assert self.proc is not None
        seconds = time.monotonic() - self.started
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        return seconds


async def pipeline_phase(
    ctx: Ctx,
    label: str,
    orders: Sequence[Message],
    warmup: Sequence[Message],
    rate: float | None,
    profile: bool = False,
    trace: bool = False,
) -> dict:
    """Orders through order-intake and por-validator on fresh topics and a fresh database.
    `profile`: py-spy attached to the services processes; `trace`: benchmarks/trace.py inside them."""
    from services.common.topics_admin import create_topics

    await wait_quiet(ctx, label)
    prefix = f"{ctx.run_id}-{label}."
    database_url = await fresh_database(ctx, f"bench_{label.replace('-', '_')}")
    await create_topics(ctx.bootstrap, prefix=prefix)
    procs = await start_services(
        ctx, label, SERVICES, prefix=prefix, database_url=database_url, trace=trace
    )
    sampler = RssSampler({p.name: p.pid for p in procs}).start()
    collector = Collector(ctx.bootstrap, prefix + DECISIONS.name)
    producer = new_producer(ctx.bootstrap)
    spies: list[PySpy] = []
    result: dict = {
        "label": label,
        "services_processes": [p.name for p in procs],
        "topic_prefix": prefix,
        "database": database_url.rsplit("/", 1)[-1].split("?")[0],
    }
    try:
        await collector.start()
        await producer.start()
        topic = prefix + ORDERS.name
        # Warm-up: group joins, connections, caches; excluded from every figure.
        t = time.perf_counter()
        await publish(producer, topic, warmup, rate=500.0)
        if not await collector.wait_for([m.key for m in warmup], stall_s=120):
            raise RuntimeError(f"{label}: warm-up orders were not all decided")
        result["warmup"] = {"orders": len(warmup), "seconds": round(time.perf_counter() - t, 2)}
        await asyncio.sleep(1.0)
        gc.collect()
        gc.disable()  # no collector pauses in the load generator while it paces and timestamps
        sampler.mark("start")
        cpu = CpuMeter(
            {
                **{f"services: {p.name}": [p.pid] for p in procs},
                "kafka broker (tansu)": [ctx.kafka_pid],
                "postgresql": [ctx.pg_pid] if ctx.pg_pid else [],
                "load generator (this process)": [os.getpid()],
            },
            recursive=frozenset({"postgresql"}),
        ).start()
        if profile:
            for p in procs:
                spy = PySpy(p.pid, ctx.out_dir / f"profile-{p.name}.txt", ctx.args.profile_rate)
                await spy.start()
                spies.append(spy)
        keys = [m.key for m in orders]
        half = len(keys) // 2
        log(
            f"{label}: publishing {len(orders)} orders"
            + (f" at {rate:g}/s" if rate else " at full speed")
        )
        pub_task = asyncio.create_task(publish(producer, topic, orders, rate))

        def progress(count: int) -> None:
            if count >= half and "middle" not in sampler.marks:
                sampler.mark("middle")

        # Until the producer is done, nothing can stall; after, 60 s without a decision is a stall.
        complete = await collector.wait_for(
            keys, stall_s=60 + (len(orders) / rate if rate else 30), on_progress=progress
        )
        pub = await pub_task
        sampler.mark("end")
        result["cpu"] = cpu.stop()
        if spies:
            result["profile"] = {
                "seconds": round(max([await s.stop() for s in spies]), 1),
                "files": [str(s.out.relative_to(REPO)) for s in spies],
                "rate_hz": ctx.args.profile_rate,
            }
        result["publish"] = pub["summary"]
        result["complete"] = complete
        sent = pub["sent"]
        seen = collector.seen
        result["throughput"] = throughput(sent, seen, keys)
        result["latency_publish_to_decision_consumed"] = latency_summary(
            seen[k][0] - sent[k] for k in keys if k in seen
        )
        result["latency_p99_ms_by_tenth"] = p99_by_tenth(
            sent, {k: seen[k][0] - sent[k] for k in keys if k in seen}
        )
        result["latency_publish_to_decision_record_timestamp"] = latency_summary(
            seen[k][1] - sent[k] for k in keys if k in seen
        )
        result["decision_mix"] = decision_mix([seen[k][2] for k in keys if k in seen])
        result["dead_lettered"] = await dlq_count(ctx.bootstrap, prefix + DLQ.name)
    finally:
        gc.enable()
        for s in spies:
            if s.proc is not None and s.proc.returncode is None:
                await s.stop()
        sampler.capture_hwm()
        await collector.stop()
        await producer.stop()
        await stop_all(procs)
        sampler.stop()
    result["memory"] = sampler.summary()
    if trace:
        result["trace"] = {}
        for p in procs:
            path = ctx.out_dir / f"trace-{p.name}.json"
            if path.exists():
                result["trace"].update(json.loads(path.read_text()))
    return result


async def relay_phase(
    ctx: Ctx,
    orders: Sequence[Message],
    warmup: Sequence[Message],
    rate: float | None = None,
    label: str = "relay",
) -> dict:
    """The baseline: the same messages through a bare aiokafka relay, in its own process
    (flat out, or paced at `rate` to see the broker's and the client's own latency floor)."""
    await wait_quiet(ctx, label)
    prefix = f"{ctx.run_id}-{label}."
    source, target = prefix + "relay.in", prefix + "relay.out"
    await create_plain_topics(ctx.bootstrap, [source, target], ORDERS.partitions)
    # The relay's clients take porgate's settings (and any --what-if), so only the work differs.
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PORGATE_")},
        **ctx.what_if_env,
    }
    proc = await Proc.start(
        "relay",
        [
            sys.executable,
            "-m",
            "benchmarks.relay_proc",
            ctx.bootstrap,
            source,
            target,
            prefix + "relay",
        ],
        env,
        ctx.out_dir / "relay.log",
    )
    sampler = RssSampler({"relay": proc.pid}).start()
    collector = Collector(ctx.bootstrap, target)
    producer = new_producer(ctx.bootstrap)
    result: dict = {
        "process": "benchmarks.relay_proc",
        "topics": [source, target],
        "partitions": ORDERS.partitions,
    }
    try:
        await collector.start()
        await producer.start()
        await publish(producer, source, warmup, rate=500.0)
        if not await collector.wait_for([m.key for m in warmup], stall_s=120):
            raise RuntimeError("relay: warm-up messages were not all relayed")
        await asyncio.sleep(1.0)
        gc.collect()
        gc.disable()
        sampler.mark("start")
        cpu = CpuMeter(
            {
                "relay": [proc.pid],
                "kafka broker (tansu)": [ctx.kafka_pid],
                "load generator (this process)": [os.getpid()],
            }
        ).start()
        keys = [m.key for m in orders]
        log(
            f"{label}: publishing {len(orders)} messages"
            + (f" at {rate:g}/s" if rate else " at full speed")
        )
        pub_task = asyncio.create_task(publish(producer, source, orders, rate))
        result["complete"] = await collector.wait_for(
            keys, stall_s=60 + (len(orders) / rate if rate else 0)
        )
        pub = await pub_task
        sampler.mark("end")
        result["cpu"] = cpu.stop()
        result["publish"] = pub["summary"]
        result["throughput"] = throughput(pub["sent"], collector.seen, keys)
        result["latency_publish_to_relayed_consumed"] = latency_summary(
            collector.seen[k][0] - pub["sent"][k] for k in keys if k in collector.seen
        )
        result["latency_p99_ms_by_tenth"] = p99_by_tenth(
            pub["sent"],
            {k: collector.seen[k][0] - pub["sent"][k] for k in keys if k in collector.seen},
        )
        result["bytes_per_message_avg"] = round(sum(len(m.value) for m in orders) / len(orders))
    finally:
        gc.enable()
        sampler.capture_hwm()
        await collector.stop()
        await producer.stop()
        await proc.stop()
        sampler.stop()
    result["memory"] = sampler.summary()
    return result


async def api_phase(
    ctx: Ctx, orders: Sequence[Message], workers: int, seconds: float, profile: bool = False
) -> dict:
    """POST /v1/partners/validateresellers with one id per request from `workers` concurrent
    httpx clients, against create_app served by HttpServer in its own process."""
    import httpx

    from services.common.embedded import free_port

    await wait_quiet(ctx, "api")

    # The ids dist-eu-1's orders carry: its realistic mix of valid, blocked and malformed.
    pids = [
        li["partnerIdOnRecord"]
        for m in orders
        for d in [_loads(m.value)["data"]]
        if d["distributorId"] == "dist-eu-1"
        for li in d["lineItems"]
        if li.get("partnerIdOnRecord")
    ]
    port = free_port()
    env = porgate_env(
        ctx,
        prefix="",
        database_url=db_url(ctx.admin_url, ctx.template_db),
        api_keys="k=dist-eu-1",
        api_port=str(port),
        api_host="127.0.0.1",
    )
    proc = await Proc.start(
        "api",
        [sys.executable, "-m", "benchmarks.services_proc", "api"],
        env,
        ctx.out_dir / "api.log",
    )
    sampler = RssSampler({"api": proc.pid}).start()
    rng = random.Random(11)
    latencies: list[float] = []
    statuses: Counter = Counter()
    valid = Counter()
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    result: dict = {
        "workers": workers,
        "ids_per_request": 1,
        "distinct_ids": len(set(pids)),
        "process": "benchmarks.services_proc api",
    }
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": "Bearer k"},
            limits=limits,
            timeout=30,
        ) as client:

            async def worker(until: float, record: bool) -> None:
                while time.perf_counter() < until:
                    pid = rng.choice(pids)
                    t = time.perf_counter()
                    r = await client.post(
                        "/v1/partners/validateresellers", json={"partnerIds": [pid]}
                    )
                    elapsed = time.perf_counter() - t
                    if record:
                        latencies.append(elapsed)
                        statuses[r.status_code] += 1
                        if r.status_code == 200 and rng.random() < 0.05:
                            valid[r.json()["validationResults"][0]["isValidPartnerIdOnRecord"]] += 1

            warm_until = time.perf_counter() + min(2.0, seconds / 3)
            await asyncio.gather(*(worker(warm_until, False) for _ in range(workers)))
            sampler.mark("start")
            spy = None
            if profile:
                spy = PySpy(proc.pid, ctx.out_dir / "profile-api.txt", ctx.args.profile_rate)
                await spy.start()
            cpu = CpuMeter(
                {
                    "api": [proc.pid],
                    "postgresql": [ctx.pg_pid] if ctx.pg_pid else [],
                    "load generator (this process)": [os.getpid()],
                },
                recursive=frozenset({"postgresql"}),
            ).start()
            t0 = time.perf_counter()
            log(
                f"api: {workers} workers for {seconds:g} s"
                + (" (py-spy attached)" if profile else "")
            )
            await asyncio.gather(*(worker(t0 + seconds, True) for _ in range(workers)))
            elapsed = time.perf_counter() - t0
            sampler.mark("end")
            result["cpu"] = cpu.stop()
            if spy is not None:
                result["profile"] = {
                    "seconds": round(await spy.stop(), 1),
                    "files": [str(spy.out.relative_to(REPO))],
                    "rate_hz": ctx.args.profile_rate,
                }
        latencies.sort()
        result.update(
            {
                "seconds": round(elapsed, 2),
                "requests": len(latencies),
                "requests_per_s": round(len(latencies) / elapsed, 1),
                "latency": latency_summary(latencies),
                "statuses": {str(k): v for k, v in statuses.items()},
                "sampled_results_valid_vs_blocked": {str(k): v for k, v in valid.items()},
            }
        )
    finally:
        sampler.capture_hwm()
        await proc.stop()
        sampler.stop()
    result["memory"] = sampler.summary()
    return result


# --------------------------------------------------------------------------- report


def machine() -> dict:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus_logical": psutil.cpu_count(),
        "cpus_available": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def targets(res: dict) -> dict:
    out = {}
    full, fixed, relay = res.get("full_speed"), res.get("fixed_load"), res.get("relay_baseline")
    if full and relay and relay.get("throughput"):
        ratio = full["throughput"]["per_s"] / relay["throughput"]["per_s"]
        out["throughput >= 0.5 x bare relay"] = {"measured": round(ratio, 3), "met": ratio >= 0.5}
    if fixed:
        p99 = fixed["latency_publish_to_decision_consumed"].get("p99_ms")
        out[
            f"p99 publish-to-decision < 100 ms at {fixed['publish'].get('pacing', {}).get('target_rate_per_s')}/s"
        ] = {"measured_ms": p99, "met": p99 is not None and p99 < 100}
    rp = res.get("relay_paced")
    if rp:
        p99 = rp["latency_publish_to_relayed_consumed"].get("p99_ms")
        out[
            f"(for reference) bare relay p99 < 100 ms at {rp['publish']['pacing']['target_rate_per_s']:g}/s"
        ] = {"measured_ms": p99, "met": p99 is not None and p99 < 100}
    sus = res.get("sustained_load")
    if sus:
        p99 = sus["latency_publish_to_decision_consumed"].get("p99_ms")
        out[
            f"(for reference, not a target) p99 < 100 ms at {sus['publish']['pacing']['target_rate_per_s']:g}/s"
        ] = {"measured_ms": p99, "met": p99 is not None and p99 < 100}
    if res.get("rules_engine"):
        r = res["rules_engine"]["evaluations_per_s"]
        out["rules engine > 200,000 evaluations/s"] = {"measured": r, "met": r > 200_000}
    mem = []
    for key in ("full_speed", "fixed_load"):
        m = res.get(key, {}).get("memory", {}).get("rss_mib_at", {})
        if {"start", "middle", "end"} <= set(m):
            mem.append(
                {
                    "phase": key,
                    "start": m["start"]["total"],
                    "middle": m["middle"]["total"],
                    "end": m["end"]["total"],
                    "peak": res[key]["memory"]["peak_rss_total_mib"],
                }
            )
    if mem:
        # Flat: no growth over the second half of the orders (the first half includes
        # warming up: buffers, caches, statement caches reaching their working size).
        second = max((x["end"] - x["middle"]) / x["middle"] for x in mem if x["middle"])
        whole = max((x["end"] - x["start"]) / x["start"] for x in mem if x["start"])
        out["memory flat (services RSS, middle -> end of the orders)"] = {
            "growth_second_half_pct": round(second * 100, 1),
            "growth_start_to_end_pct": round(whole * 100, 1),
            "peak_rss_mib": max(x["peak"] for x in mem),
            "phases": mem,
            "met": second < 0.05,
        }
    return out


def fmt_lat(d: dict) -> str:
    if not d.get("count"):
        return "n/a"
    return f"p50 {d['p50_ms']:.1f}  p95 {d['p95_ms']:.1f}  p99 {d['p99_ms']:.1f}  max {d['max_ms']:.1f} ms"


def render(res: dict) -> str:
    out: list[str] = []
    w = out.append
    m = res["machine"]
    w(
        f"porgate benchmark  {res['started_at']}  ({'quick' if res['args']['quick'] else 'full'} run)"
    )
    w(
        f"machine: {m['cpus_available']} cores ({m['cpu_model']}), {m['memory_gib']} GiB, Python {m['python']}"
    )
    w(
        f"servers: embedded Tansu broker + PostgreSQL {res.get('registry_load', {}).get('postgres_settings', {}).get('version', '?')}"
        f", all on this machine with the services and the load generator"
    )
    lay = (
        "both services in ONE process (benchmarks.services_proc order-intake por-validator)"
        if res["args"]["layout"] == "one"
        else "TWO processes, one per service (benchmarks.services_proc order-intake | por-validator), as `porgate run X` each"
    )
    w(f"services under test: {lay}; load generator and decision reader in the benchmark process")
    if res.get("what_if"):
        w(f"*** WHAT-IF EXPERIMENT, not porgate's defaults: {res['what_if']} ***")
    mix = res.get("order_mix")
    if mix:
        w("")
        w(
            f"workload: {mix['orders']:,} orders ({mix['lines']:,} lines, {mix['bytes_per_order_avg']} B avg), "
            f"registry of {res['args']['resellers']:,} resellers"
        )
        w(f"  lines per order: {mix['orders_by_line_count']}")
        w(f"  partner id on record: {mix['partner_id_on_record']}")
    rl = res.get("registry_load")
    if rl:
        w(
            f"  registry: {rl['events']:,} events projected by por-validator in {rl['projected_in_s']} s "
            f"({rl['events_per_s']:,}/s) -> {rl['rows']}"
        )
    re_ = res.get("rules_engine")
    if re_:
        w("")
        w(
            f"rules engine alone (evaluate_por, no I/O): {re_['evaluations_per_s']:,} evaluations/s (best of 5 rounds; median "
            f"{re_['evaluations_per_s_median_round']:,}) "
            f"over {re_['inputs']['pairs']:,} (partner id, distributor) pairs, registry {re_['registry']}"
        )
    cb = res.get("cpu_breakdown")
    if cb:
        w(
            f"pure CPU per order, no I/O: {cb['total_us_per_order']} us  "
            + ", ".join(f"{k} {v}" for k, v in cb["us_per_order"].items())
        )
    for key, title in (
        ("full_speed", "FULL SPEED"),
        ("fixed_load", "FIXED LOAD"),
        (
            "sustained_load",
            "SUSTAINED LOAD (about half the full-speed throughput: latency without a backlog)",
        ),
        ("profiled", "PROFILED (py-spy attached)"),
        ("traced", "TRACED (benchmarks/trace.py inside the services)"),
    ):
        ph = res.get(key)
        if not ph:
            continue
        w("")
        pub = ph["publish"]
        tp = ph["throughput"]
        w(
            f"{title}: {pub['messages']:,} orders published in {pub['seconds']} s ({pub['achieved_rate_per_s']:,}/s)"
            + ("" if ph["complete"] else "  ** INCOMPLETE **")
        )
        if "pacing" in pub:
            w(
                f"  pacing: target {pub['pacing']['target_rate_per_s']:g}/s, send delay behind schedule "
                f"{fmt_lat(pub['pacing']['schedule_lag'])}"
            )
        w(
            f"  throughput: {tp.get('per_s', 0):,} orders decided/s (first publish -> last decision {tp.get('first_publish_to_last_decision_s')} s;"
            f" steady 10-90%: {tp.get('steady_per_s_10_to_90pct')}/s)"
        )
        w(
            f"  latency publish -> decision consumed:  {fmt_lat(ph['latency_publish_to_decision_consumed'])}"
        )
        w(
            f"  latency publish -> decision record ts: {fmt_lat(ph['latency_publish_to_decision_record_timestamp'])}"
        )
        if ph.get("latency_p99_ms_by_tenth"):
            w(
                f"  p99 latency (ms) of each tenth of the orders, first to last: {ph['latency_p99_ms_by_tenth']}"
            )
        dm = ph["decision_mix"]
        w(
            f"  decisions: {dm['decisions']:,} {dm['outcomes']}, dead-lettered {ph['dead_lettered']}; every error code present: "
            f"{'yes' if dm['every_error_code_present'] else 'NO, missing ' + str(dm['missing_error_codes'])}"
        )
        w(
            "  error codes (orders / lines): "
            + ", ".join(
                f"{k.split()[0]} {v['orders']}/{v['lines']}" for k, v in dm["error_codes"].items()
            )
        )
        cpu = ph.get("cpu", {})
        if cpu:
            w(
                f"  CPU over {cpu['wall_s']} s (cores busy): "
                + ", ".join(f"{g} {v['cores']}" for g, v in cpu["by_process_group"].items())
                + f"; machine {cpu['machine_cores_busy']} of {res['machine']['cpus_available']}, of which other processes {cpu['other_processes_cores']}"
            )
        mem = ph["memory"]
        at = mem["rss_mib_at"]
        w(
            f"  services RSS MiB: start {at.get('start', {}).get('total')}, middle {at.get('middle', {}).get('total')}, "
            f"end {at.get('end', {}).get('total')}; peak {mem['peak_rss_total_mib']} (per process {mem['peak_rss_mib']}, VmHWM {mem['vm_hwm_mib']})"
        )
    rb = res.get("relay_baseline")
    if rb:
        w("")
        tp = rb["throughput"]
        w(
            f"BASELINE bare aiokafka relay: {rb['publish']['messages']:,} messages of {rb['bytes_per_message_avg']} B: "
            f"{tp.get('per_s', 0):,} msgs/s (steady {tp.get('steady_per_s_10_to_90pct')}/s); latency {fmt_lat(rb['latency_publish_to_relayed_consumed'])}"
        )
        cpu = rb.get("cpu", {})
        if cpu:
            w(
                "  CPU (cores busy): "
                + ", ".join(f"{g} {v['cores']}" for g, v in cpu["by_process_group"].items())
                + f"; other processes {cpu['other_processes_cores']}; relay peak RSS {rb['memory']['peak_rss_total_mib']} MiB"
            )
        if res.get("full_speed"):
            ratio = res["full_speed"]["throughput"]["per_s"] / tp["per_s"]
            w(
                f"  porgate / relay throughput: {ratio:.2f}  (porgate makes two hops, orders -> validation requests -> "
                f"decisions, each with a PostgreSQL transaction; the relay one hop)"
            )
    rp = res.get("relay_paced")
    if rp:
        pacing = rp["publish"]["pacing"]
        w(
            f"BASELINE relay paced at {pacing['target_rate_per_s']:g}/s ({rp['publish']['messages']:,} messages): latency "
            f"{fmt_lat(rp['latency_publish_to_relayed_consumed'])}  (one hop; the relay's consumer and producer "
            f"have porgate's settings)"
        )
        if rp.get("latency_p99_ms_by_tenth"):
            w(
                f"  p99 latency (ms) of each tenth of the messages, first to last: {rp['latency_p99_ms_by_tenth']}"
            )
    api = res.get("api")
    if api:
        w("")
        w(
            f"API POST /v1/partners/validateresellers (1 id/request, {api['workers']} httpx workers, {api['seconds']} s): "
            f"{api['requests_per_s']:,} req/s; {fmt_lat(api['latency'])}; statuses {api['statuses']}"
        )
        cpu = api.get("cpu", {})
        if cpu:
            w(
                "  CPU (cores busy): "
                + ", ".join(f"{g} {v['cores']}" for g, v in cpu["by_process_group"].items())
                + f"; other processes {cpu['other_processes_cores']}; API peak RSS {api['memory']['peak_rss_total_mib']} MiB"
            )
    tg = res.get("targets")
    if tg:
        w("")
        w("targets (measured, not asserted):")
        for k, v in tg.items():
            shown = {kk: vv for kk, vv in v.items() if kk not in ("met", "phases")}
            w(f"  [{'met' if v['met'] else 'NOT met'}] {k}: {shown}")
    tr = (res.get("traced") or {}).get("trace")
    if tr:
        w("")
        w(
            "wall-clock per record inside the services (traced phase, benchmarks/trace.py; full speed):"
        )
        for consumer, t in tr.items():
            if not t["records"]:
                continue
            w(
                f"  {consumer}: {t['batches']} batches, {t['records']:,} records, mean batch {t['mean_batch']}"
            )
            for step, v in t["steps"].items():
                w(f"    {v['us_per_record']:>8} us/record {v['ms_per_batch']:>8} ms/batch  {step}")
            for q, v in list(t["sql"].items())[:8]:
                w(
                    f"    {v['us_per_record']:>8} us/record {v['ms_per_call']:>8} ms/call  {v['calls_per_batch']} calls/batch  {q}"
                )
    if res.get("profile_summary"):
        w("")
        w("profile (py-spy, full speed): see " + res["profile_summary"]["text_file"])
        for f in res["profile_summary"]["files"]:
            w(
                f"  {Path(f['file']).name}: on a CPU ~{f['on_cpu_share_of_wall']} of the wall time; top self: "
                + "; ".join(f"{fn} {p}%" for fn, p in f["self"][:6])
            )
    if res.get("notes"):
        w("")
        w("notes: " + "; ".join(res["notes"]))
    w("")
    w(f"results: {res['results_file']}")
    return "\n".join(out)


# --------------------------------------------------------------------------- main


async def run(args: argparse.Namespace) -> dict:
    from services.common.embedded import EmbeddedKafka, EmbeddedPostgres

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = RESULTS / stamp
    out_dir.mkdir(parents=True, exist_ok=True)
    res: dict = {"started_at": stamp, "args": vars(args), "machine": machine()}
    results_file = RESULTS / f"{stamp}.json"
    res["results_file"] = str(results_file.relative_to(REPO))

    log(
        f"generating the workload: registry of {args.resellers:,} resellers, {args.orders:,} orders"
    )
    world = DemoWorld(resellers=args.resellers, seed=args.seed)
    registry = world.registry()
    warmup = [world.order() for _ in range(args.warmup)]
    orders = [world.order() for _ in range(args.orders)]
    res["order_mix"] = order_mix(orders)
    gc.collect()
    gc.freeze()  # the workload lives for the whole run: keep it out of every collection

    if "rules" in args.phases:
        from benchmarks.rules import cpu_breakdown, rules_benchmark

        log("rules engine alone")
        res["rules_engine"] = rules_benchmark(registry, orders, seconds=args.rules_seconds)
        res["cpu_breakdown"] = cpu_breakdown(registry, orders)

    kafka = EmbeddedKafka(log_path=out_dir / "tansu.log")
    pg = EmbeddedPostgres()
    log("starting the embedded broker and PostgreSQL")
    kafka.start()
    ctx: Ctx | None = None
    try:
        admin_url = pg.start("porgate_bench")
        ctx = Ctx(
            args=args,
            bootstrap=kafka.bootstrap_servers,
            admin_url=admin_url,
            run_id=f"b{stamp[-7:-1]}",
            out_dir=out_dir,
            kafka_pid=kafka.proc.pid,
            pg_pid=pg.server.get_pid(),
            what_if_env=what_if_env(args),
        )
        res["what_if"] = ctx.what_if_env

        def fresh_broker() -> None:
            # Tansu keeps every record in memory and its fetches cost more the more it holds
            # (embedded.py): each phase gets an empty broker, as it gets an empty database.
            nonlocal kafka
            kafka.stop()
            kafka = EmbeddedKafka(log_path=out_dir / "tansu.log")
            kafka.start()
            ctx.bootstrap, ctx.kafka_pid = kafka.bootstrap_servers, kafka.proc.pid

        log("loading the registry through por-validator")
        res["registry_load"] = await load_registry(ctx, registry)
        if "full" in args.phases:
            fresh_broker()
            res["full_speed"] = await pipeline_phase(ctx, "full", orders, warmup, rate=None)
        if "fixed" in args.phases:
            fresh_broker()
            res["fixed_load"] = await pipeline_phase(ctx, "fixed", orders, warmup, rate=args.rate)
        if "sustained" in args.phases:
            rate = args.sustain_rate
            if not rate and res.get("full_speed", {}).get("throughput", {}).get("per_s"):
                rate = max(50.0, round(res["full_speed"]["throughput"]["per_s"] / 2 / 50) * 50)
            if rate:
                n = min(len(orders), int(rate * args.sustain_seconds))
                fresh_broker()
                res["sustained_load"] = await pipeline_phase(
                    ctx, "sustained", orders[:n], warmup, rate=rate
                )
        if "relay" in args.phases:
            fresh_broker()
            res["relay_baseline"] = await relay_phase(ctx, orders, warmup)
            # The same relay paced at the fixed-load rate: the broker's and aiokafka's own
            # latency floor at that load, to read porgate's fixed-load latency against.
            n = min(len(orders), int(args.rate * args.sustain_seconds))
            fresh_broker()
            res["relay_paced"] = await relay_phase(
                ctx, orders[:n], warmup, rate=args.rate, label="relay-paced"
            )
        if "api" in args.phases:
            fresh_broker()
            res["api"] = await api_phase(ctx, orders, args.api_workers, args.api_seconds)
        if args.profile:
            from benchmarks.profile_summary import summarize_files

            fresh_broker()
            res["profiled"] = await pipeline_phase(
                ctx, "profiled", orders, warmup, rate=None, profile=True
            )
            fresh_broker()
            res["traced"] = await pipeline_phase(
                ctx, "traced", orders, warmup, rate=None, trace=True
            )
            fresh_broker()
            res["api_profiled"] = await api_phase(
                ctx, orders, args.api_workers, args.api_seconds, profile=True
            )
            text, files = [], []
            for key in ("profiled", "api_profiled"):
                prof = res[key]["profile"]
                summary = summarize_files(
                    [REPO / f for f in prof["files"]],
                    top=args.profile_top,
                    seconds=prof["seconds"],
                    rate=prof["rate_hz"],
                )
                text.append(summary["text"])
                files += summary["files"]
            text_file = out_dir / "profile-summary.txt"
            text_file.write_text("\n".join(text))
            res["profile_summary"] = {"text_file": str(text_file.relative_to(REPO)), "files": files}
    except BaseException as exc:
        res["error"] = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        kafka.stop()
        pg.stop()
        res["notes"] = ctx.notes if ctx else []
        with contextlib.suppress(Exception):
            res["targets"] = targets(res)
        # Written even when a phase failed, so what was measured is kept.
        results_file.write_text(json.dumps(res, indent=2, default=str))
    return res


WHAT_IF = {
    # key -> environment variable of the services processes
    "fetch_max_wait_ms": "PORGATE_CONSUMER_FETCH_MAX_WAIT_MS",
    "fetch_min_bytes": "PORGATE_CONSUMER_FETCH_MIN_BYTES",
    "linger_ms": "PORGATE_PRODUCER_LINGER_MS",
    "log_level": "PORGATE_LOG_LEVEL",
    "consumer_max_records": "PORGATE_CONSUMER_MAX_RECORDS",
}


def what_if_env(args: argparse.Namespace) -> dict[str, str]:
    env = {}
    for item in args.what_if:
        key, _, value = item.partition("=")
        if key not in WHAT_IF or not value:
            raise SystemExit(
                f"--what-if {item!r}: expected KEY=VALUE with KEY one of {', '.join(WHAT_IF)}"
            )
        env[WHAT_IF[key]] = value
    return env


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python3 -m benchmarks.run", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--orders", type=int, help="orders per phase (default 50,000; --quick 5,000)")
    p.add_argument(
        "--resellers", type=int, help="resellers in the registry (default 10,000; --quick 1,000)"
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="a fast check: 5,000 orders, 1,000 resellers, shorter phases",
    )
    p.add_argument(
        "--rate", type=float, default=1000.0, help="offered load of the fixed-load phase, orders/s"
    )
    p.add_argument(
        "--layout",
        choices=["one", "two"],
        default="two",
        help="services in one process, or one process each (default two, as in production)",
    )
    p.add_argument(
        "--phases",
        default="rules,full,fixed,sustained,relay,api",
        help="comma-separated subset of rules,full,fixed,sustained,relay,api",
    )
    p.add_argument(
        "--sustain-rate",
        type=float,
        default=0.0,
        help="offered load of the sustained phase (default: half the full-speed throughput)",
    )
    p.add_argument(
        "--sustain-seconds",
        type=float,
        help="length of the sustained phase (default 30; --quick 10)",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="add a full-speed phase with py-spy attached (pip install py-spy)",
    )
    p.add_argument("--profile-rate", type=int, default=100, help="py-spy samples per second")
    p.add_argument(
        "--profile-top", type=int, default=25, help="rows per table in the profile summary"
    )
    p.add_argument(
        "--api-workers", type=int, default=8, help="concurrent httpx workers against the API"
    )
    p.add_argument(
        "--api-seconds",
        type=float,
        help="measured seconds of the API phase (default 15; --quick 4)",
    )
    p.add_argument(
        "--rules-seconds",
        type=float,
        help="seconds of the rules-engine loop (default 3; --quick 1)",
    )
    p.add_argument(
        "--warmup",
        type=int,
        help="warm-up orders per phase, not measured (default 1,000; --quick 300)",
    )
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        help="before each phase, wait up to this many seconds for other processes on the machine to use "
        "less than 0.25 cores (they compete with the services; each phase reports what they used)",
    )
    p.add_argument(
        "--what-if",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an experiment, departing from porgate's defaults in the services processes: "
        "fetch_max_wait_ms=N, fetch_min_bytes=N (subscribers), linger_ms=N (producer), log_level=LEVEL, consumer_max_records=N; repeatable",
    )
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args(argv)
    q = args.quick
    args.orders = args.orders or (5_000 if q else 50_000)
    args.resellers = args.resellers or (1_000 if q else 10_000)
    args.api_seconds = args.api_seconds or (4.0 if q else 15.0)
    args.rules_seconds = args.rules_seconds or (1.0 if q else 3.0)
    args.sustain_seconds = args.sustain_seconds or (10.0 if q else 30.0)
    args.warmup = args.warmup if args.warmup is not None else (300 if q else 1_000)
    args.phases = [x.strip() for x in args.phases.split(",") if x.strip()]
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    started = time.monotonic()
    res = asyncio.run(run(args))
    print(render(res))
    print(f"(benchmark took {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
