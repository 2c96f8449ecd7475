"""Figures derived from a run's results: the CPU each order costs at full speed, by process
group, against the pure CPU of the same run; and issue 23's targets (measured, never
asserted). Pure functions over the results dict, so they can be re-read from any results file.
"""

from __future__ import annotations

SERVICES_PREFIX = "services"
# Process groups of the full-speed CPU meter (benchmarks/phases.py), shown per order besides
# the services: what the rest of the machine spends on each order.
CONTEXT_GROUPS = {"postgresql": "postgresql", "kafka broker (tansu)": "tansu"}


def cpu_per_order(res: dict) -> dict:
    """Full speed: each process group's CPU seconds ÷ orders decided, in µs, over every
    repetition; the services' total against the pure CPU per order (issue 23, target 2)."""
    full = res.get("full_speed") or {}
    groups = (full.get("cpu") or {}).get("by_process_group") or {}
    decided = (full.get("throughput") or {}).get("decided")
    if not groups or not decided:
        return {}

    def us(cpu_s: float) -> float:
        return round(cpu_s / decided * 1e6, 1)

    services = {
        g.removeprefix(SERVICES_PREFIX).lstrip(": "): us(v["cpu_s"])
        for g, v in groups.items()
        if g.startswith(SERVICES_PREFIX)
    }
    total = round(sum(services.values()), 1)
    out: dict = {
        "orders_decided": decided,
        "services_us": total,
        "by_service_us": services,
        **{name: us(groups[g]["cpu_s"]) for g, name in CONTEXT_GROUPS.items() if g in groups},
    }
    pure = (res.get("cpu_breakdown") or {}).get("total_us_per_order")
    if pure:
        out["pure_us"] = pure
        out["services_to_pure"] = round(total / pure, 2)
    return out


def _p99(phase: dict | None, key: str) -> float | None:
    return ((phase or {}).get(key) or {}).get("p99_ms")


def issue23_targets(res: dict) -> dict:
    """Issue 23's targets that one run can measure; `met` is None for those only a side-by-side
    run against the base commit can (`../shared/tools/bench-compare`)."""
    out: dict = {}
    full, relay = res.get("full_speed") or {}, res.get("relay_baseline") or {}
    per_s = (full.get("throughput") or {}).get("per_s")
    relay_per_s = (relay.get("throughput") or {}).get("per_s")
    if per_s:
        out["issue 23 #1: full-speed throughput >= 1.3 x 41a4147's"] = {
            "measured_per_s": per_s,
            "spread_pct": full["throughput"].get("per_s_spread_pct"),
            "met": None,
        }
    if per_s and relay_per_s:
        ratio = per_s / relay_per_s
        out["issue 23 #1: throughput ratio to the bare relay >= 0.30"] = {
            "measured": round(ratio, 3),
            "met": ratio >= 0.30,
        }
    cpu = cpu_per_order(res)
    if cpu.get("services_to_pure"):
        out["issue 23 #2: services CPU per order at full speed <= 2 x the pure CPU per order"] = {
            "services_us": cpu["services_us"],
            "pure_us": cpu["pure_us"],
            "ratio": cpu["services_to_pure"],
            "met": cpu["services_to_pure"] <= 2,
        }
    sus = _p99(res.get("sustained_load"), "latency_publish_to_decision_consumed")
    relay_p99 = _p99(res.get("relay_paced"), "latency_publish_to_relayed_consumed")
    if sus and relay_p99:
        out["issue 23 #3: sustained p99 <= 2 x the paced relay's p99"] = {
            "measured_ms": sus,
            "relay_ms": relay_p99,
            "ratio": round(sus / relay_p99, 2),
            "met": sus <= 2 * relay_p99,
        }
    pure = (res.get("cpu_breakdown") or {}).get("total_us_per_order")
    if pure:
        out["issue 23 #4: pure CPU per order half of 41a4147's"] = {
            "measured_us": pure,
            "met": None,
        }
    pc = res.get("partner_center") or {}
    warm = ((pc.get("warm") or {}).get("throughput") or {}).get("per_s")
    if warm and per_s:
        out["issue 23 #5: Partner Center, warm cache, throughput >= 0.9 x the registry's"] = {
            "measured_per_s": warm,
            "registry_per_s": per_s,
            "ratio": round(warm / per_s, 2),
            "met": warm >= 0.9 * per_s,
        }
    # Paced at --rate both: the registry's is the fixed-load phase.
    warm_p99 = _p99(pc.get("warm_paced"), "latency_publish_to_decision_consumed")
    fixed_p99 = _p99(res.get("fixed_load"), "latency_publish_to_decision_consumed")
    if warm_p99 and fixed_p99:
        out["issue 23 #5: Partner Center, warm cache, paced p99 <= 1.5 x the registry's"] = {
            "measured_ms": warm_p99,
            "registry_ms": fixed_p99,
            "ratio": round(warm_p99 / fixed_p99, 2),
            "met": warm_p99 <= 1.5 * fixed_p99,
        }
    return out
