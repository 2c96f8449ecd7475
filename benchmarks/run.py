"""porgate's benchmark: `python3 -m benchmarks.run [--orders 50000] [--resellers 10000] [--quick]`.

On the embedded servers it starts itself (Tansu, PostgreSQL 18), with the services under
test in processes of their own (benchmarks/services_proc.py) and the load generator in this
one:

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
   (console, only when asked: --phases console) the operator console's page times with a
   million decisions in PostgreSQL (benchmarks/console_phase.py);
7. with --profile: a full-speed phase with py-spy attached to the services process(es), one
   with benchmarks/trace.py inside them, and the API phase with py-spy.

Latency = the time this process consumed the decision record from por.decisions.v1 minus the
time it handed the order to its producer, matched by orderId (the decision's key). Memory is
the services processes' RSS, sampled every 0.2 s in a thread (psutil), plus the kernel's
VmHWM. Figures are printed and written to benchmarks/results/<timestamp>.json (git-ignored);
logs and profiles go to benchmarks/results/<timestamp>/. Nothing is asserted: targets are
reported as met or not.

This module runs the phases in order; the rest lives in benchmarks/processes.py (child
processes, databases), workload.py (orders, registry, publishing, reading decisions),
phases.py (pipeline and relay), api_phase.py, rules.py and report.py (targets, rendering).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import shutil
import time
from datetime import UTC, datetime

from benchmarks.api_phase import api_phase
from benchmarks.console_phase import console_phase
from benchmarks.figures import cpu_per_order
from benchmarks.phases import pipeline_phase, relay_phase
from benchmarks.processes import REPO, RESULTS, Ctx, log
from benchmarks.report import machine, render, targets
from benchmarks.workload import load_registry, order_mix
from services.devtools.demo import DemoWorld


async def run(args: argparse.Namespace) -> dict:
    from services.devtools.embedded import EmbeddedKafka, EmbeddedPostgres

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
            res["full_speed"] = await pipeline_phase(
                ctx,
                "full",
                orders,
                warmup,
                rate=None,
                # In rounds, each of new orders (issue 23: one 3-second round is noisy).
                rounds=args.repeat,
                new_orders=lambda: [world.order() for _ in orders],
            )
        if "fixed" in args.phases:
            fresh_broker()
            res["fixed_load"] = await pipeline_phase(ctx, "fixed", orders, warmup, rate=args.rate)
        if "stages" in args.phases:
            # The fixed load again, with every batch stage and SQL statement timed inside the
            # services: where an order waits at a moderate load (benchmarks/trace.py).
            fresh_broker()
            res["traced_fixed"] = await pipeline_phase(
                ctx, "stages", orders, warmup, rate=args.rate, trace=True
            )
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
            res["relay_baseline"] = await relay_phase(ctx, orders, warmup, rounds=args.relay_rounds)
            # The same relay paced at the fixed-load rate: the broker's and aiokafka's own
            # latency floor at that load, to read porgate's fixed-load latency against.
            # As many messages as the fixed-load phase: the broker slows as it fills, so both
            # phases must fill it as much.
            n = len(orders)
            fresh_broker()
            res["relay_paced"] = await relay_phase(
                ctx, orders[:n], warmup, rate=args.rate, label="relay-paced"
            )
        if "partner-center" in args.phases:
            from benchmarks.partner_center_phase import partner_center_phase
            from benchmarks.workload import reissued

            # New events for each phase: the warm phase copies the cold phase's database. Its
            # orders are the cold phase's again as new events, so that every PLA id they
            # name was answered before: a warm cache, not one warmed by a similar workload.
            cold = ([world.order() for _ in orders], [world.order() for _ in warmup])
            warm = (reissued(cold[0], "warm"), reissued(cold[1], "warm"))
            res["partner_center"] = await partner_center_phase(
                ctx, cold, warm, fresh_broker, rounds=args.repeat
            )
        if "isolation" in args.phases:
            from benchmarks.isolation_phase import isolation_phase

            res["isolation"] = await isolation_phase(ctx, orders, warmup, fresh_broker)
        if "release" in args.phases:
            from benchmarks.release_phase import release_phase

            res["release"] = await release_phase(ctx, orders, warmup, fresh_broker)
        if "api" in args.phases:
            fresh_broker()
            res["api"] = await api_phase(ctx, orders, args.api_workers, args.api_seconds)
        if "console" in args.phases:
            fresh_broker()
            res["console"] = await console_phase(ctx, args.console_decisions, args.console_requests)
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
            res["cpu_per_order"] = cpu_per_order(res)
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
    "consumer_concurrency": "PORGATE_CONSUMER_CONCURRENCY",
    "compression": "PORGATE_PRODUCER_COMPRESSION",
    "batch_bytes": "PORGATE_PRODUCER_BATCH_BYTES",
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
        "--repeat",
        type=int,
        help="rounds of --orders in the full-speed phase, its figure the median round's; a round"
        " other processes disturbed is left out and measured again, up to twice as many rounds"
        " (default 1; --quick 3: one 3-second round moves by a third with the machine's noise)",
    )
    p.add_argument(
        "--relay-rounds",
        type=int,
        help="rounds of the relay phase, as --repeat's (default --repeat; --quick 7: a round of"
        " 5,000 messages lasts 0.2 s, and one moves by a third)",
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
        help="comma-separated subset of rules,full,fixed,stages,sustained,relay,api,partner-center,"
        "isolation,release,console (stages: the fixed load with every batch stage timed inside the services;"
        " console: page times with a million decisions, not in the default set;"
        " partner-center: full speed decided by Partner Center's stand-in, cold and warm cache;"
        " isolation: one distributor's Partner Center down, the others' rate and p99;"
        " release: one registry event releasing 1,000 blocked transactions, and full speed during"
        " a 10,000-event registry sync)",
    )
    p.add_argument(
        "--partner-center-delay-ms",
        type=float,
        default=50.0,
        help="how long the Partner Center stand-in takes to answer, in the partner-center phase",
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
    p.add_argument(
        "--console-decisions",
        type=int,
        help="decisions in the database for the console phase (default 1,000,000; --quick 100,000)",
    )
    p.add_argument(
        "--console-requests",
        type=int,
        help="timed requests per console page (default 200; --quick 50)",
    )
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args(argv)
    if args.profile and shutil.which("py-spy") is None:
        p.error("--profile attaches py-spy, which is not installed: pip install py-spy")
    q = args.quick
    args.orders = args.orders or (5_000 if q else 50_000)
    args.resellers = args.resellers or (1_000 if q else 10_000)
    args.api_seconds = args.api_seconds or (4.0 if q else 15.0)
    args.rules_seconds = args.rules_seconds or (1.0 if q else 3.0)
    args.sustain_seconds = args.sustain_seconds or (10.0 if q else 30.0)
    args.console_decisions = args.console_decisions or (100_000 if q else 1_000_000)
    args.console_requests = args.console_requests or (50 if q else 200)
    args.repeat = max(1, args.repeat or (3 if q else 1))
    args.relay_rounds = max(1, args.relay_rounds or (7 if q else args.repeat))
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
