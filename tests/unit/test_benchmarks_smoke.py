"""The benchmark's pure parts, without servers: figures are computed the way the README says."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path

from benchmarks import profile_summary, run, stats, trace
from benchmarks.phases import throughput
from benchmarks.rules import cpu_breakdown, registry_from_messages, rules_benchmark
from benchmarks.trace import Totals
from benchmarks.workload import decision_mix, order_mix
from contracts.errors import ErrorCode
from services.devtools.demo import DemoWorld


def test_percentiles_are_nearest_rank():
    values = [i / 1000 for i in range(1, 101)]  # 1..100 ms
    s = stats.latency_summary(values)
    assert (s["p50_ms"], s["p95_ms"], s["p99_ms"], s["max_ms"]) == (50.0, 95.0, 99.0, 100.0)
    assert stats.latency_summary([]) == {"count": 0}


def test_quick_defaults_and_what_if():
    args = run.parse_args(["--quick"])
    assert (args.orders, args.resellers) == (5_000, 1_000)
    assert "full" in args.phases and "relay" in args.phases
    full = run.parse_args([])
    assert (full.orders, full.resellers, full.rate) == (50_000, 10_000, 1000.0)
    args = run.parse_args(["--what-if", "fetch_max_wait_ms=50"])
    assert run.what_if_env(args) == {"PORGATE_CONSUMER_FETCH_MAX_WAIT_MS": "50"}


def test_rules_engine_over_demo_registry_sees_every_code():
    world = DemoWorld(resellers=300, seed=7)
    registry = world.registry()
    orders = [world.order() for _ in range(1500)]
    reg = registry_from_messages(registry)
    assert len(reg.accounts) == 600 and len(reg.tenants) == 300 and len(reg.distributors) == 3
    result = rules_benchmark(registry, orders, seconds=0.2)
    assert result["evaluations_per_s"] > 0
    assert all(n > 0 for n in result["inputs"]["codes"].values()), result["inputs"]["codes"]
    breakdown = cpu_breakdown(registry, orders, limit=50)
    assert (
        breakdown["total_us_per_order"] > 0
        and breakdown["bytes"]["decision"] > breakdown["bytes"]["order"] / 2
    )


def test_order_and_decision_mix():
    world = DemoWorld(resellers=100, seed=7)
    world.registry()
    orders = [world.order() for _ in range(400)]
    mix = order_mix(orders)
    assert mix["orders"] == 400 and mix["lines"] >= 400
    decision = {
        "data": {
            "outcome": "blocked",
            "basis": "validated",
            "errorCodes": [int(ErrorCode.PLA_INACTIVE)],
            "lines": [{"errorCodes": [int(ErrorCode.PLA_INACTIVE)]}, {"errorCodes": []}],
        }
    }
    dm = decision_mix([json.dumps(decision).encode()])
    assert dm["outcomes"] == {"blocked": 1} and dm["multi_line_orders_blocked"] == 1
    assert (
        not dm["every_error_code_present"] and len(dm["missing_error_codes"]) == len(ErrorCode) - 1
    )


def test_throughput_from_publish_and_decision_times():
    keys = [f"k{i}" for i in range(100)]
    sent = {k: 1000.0 + i * 0.01 for i, k in enumerate(keys)}
    seen = {k: (1000.5 + i * 0.01, 0.0, b"") for i, k in enumerate(keys)}
    tp = throughput(sent, seen, keys)
    assert tp["decided"] == 100 and abs(tp["first_publish_to_last_decision_s"] - 1.49) < 1e-6


def test_profile_summary_of_collapsed_stacks(tmp_path: Path):
    raw = tmp_path / "p.txt"
    raw.write_text(
        "main (benchmarks/services_proc.py:1);handle_batch (services/common/pipeline.py:10);"
        "decode (contracts/codec.py:5);model_validate (pydantic/main.py:700) 30\n"
        "main (benchmarks/services_proc.py:1);handle_batch (services/common/pipeline.py:12);"
        "execute (asyncpg/connection.py:3) 10\n"
        "main (benchmarks/services_proc.py:1);select (selectors.py:468) 60\n"
    )
    s = profile_summary.summarize(raw, seconds=1.0, rate=100)
    assert s["on_cpu_samples"] == 40 and s["on_cpu_share_of_wall"] == 0.4
    assert s["self"][0] == ("model_validate (pydantic/main.py)", 75.0)
    assert ("pydantic", 75.0) in s["by_library"]
    assert ("decode (contracts/codec.py) -> model_validate (pydantic/main.py)", 75.0) in s[
        "porgate_to_library"
    ]
    assert "on-CPU samples" in profile_summary.render(s)


def test_trace_report_per_record_and_per_batch():
    t = Totals()
    t.batch_sizes["svc:c"] += [100, 300]
    t.add(t.steps, "svc:c", "batch (whole batch)", 0.4, 2)
    t.add(t.sql, "svc:c", "execute: COMMIT;", 0.01, 2)
    r = t.report()["svc:c"]
    assert r["records"] == 400 and r["mean_batch"] == 200.0
    assert r["steps"]["batch (whole batch)"]["us_per_record"] == 1000.0
    assert r["sql"]["execute: COMMIT;"]["calls_per_batch"] == 1.0


@dataclass(frozen=True)
class _Consumer:
    name: str
    handle: object


@dataclass
class _Service:
    name: str
    consumers: tuple[_Consumer, ...]


def test_stage_timer_attributes_handler_and_sql_to_the_batch_consumer():
    """Batch sizes come from the "batch" stage; the handler's and the background task's SQL
    count against the consumer whose batch started them, through the contextvar."""
    t = Totals()

    async def fetch(conn, query, *args):
        await asyncio.sleep(0)
        return []

    timed_fetch = trace.timed_query("fetch", fetch, t)

    async def handle(conn, events):
        await timed_fetch(conn, "SELECT  1\n FROM registry")
        return [() for _ in events]

    [service] = trace.wrap_services([_Service("svc", (_Consumer("requests", handle),))], totals=t)
    handler = service.consumers[0].handle

    async def one_batch(events: list) -> None:
        with t.stage("svc:requests", "batch", len(events)):
            with t.stage("svc:requests", "transaction", len(events)):
                assert await handler(None, events) == [()] * len(events)
            publishing = asyncio.create_task(timed_fetch(None, "DELETE FROM outbox"))
        await publishing  # after the batch stage: the task still counts for its consumer

    async def main() -> None:
        await one_batch(["e1", "e2", "e3"])
        await one_batch(["e4"])
        await timed_fetch(None, "SELECT 2")

    asyncio.run(main())
    r = t.report()
    c = r["svc:requests"]
    assert (c["batches"], c["records"], c["mean_batch"]) == (2, 4, 2.0)
    assert c["steps"][trace.STAGES["batch"]]["calls"] == 2
    assert c["steps"][trace.STAGES["transaction"]]["calls"] == 2
    assert c["steps"][trace.HANDLER]["calls"] == 2
    assert c["sql"]["fetch: SELECT 1 FROM registry"]["calls_per_batch"] == 1.0
    assert c["sql"]["fetch: DELETE FROM outbox"]["calls"] == 2
    assert r["(outside a batch)"]["sql"]["fetch: SELECT 2"]["calls"] == 1


def test_p99_by_tenth_follows_the_sending_order():
    from benchmarks.stats import p99_by_tenth

    sent = {f"k{i}": float(i) for i in range(100)}
    # The latency grows with the sending order: each tenth's p99 is its own slowest.
    latency = {f"k{i}": i / 1000.0 for i in range(100)}
    assert p99_by_tenth(sent, latency) == [
        9.0,
        19.0,
        29.0,
        39.0,
        49.0,
        59.0,
        69.0,
        79.0,
        89.0,
        99.0,
    ]
    # Sent in the reverse order of the keys' names: the tenths follow `sent`, not the keys.
    assert p99_by_tenth({k: -v for k, v in sent.items()}, latency) == [
        99.0,
        89.0,
        79.0,
        69.0,
        59.0,
        49.0,
        39.0,
        29.0,
        19.0,
        9.0,
    ]
