"""A phase measured in rounds, and the rounds read as one figure (issue 23, item 6).

One full-speed round of the quick run lasts about 3 s: another process taking a core for a
second moves its throughput by a third. So the throughput phases measure k rounds, one after
the other in the same processes (each round's orders or messages new ones, sent once the
round before is through), and the figure is the median of the rounds' throughputs, each
computed as a single phase's always was (orders decided ÷ first publish to last decision),
so a phase in rounds and a single one measure the same thing, and the first round is
exactly the single phase.

A round during which other processes on the machine kept `QUIET_CORES` or more busy is
disturbed: another round is measured, up to 2k rounds in all, and the figure is taken from
the k least disturbed (by the other processes' cores): the undisturbed ones when k of them
were, else the least disturbed of the rest with them, and the report says so.

The combined phase is the round at the median (its latency and mix) with three things
pooled over the rounds the figure is taken from: `throughput.decided` and `cpu` (so CPU
seconds ÷ orders decided is the CPU per order of all of them), and `complete`. Each round's
own figures stay in `repetitions`.
"""

from __future__ import annotations

import statistics
from collections.abc import Awaitable, Callable, Sequence

QUIET_CORES = 0.25  # as --wait-quiet's: other processes below this leave the cores to us


def _other(round_: dict) -> float:
    other = (round_.get("cpu") or {}).get("other_processes_cores")
    return 0.0 if other is None else other


def disturbed(round_: dict) -> bool:
    return _other(round_) >= QUIET_CORES


async def in_rounds(
    wanted: int,
    measure: Callable[[int, int], Awaitable[dict]],
    between: Callable[[dict], Awaitable[None]],
) -> list[dict]:
    """`measure(i, limit)` until `wanted` rounds were undisturbed, at most 2 x `wanted` rounds
    (one round is one, disturbed or not); `between(last round)` before each round but the first."""
    limit = 2 * wanted if wanted > 1 else 1
    out: list[dict] = []
    for i in range(limit):
        if i:
            await between(out[-1])
        r = await measure(i, limit)
        r["disturbed"] = disturbed(r)
        out.append(r)
        if sum(not x["disturbed"] for x in out) >= wanted:
            break
    return out


def _median(values: Sequence[float | None]) -> float | None:
    vs = [v for v in values if v]
    return round(statistics.median(vs), 1) if vs else None


def pooled_cpu(cpus: Sequence[dict]) -> dict:
    """CPU meters of several phases as one: seconds added up, cores over the total wall time."""
    cpus = [c for c in cpus if c]
    if not cpus:
        return {}
    wall = sum(c["wall_s"] for c in cpus)

    def weighted(key: str) -> float | None:
        vs = [(c[key], c["wall_s"]) for c in cpus if c.get(key) is not None]
        return round(sum(v * w for v, w in vs) / wall, 2) if vs and wall else None

    groups: dict[str, dict] = {}
    for c in cpus:
        for g, v in c["by_process_group"].items():
            groups.setdefault(g, {"cpu_s": 0.0})["cpu_s"] += v["cpu_s"]
    for v in groups.values():
        v["cpu_s"] = round(v["cpu_s"], 2)
        v["cores"] = round(v["cpu_s"] / wall, 2) if wall else None
    return {
        "wall_s": round(wall, 2),
        "by_process_group": groups,
        "machine_cores_busy": weighted("machine_cores_busy"),
        "other_processes_cores": weighted("other_processes_cores"),
        "repetitions": len(cpus),
    }


def spread_pct(values: Sequence[float | None]) -> float | None:
    """(largest − smallest) ÷ median, in %: how far apart the repetitions were."""
    vs = [v for v in values if v]
    if len(vs) < 2:
        return None
    return round((max(vs) - min(vs)) / statistics.median(vs) * 100, 1)


def combine(reps: Sequence[dict], latency_key: str, wanted: int | None = None) -> dict:
    """The repetitions of one throughput phase as one result (see the module's docstring).
    `latency_key`: the phase's latency summary, kept per repetition; `wanted`: the
    undisturbed rounds asked for."""
    if len(reps) == 1:
        return reps[0]
    if wanted and len(reps) > wanted:
        # Interference only slows a round down: the `wanted` least disturbed rounds.
        calm = sorted(
            range(len(reps)), key=lambda i: (bool(reps[i].get("disturbed")), _other(reps[i]))
        )
        used = sorted(calm[:wanted])
    else:
        used = [i for i, r in enumerate(reps) if not r.get("disturbed")] or list(range(len(reps)))
    per_s = [r.get("throughput", {}).get("per_s") for r in reps]
    median = _median([per_s[i] for i in used])
    measured = [i for i in used if per_s[i]]
    # The round at the median (with an even count, the nearer of the two middle ones).
    at = min(measured, key=lambda i: abs(per_s[i] - median)) if measured else used[0]
    out = dict(reps[at])
    tp = dict(out.get("throughput", {}))
    steady = [r.get("throughput", {}).get("steady_per_s_10_to_90pct") for r in reps]
    tp.update(
        per_s=median,
        steady_per_s_10_to_90pct=_median([steady[i] for i in used]),
        decided=sum(reps[i].get("throughput", {}).get("decided", 0) for i in used),
        repetitions=len(reps),
        per_s_each=per_s,
        per_s_spread_pct=spread_pct([per_s[i] for i in used]),
        steady_per_s_each=steady,
        disturbed_each=[bool(r.get("disturbed")) for r in reps],
        undisturbed_rounds=sum(not r.get("disturbed") for r in reps),
        undisturbed_rounds_wanted=wanted or len(reps),
        rounds_used=[i + 1 for i in used],
        median_repetition=at + 1,
    )
    out["throughput"] = tp
    out["cpu"] = pooled_cpu([reps[i].get("cpu", {}) for i in used])
    out["complete"] = all(r.get("complete") for r in reps)
    out["repetitions"] = [
        {
            "throughput": r.get("throughput", {}),
            "cpu": r.get("cpu", {}),
            "complete": r.get("complete"),
            "disturbed": bool(r.get("disturbed")),
            "publish": r.get("publish", {}),
            latency_key: r.get(latency_key, {}),
            **({"dead_lettered": r["dead_lettered"]} if "dead_lettered" in r else {}),
        }
        for r in reps
    ]
    return out
