"""The benchmark's repeated phases and the figures derived from a run (issue 23), without servers."""

from __future__ import annotations

import asyncio

from benchmarks import report, run
from benchmarks.figures import cpu_per_order, issue23_targets
from benchmarks.repeat import QUIET_CORES, combine, in_rounds, pooled_cpu, spread_pct


def _phase(per_s: float, decided: int, services_s: float, wall_s: float, p99: float) -> dict:
    return {
        "throughput": {"decided": decided, "per_s": per_s, "steady_per_s_10_to_90pct": per_s * 1.1},
        "cpu": {
            "wall_s": wall_s,
            "by_process_group": {
                "services: order-intake": {"cpu_s": services_s / 4, "cores": 0.0},
                "services: por-validator": {"cpu_s": services_s * 3 / 4, "cores": 0.0},
                "postgresql": {"cpu_s": 0.5, "cores": 0.0},
                "kafka broker (tansu)": {"cpu_s": 0.25, "cores": 0.0},
            },
            "machine_cores_busy": 1.0 + wall_s / 10,
            "other_processes_cores": wall_s / 10,
        },
        "complete": True,
        "latency_publish_to_decision_consumed": {"p99_ms": p99},
        "decision_mix": {"decisions": decided},
    }


def test_the_median_round_is_the_figure_and_cpu_is_pooled_over_every_round():
    reps = [
        _phase(2000, 5000, 1.0, 2.0, 10),
        _phase(1000, 5000, 2.0, 4.0, 30),
        _phase(1800, 5000, 1.5, 3.0, 20),
    ]
    c = combine(reps, "latency_publish_to_decision_consumed")
    tp = c["throughput"]
    assert (tp["per_s"], tp["median_repetition"], tp["repetitions"]) == (1800, 3, 3)
    assert tp["per_s_each"] == [2000, 1000, 1800] and tp["per_s_spread_pct"] == round(
        1000 / 1800 * 100, 1
    )
    assert tp["steady_per_s_10_to_90pct"] == 1980.0
    # The median round's own figures stand for the phase...
    assert c["latency_publish_to_decision_consumed"] == {"p99_ms": 20}
    # ... but orders decided and CPU seconds cover every round, so their ratio is per order.
    assert tp["decided"] == 15000
    cpu = c["cpu"]
    assert cpu["wall_s"] == 9.0 and cpu["repetitions"] == 3
    assert cpu["by_process_group"]["services: por-validator"]["cpu_s"] == 3.38  # 4.5 * 3/4
    assert cpu["by_process_group"]["postgresql"] == {"cpu_s": 1.5, "cores": round(1.5 / 9, 2)}
    # Weighted by each round's wall time: (0.2*2 + 0.4*4 + 0.3*3) / 9.
    assert cpu["other_processes_cores"] == round(2.9 / 9, 2)
    assert [r["latency_publish_to_decision_consumed"]["p99_ms"] for r in c["repetitions"]] == [
        10,
        30,
        20,
    ]
    # The rounds are kept in the results; what they did not share is not merged into them.
    assert (
        c["repetitions"][1]["throughput"]["per_s"] == 1000
        and "decision_mix" not in c["repetitions"][1]
    )


def test_one_round_is_the_phase_as_it_was_and_an_even_count_takes_the_middle():
    one = _phase(1500, 5000, 1.0, 2.0, 10)
    assert combine([one], "latency_publish_to_decision_consumed") is one
    two = combine([_phase(1000, 10, 1.0, 1.0, 1), _phase(1200, 10, 1.0, 1.0, 2)], "x")
    assert two["throughput"]["per_s"] == 1100.0 and two["throughput"]["median_repetition"] in (1, 2)
    incomplete = _phase(900, 9, 1.0, 1.0, 1) | {"complete": False}
    assert combine([incomplete, _phase(1000, 10, 1.0, 1.0, 1)], "x")["complete"] is False
    assert spread_pct([100, None]) is None and pooled_cpu([]) == {}


def test_quick_runs_repeat_the_throughput_phases():
    quick = run.parse_args(["--quick"])
    assert (quick.repeat, quick.relay_rounds) == (3, 7)
    full = run.parse_args([])
    assert (full.repeat, full.relay_rounds) == (1, 1)
    five = run.parse_args(["--repeat", "5"])
    assert (five.repeat, five.relay_rounds) == (5, 5)


def test_cpu_per_order_against_the_pure_cpu():
    res = {
        "full_speed": combine(
            [_phase(2000, 5000, 1.0, 2.0, 10), _phase(1000, 5000, 2.0, 4.0, 30)], "x"
        ),
        "cpu_breakdown": {"total_us_per_order": 50.0},
    }
    c = cpu_per_order(res)
    # 3 services seconds over 10,000 orders; PostgreSQL 1 s, Tansu 0.5 s.
    assert c["services_us"] == 300.0 and c["by_service_us"] == {
        "order-intake": 75.0,
        "por-validator": 225.0,
    }
    assert (c["postgresql"], c["tansu"], c["orders_decided"]) == (100.0, 50.0, 10000)
    assert (c["pure_us"], c["services_to_pure"]) == (50.0, 6.0)
    assert cpu_per_order({}) == {}
    assert "pure_us" not in cpu_per_order({"full_speed": res["full_speed"]})


