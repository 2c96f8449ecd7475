"""The phases through the broker: porgate's pipeline (order-intake and por-validator, fed
orders, read back as decisions) and the baseline, a bare aiokafka relay moving the same
messages. Each phase starts its processes on fresh topics, warms them up, then measures.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

from aiokafka import AIOKafkaProducer

from benchmarks.processes import (
    REPO,
    SERVICES,
    Ctx,
    Proc,
    PySpy,
    fresh_database,
    log,
    start_services,
    stop_all,
    wait_quiet,
)
from benchmarks.repeat import combine, in_rounds
from benchmarks.stats import (
    CpuMeter,
    RssSampler,
    latency_by_hop,
    latency_summary,
    p99_by_tenth,
    throughput,
)
from benchmarks.workload import (
    Collector,
    create_plain_topics,
    decision_mix,
    dlq_count,
    load_producer,
    publish,
)
from contracts.topics import DECISIONS, DLQ, ORDERS, VALIDATION_REQUESTS
from services.devtools.demo import Message

ROUND_PAUSE_S = 0.5  # between rounds: the services' bookkeeping (outbox, offsets) catches up


async def pipeline_phase(
    ctx: Ctx,
    label: str,
    orders: Sequence[Message],
    warmup: Sequence[Message],
    rate: float | None,
    profile: bool = False,
    trace: bool = False,
    env_extra: dict[str, str] | None = None,
    database_from: str | None = None,
    during: Callable[[AIOKafkaProducer, str], Awaitable[dict]] | None = None,
    rounds: int = 1,
    new_orders: Callable[[], Sequence[Message]] | None = None,
) -> dict:
    """Orders through order-intake and por-validator on fresh topics and a fresh database.
    `profile`: py-spy attached to the services processes; `trace`: benchmarks/trace.py inside
    them; `env_extra`: settings for the services; `database_from`: the database to copy
    instead of the template (one an earlier phase left, with what it cached); `during`: other
    traffic sent while the orders are (given the producer and the topic prefix), its summary
    kept as `during`; `rounds`: undisturbed rounds wanted, the first of `orders`, each later
    one of `new_orders()` sent once the one before is decided, the figures read as one
    (benchmarks/repeat.py)."""
    from services.common.topic_creation import create_topics

    if rounds > 1 and new_orders is None:
        raise ValueError("rounds after the first need new orders (new_orders)")
    await wait_quiet(ctx, label)
    began = time.monotonic()
    prefix = f"{ctx.run_id}-{label}."
    database_url = await fresh_database(
        ctx, f"bench_{label.replace('-', '_')}", template=database_from
    )
    await create_topics(ctx.bootstrap, prefix=prefix)
    procs = await start_services(
        ctx,
        label,
        SERVICES,
        prefix=prefix,
        database_url=database_url,
        trace=trace,
        env_extra=env_extra,
    )
    sampler = RssSampler({p.name: p.pid for p in procs}).start()
    collector = Collector(ctx.bootstrap, prefix + DECISIONS.name)
    # The validation requests too: their record timestamps split the latency by hop.
    requests = Collector(ctx.bootstrap, prefix + VALIDATION_REQUESTS.name, timestamps_only=True)
    producer = load_producer(ctx.bootstrap)
    spies: list[PySpy] = []
    result: dict = {
        "label": label,
        "services_processes": [p.name for p in procs],
        "topic_prefix": prefix,
        "database": f"bench_{label.replace('-', '_')}",
    }
    groups = {
        **{f"services: {p.name}": [p.pid] for p in procs},
        "kafka broker (tansu)": [ctx.kafka_pid],
        "postgresql": [ctx.pg_pid] if ctx.pg_pid else [],
        "load generator (this process)": [os.getpid()],
    }
    try:
        await collector.start()
        await requests.start()
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
        if profile:
            for p in procs:
                spy = PySpy(p.pid, ctx.out_dir / f"profile-{p.name}.txt", ctx.args.profile_rate)
                await spy.start()
                spies.append(spy)
        # Memory: "middle" once half of the rounds' orders are decided.
        half, done = rounds * len(orders) // 2, 0

        def progress(count: int) -> None:
            if done + count >= half and "middle" not in sampler.marks:
                sampler.mark("middle")

        async def measure(i: int, limit: int) -> dict:
            nonlocal done
            batch = orders if not i else new_orders()
            r = await _round(
                label if limit == 1 else f"{label} round {i + 1}",
                groups,
                producer,
                topic,
                collector,
                requests,
                batch,
                rate,
                progress,
                during=(lambda: during(producer, prefix)) if during and not i else None,
            )
            done += len(batch)
            return r

        measured = await in_rounds(rounds, measure, _between_rounds(ctx, label))
        sampler.mark("end")
        if spies:
            result["profile"] = {
                "seconds": round(max([await s.stop() for s in spies]), 1),
                "files": [str(s.out.relative_to(REPO)) for s in spies],
                "rate_hz": ctx.args.profile_rate,
            }
        result.update(combine(measured, "latency_publish_to_decision_consumed", rounds))
        result["dead_lettered"] = await dlq_count(ctx.bootstrap, prefix + DLQ.name)
    finally:
        gc.enable()
        for s in spies:
            if s.proc is not None and s.proc.returncode is None:
                await s.stop()
        sampler.capture_hwm()
        await collector.stop()
        await requests.stop()
        await producer.stop()
        await stop_all(procs)
        sampler.stop()
    result["memory"] = sampler.summary()
    result["phase_wall_s"] = round(time.monotonic() - began, 1)
    log(f"{label}: {result['throughput'].get('per_s')} orders/s; phase {result['phase_wall_s']} s")
    if trace:
        result["trace"] = {}
        for p in procs:
            path = ctx.out_dir / f"trace-{p.name}.json"
            if path.exists():
                result["trace"].update(json.loads(path.read_text()))
    return result


def _between_rounds(ctx: Ctx, label: str) -> Callable[[dict], Awaitable[None]]:
    # After a disturbed round, wait for quiet: --wait-quiet's seconds over all the rounds.
    left = ctx.args.wait_quiet

    async def between(last: dict) -> None:
        nonlocal left
        gc.enable()
        gc.collect()
        gc.disable()
        if last.get("disturbed") and left >= 2:  # a look at the machine takes 2 s
            left -= await wait_quiet(ctx, f"{label}, after a disturbed round", left)
        await asyncio.sleep(ROUND_PAUSE_S)

    return between


async def _round(
    name: str,
    groups: dict[str, list[int]],
    producer: AIOKafkaProducer,
    topic: str,
    collector: Collector,
    requests: Collector,
    orders: Sequence[Message],
    rate: float | None,
    progress: Callable[[int], None],
    during: Callable[[], Awaitable[dict]] | None = None,
) -> dict:
    """One set of orders published (at `rate`, or flat out) and waited for: its throughput,
    latency, CPU and decisions."""
    out: dict = {}
    cpu = CpuMeter(groups, recursive=frozenset({"postgresql"})).start()
    keys = [m.key for m in orders]
    log(
        f"{name}: publishing {len(orders)} orders"
        + (f" at {rate:g}/s" if rate else " at full speed")
    )
    pub_task = asyncio.create_task(publish(producer, topic, orders, rate))
    during_task = asyncio.create_task(during()) if during else None
    # Until the producer is done, nothing can stall; after, 60 s without a decision is a stall.
    complete = await collector.wait_for(
        keys, stall_s=60 + (len(orders) / rate if rate else 30), on_progress=progress
    )
    pub = await pub_task
    if during_task is not None:
        out["during"] = await during_task
    out["cpu"] = cpu.stop()
    out["publish"] = pub["summary"]
    out["complete"] = complete
    sent = pub["sent"]
    seen = collector.seen
    out["throughput"] = throughput(sent, seen, keys)
    out["latency_publish_to_decision_consumed"] = latency_summary(
        seen[k][0] - sent[k] for k in keys if k in seen
    )
    out["latency_p99_ms_by_tenth"] = p99_by_tenth(
        sent, {k: seen[k][0] - sent[k] for k in keys if k in seen}
    )
    out["latency_publish_to_decision_record_timestamp"] = latency_summary(
        seen[k][1] - sent[k] for k in keys if k in seen
    )
    await requests.wait_for(keys, stall_s=2.0)  # it fetches at most every 0.5 s
    out["latency_by_hop"] = latency_by_hop(sent, requests.seen, seen, keys)
    out["decision_mix"] = decision_mix([seen[k][2] for k in keys if k in seen])
    return out


async def relay_phase(
    ctx: Ctx,
    orders: Sequence[Message],
    warmup: Sequence[Message],
    rate: float | None = None,
    label: str = "relay",
    rounds: int = 1,
) -> dict:
    """The baseline: the same messages through a bare aiokafka relay, in its own process
    (flat out, or paced at `rate` to see the broker's and the client's own latency floor).
    `rounds`: undisturbed rounds wanted, each of the same messages under new keys, sent once
    the one before is relayed, the figures read as one (benchmarks/repeat.py)."""
    await wait_quiet(ctx, label)
    began = time.monotonic()
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
    producer = load_producer(ctx.bootstrap)
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
        groups = {
            "relay": [proc.pid],
            "kafka broker (tansu)": [ctx.kafka_pid],
            "load generator (this process)": [os.getpid()],
        }

        async def measure(i: int, limit: int) -> dict:
            # The same values under new keys: the relay moves bytes, the reader matches keys.
            batch = orders if not i else [replace(m, key=f"{m.key}.{i}") for m in orders]
            name = label if limit == 1 else f"{label} round {i + 1}"
            return await _relay_round(name, groups, producer, source, collector, batch, rate)

        measured = await in_rounds(rounds, measure, _between_rounds(ctx, label))
        sampler.mark("end")
        result.update(combine(measured, "latency_publish_to_relayed_consumed", rounds))
        result["bytes_per_message_avg"] = round(sum(len(m.value) for m in orders) / len(orders))
    finally:
        gc.enable()
        sampler.capture_hwm()
        await collector.stop()
        await producer.stop()
        await proc.stop()
        sampler.stop()
    result["memory"] = sampler.summary()
    result["phase_wall_s"] = round(time.monotonic() - began, 1)
    log(f"{label}: {result['throughput'].get('per_s')} msgs/s; phase {result['phase_wall_s']} s")
    return result


async def _relay_round(
    name: str,
    groups: dict[str, list[int]],
    producer: AIOKafkaProducer,
    source: str,
    collector: Collector,
    messages: Sequence[Message],
    rate: float | None,
) -> dict:
    out: dict = {}
    cpu = CpuMeter(groups).start()
    keys = [m.key for m in messages]
    log(
        f"{name}: publishing {len(messages)} messages"
        + (f" at {rate:g}/s" if rate else " at full speed")
    )
    pub_task = asyncio.create_task(publish(producer, source, messages, rate))
    out["complete"] = await collector.wait_for(
        keys, stall_s=60 + (len(messages) / rate if rate else 0)
    )
    pub = await pub_task
    out["cpu"] = cpu.stop()
    out["publish"] = pub["summary"]
    seen, sent = collector.seen, pub["sent"]
    out["throughput"] = throughput(sent, seen, keys)
    out["latency_publish_to_relayed_consumed"] = latency_summary(
        seen[k][0] - sent[k] for k in keys if k in seen
    )
    out["latency_p99_ms_by_tenth"] = p99_by_tenth(
        sent, {k: seen[k][0] - sent[k] for k in keys if k in seen}
    )
    return out
