"""The POR validation API under load: single-id requests from concurrent httpx workers."""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence

from benchmarks.processes import REPO, Ctx, Proc, PySpy, db_url, log, porgate_env, wait_quiet
from benchmarks.stats import CpuMeter, RssSampler, latency_summary
from benchmarks.workload import json_loads
from services.devtools.demo import Message


async def api_phase(
    ctx: Ctx, orders: Sequence[Message], workers: int, seconds: float, profile: bool = False
) -> dict:
    """POST /v1/partners/validateresellers with one id per request from `workers` concurrent
    httpx clients, against create_app served by HttpServer in its own process."""
    import httpx

    from services.common.ports import free_port

    await wait_quiet(ctx, "api")

    # The ids dist-eu-1's orders carry: its realistic mix of valid, blocked and malformed.
    pids = [
        li["partnerIdOnRecord"]
        for m in orders
        for d in [json_loads(m.value)["data"]]
        if d["distributorId"] == "dist-eu-1"
        for li in d["lineItems"]
        if li.get("partnerIdOnRecord")
    ]
    port = free_port()
    env = porgate_env(
        ctx,
        prefix="",
        database_url=db_url(ctx.admin_url, ctx.template_db),
        api_keys="bench-api-key-000000001=dist-eu-1",
        api_port=str(port),
        api_host="127.0.0.1",
        # One key drives the whole load: the per-key limit would measure itself, not the API.
        api_rate_per_key="0",
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
            headers={"Authorization": "Bearer bench-api-key-000000001"},
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