def test_issue23_targets():
    def lat(key: str, p99: float) -> dict:
        return {key: {"p99_ms": p99}}

    res = {
        "full_speed": _phase(3000, 5000, 0.75, 2.0, 10),  # 150 us of services CPU per order
        "relay_baseline": {"throughput": {"per_s": 10000}},
        "cpu_breakdown": {"total_us_per_order": 75.0},
        "sustained_load": lat("latency_publish_to_decision_consumed", 250),
        "relay_paced": lat("latency_publish_to_relayed_consumed", 100),
        "fixed_load": lat("latency_publish_to_decision_consumed", 200),
        "partner_center": {
            "warm": {"throughput": {"per_s": 2600}},
            "warm_paced": lat("latency_publish_to_decision_consumed", 310),
        },
    }
    targets = issue23_targets(res)
    got = {k: v["met"] for k, v in targets.items()}
    # ratio 0.30; 150 us = 2 x 75 us; 250 ms > 2 x 100 ms; 2,600/s < 0.9 x 3,000/s; 310 > 1.5 x 200 ms
    assert list(got.values()) == [None, True, True, False, None, False, False], got
    by_number = {k.split(":")[0]: v for k, v in targets.items()}
    assert by_number["issue 23 #2"]["ratio"] == 2.0 and by_number["issue 23 #3"]["ratio"] == 2.5
    warm = [v["ratio"] for k, v in targets.items() if k.startswith("issue 23 #5")]
    assert warm == [0.87, 1.55]
    # Only what ran is reported.
    assert list(issue23_targets({"cpu_breakdown": {"total_us_per_order": 75.0}})) == [
        "issue 23 #4: pure CPU per order half of 41a4147's"
    ]


def test_disturbed_rounds_are_left_out_and_measured_again():
    def rnd(per_s: float, other: float) -> dict:
        r = _phase(per_s, 5000, 1.0, 2.0, per_s / 100)
        r["cpu"]["other_processes_cores"] = other
        return r

    # Rounds 2 and 4 ran beside another process: two more rounds are measured, and the
    # figure is the median of the three undisturbed ones.
    script = [rnd(2000, 0.0), rnd(900, 1.2), rnd(2100, 0.1), rnd(1000, QUIET_CORES), rnd(1900, 0.0)]
    calls, pauses = [], []

    async def measure(i: int, limit: int) -> dict:
        calls.append((i, limit))
        return script[i]

    async def between(last: dict) -> None:
        pauses.append(last["disturbed"])

    reps = asyncio.run(in_rounds(3, measure, between))
    assert calls == [(i, 6) for i in range(5)] and pauses == [False, True, False, True]
    c = combine(reps, "latency_publish_to_decision_consumed", 3)
    tp = c["throughput"]
    assert "NOT STEADY" not in report.rounds(tp) and "2 left out" in report.rounds(tp)
    assert tp["disturbed_each"] == [False, True, False, True, False]
    assert (tp["per_s"], tp["rounds_used"], tp["median_repetition"]) == (2000, [1, 3, 5], 1)
    # CPU and orders over the rounds counted only, so CPU per order covers what per_s does.
    assert tp["decided"] == 15000 and c["cpu"]["wall_s"] == 6.0 and c["cpu"]["repetitions"] == 3
    assert tp["per_s_spread_pct"] == 10.0 and c["repetitions"][1]["disturbed"] is True


def test_when_every_round_is_disturbed_the_least_disturbed_count_and_no_more_than_twice_are_measured():
    def busy(i: int, limit: int) -> dict:
        r = _phase(1000 + i, 10, 1.0, 1.0, 1)
        r["cpu"]["other_processes_cores"] = [1.0, 0.9, 1.2, 0.5][i]
        return r

    async def measure(i: int, limit: int) -> dict:
        return busy(i, limit)

    async def between(last: dict) -> None:
        pass

    reps = asyncio.run(in_rounds(2, measure, between))
    assert len(reps) == 4 and all(r["disturbed"] for r in reps)
    tp = combine(reps, "x", 2)["throughput"]
    # The two least disturbed count: interference only slows a round down.
    assert tp["rounds_used"] == [2, 4] and tp["per_s"] == 1002.0
    assert (tp["undisturbed_rounds"], tp["undisturbed_rounds_wanted"]) == (0, 2)
    assert "NOT STEADY: 0 of 2 rounds undisturbed" in report.rounds(tp)
    # One round wanted is one round measured, disturbed or not: the phase as it always was.
    assert len(asyncio.run(in_rounds(1, measure, between))) == 1
