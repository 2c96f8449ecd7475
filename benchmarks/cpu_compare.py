"""The pure CPU per order (benchmarks.rules.cpu_breakdown) of several trees, side by side:
`python -m benchmarks.cpu_compare BASE [OTHER ...] [--rounds 5]` (OTHER: default this tree).

Each round runs cpu_breakdown once per tree, each in a fresh interpreter with the tree's own
code (PYTHONPATH and cwd = that tree), the trees' order rotating from round to round so that
a noisy neighbour weighs on all; the table gives each step's median over the rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Runs inside the measured tree; DemoWorld moved from services.demo to services.devtools.demo.
_CHILD = """
import gc, json, sys, time
if {cpu_time}:
    time.perf_counter = time.process_time  # cpu_breakdown's clock: this process's CPU time
try:
    from services.devtools.demo import DemoWorld
except ImportError:
    from services.demo import DemoWorld
from benchmarks.rules import cpu_breakdown
world = DemoWorld(resellers={resellers}, seed={seed})
registry = world.registry()
orders = [world.order() for _ in range({orders})]
gc.collect()
gc.freeze()  # as benchmarks.run does before the rules phase
if {no_gc}:
    gc.disable()
json.dump(cpu_breakdown(registry, orders, limit={orders}), sys.stdout)
"""


def breakdown(tree: Path, args: argparse.Namespace) -> dict:
    code = _CHILD.format(
        orders=args.orders,
        resellers=args.resellers,
        seed=args.seed,
        cpu_time=not args.wall,
        no_gc=args.no_gc,
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "trees", type=Path, nargs="+", help="the base first (e.g. a worktree of 41a4147)"
    )
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--orders", type=int, default=3000)
    p.add_argument("--resellers", type=int, default=1000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--wall",
        action="store_true",
        help="time by the wall clock, as benchmarks.run does (default: the process's CPU time,"
        " which other processes on a shared machine disturb less)",
    )
    p.add_argument(
        "--no-gc",
        action="store_true",
        help="with the cyclic garbage collector off: how much of each step is collection",
    )
    args = p.parse_args(argv)
    trees = [t.resolve() for t in args.trees]
    if len(trees) == 1:
        trees.append(REPO)
    runs: list[list[dict]] = [[] for _ in trees]
    for r in range(args.rounds):
        for i in [(r + k) % len(trees) for k in range(len(trees))]:
            runs[i].append(breakdown(trees[i], args))
        totals = ", ".join(
            f"{t.name} {runs[i][-1]['total_us_per_order']}" for i, t in enumerate(trees)
        )
        print(f"round {r + 1} (µs): {totals}", file=sys.stderr)

    steps: list[str] = []
    for rs in runs:
        steps += [s for s in rs[0]["us_per_order"] if s not in steps]

    def median(rs: list[dict], step: str) -> str:
        xs = [r["us_per_order"][step] for r in rs if step in r["us_per_order"]]
        return f"{statistics.median(xs):.1f}" if xs else "–"

    print("| step | " + " | ".join(f"{t.name} µs" for t in trees) + " |")
    print("|---" * (len(trees) + 1) + "|")
    for s in steps:
        print(f"| {s} | " + " | ".join(median(rs, s) for rs in runs) + " |")
    totals = [statistics.median(r["total_us_per_order"] for r in rs) for rs in runs]
    print("| **total** | " + " | ".join(f"**{t:.1f}**" for t in totals) + " |")
    print(
        "vs the base: " + ", ".join(f"{t.name} {x / totals[0]:.2f}" for t, x in zip(trees, totals))
    )
    print("bytes per order: " + json.dumps({t.name: rs[0]["bytes"] for t, rs in zip(trees, runs)}))


if __name__ == "__main__":
    main()
