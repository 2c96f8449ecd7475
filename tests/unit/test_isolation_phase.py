"""The isolation phase's figures, without servers: per-distributor rates and latencies, and
the targets they are held to (benchmarks/isolation_phase.py)."""

from __future__ import annotations

from benchmarks.isolation_phase import DOWN, isolation_targets, per_distributor


def test_each_distributors_rate_runs_from_its_first_order_to_its_last_decision():
    keys = {"a": ["a1", "a2"], "b": ["b1", "b2"], "c": ["c1"]}
    sent = {"a1": 10.0, "a2": 10.5, "b1": 10.0, "b2": 11.0, "c1": 10.0}
    decided = {"a1": 10.1, "a2": 12.0, "b1": 10.2}
    figures = per_distributor(keys, sent, decided)
    assert figures["a"]["decided"] == 2 and figures["a"]["per_s"] == 1.0
    assert figures["a"]["latency"]["max_ms"] == 1500.0
    assert figures["b"]["decided"] == 1 and figures["b"]["per_s"] == 5.0
    assert figures["c"] == {"decided": 0}


def run(per_s: float, p99: float) -> dict:
    return {"decided": 100, "per_s": per_s, "latency": {"p99_ms": p99}}


def test_the_others_are_held_to_their_baseline_rate_and_p99_and_the_down_one_is_not():
    iso = {
        "baseline": {
            "during": {
                "by_distributor": {"x": run(300, 400), "y": run(300, 400), DOWN: run(300, 400)},
                "others": run(600, 400),
            }
        },
        "down": {
            "during": {
                "by_distributor": {"x": run(280, 590), "y": run(260, 400), DOWN: {"decided": 0}},
                "others": run(540, 600),
            }
        },
    }
    targets = isolation_targets(iso)
    assert set(targets) == {"x", "y", "others"}
    assert (targets["x"]["rate_ratio"], targets["x"]["p99_ratio"], targets["x"]["met"]) == (
        0.933,
        1.48,
        True,
    )
    assert targets["y"]["met"] is False  # 0.867 x the rate
    assert (targets["others"]["rate_ratio"], targets["others"]["met"]) == (0.9, True)
