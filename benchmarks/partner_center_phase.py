"""The `partner-center` phase: the full-speed pipeline with Partner Center as the authority,
answered by the stand-in (in its own process) after a fixed delay, as a far-away service.

Cold: a cache TTL of 0, so every batch asks Partner Center for every id it holds (once per
distributor). Warm: the default TTL on a copy of the cold phase's database (pipeline_phase
names it bench_pc_cold), whose cache then holds an answer for almost every PLA id the new
orders carry. Each at full speed and paced; each run gets its own stand-in, so its call
counts are its own. The warm run at full speed is measured in `rounds` rounds, as the
registry's full-speed phase is (benchmarks/repeat.py), each later round the cold phase's
orders once more as new events: the two figures target 5 compares are read alike.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Sequence

from benchmarks.phases import pipeline_phase
from benchmarks.processes import Ctx, Proc, porgate_env
from benchmarks.workload import Message, reissued


async def partner_center_phase(
    ctx: Ctx,
    cold: tuple[Sequence[Message], Sequence[Message]],
    warm: tuple[Sequence[Message], Sequence[Message]],
    fresh_broker,
    rounds: int = 1,
) -> dict:
    """`cold` and `warm`: (orders, warm-up orders) each, never the same events twice (the
    warm phase's database holds the cold phase's inbox)."""
    from services.devtools.demo_standins import standin_credentials

    credentials = ctx.out_dir / "partner-center-credentials.json"
    credentials.write_text(json.dumps(standin_credentials()))
    delay_s = ctx.args.partner_center_delay_ms / 1000
    result: dict = {"standin_delay_ms": ctx.args.partner_center_delay_ms}
    # Paced too, at --rate for 20 s: at full speed the backlog is the latency, paced it is
    # what Partner Center's answers add to each order.
    n = int(ctx.args.rate * 20)
    tags = itertools.count(2)

    def warm_again() -> list[Message]:
        return reissued(list(cold[0]), f"warm{next(tags)}")

    runs = (
        ("pc-cold", cold, "0", None, None, 1),
        ("pc-warm", warm, "300", None, "bench_pc_cold", rounds),
        ("pc-cold-paced", (cold[0][:n], cold[1]), "0", ctx.args.rate, None, 1),
        ("pc-warm-paced", (warm[0][:n], warm[1]), "300", ctx.args.rate, "bench_pc_cold", 1),
    )
    for label, (orders, warmup), ttl, rate, database, k in runs:
        from services.common.ports import free_port

        port = free_port()
        counts = ctx.out_dir / f"{label}-standin-calls.json"
        standin = await Proc.start(
            f"{label}-standin",
            [
                sys.executable,
                "-m",
                "benchmarks.standin_proc",
                str(port),
                str(ctx.args.resellers),
                str(ctx.args.seed),
                str(delay_s),
                str(counts),
            ],
            porgate_env(ctx, prefix="", database_url=""),
            ctx.out_dir / f"{label}-standin.log",
        )
        url = f"http://127.0.0.1:{port}"
        try:
            fresh_broker()
            phase = await pipeline_phase(
                ctx,
                label,
                orders,
                warmup,
                rate=rate,
                env_extra={
                    "PORGATE_POR_AUTHORITY": "partner-center",
                    "PORGATE_PARTNER_CENTER_URL": url,
                    "PORGATE_ENTRA_AUTHORITY_URL": url,
                    "PORGATE_PARTNER_CENTER_CREDENTIALS_FILE": str(credentials),
                    "PORGATE_PARTNER_CENTER_CACHE_TTL_S": ttl,
                },
                database_from=database,
                rounds=k,
                new_orders=warm_again if k > 1 else None,
            )
        finally:
            await standin.stop()
        phase["standin_calls"] = json.loads(counts.read_text()) if counts.exists() else {}
        phase["cache_ttl_s"] = float(ttl)
        result[label.removeprefix("pc-").replace("-", "_")] = phase
    return result
