"""What a run prints and records: the machine, the targets (measured, never asserted), and
the text rendering of the results."""

from __future__ import annotations

import contextlib
import os
import platform
from pathlib import Path

import psutil

from benchmarks.figures import issue23_targets
from benchmarks.isolation_phase import DOWN, render_isolation
from benchmarks.repeat import QUIET_CORES


def machine() -> dict:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus_logical": psutil.cpu_count(),
        "cpus_available": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def targets(res: dict) -> dict:
    out = {}
    fixed = res.get("fixed_load")
    # The targets of issue 11: relative to the bare relay in the same run (its throughput
    # target is issue 23's too, below), and the pure CPU.
    rp = res.get("relay_paced")
    if fixed and rp:
        p99 = fixed["latency_publish_to_decision_consumed"].get("p99_ms")
        relay_p99 = rp["latency_publish_to_relayed_consumed"].get("p99_ms")
        if p99 and relay_p99:
            out["fixed-load p99 <= 3 x the paced relay's p99"] = {
                "measured_ms": p99,
                "relay_ms": relay_p99,
                "ratio": round(p99 / relay_p99, 2),
                "met": p99 <= 3 * relay_p99,
            }
    cpu = res.get("cpu_breakdown") or {}
    if cpu.get("total_us_per_order"):
        us = cpu["total_us_per_order"]
        out["pure CPU per order <= 50 us"] = {"measured_us": us, "met": us <= 50}
    sus = res.get("sustained_load")
    if sus:
        p99 = sus["latency_publish_to_decision_consumed"].get("p99_ms")
        out[
            f"(for reference, not a target) p99 < 100 ms at {sus['publish']['pacing']['target_rate_per_s']:g}/s"
        ] = {"measured_ms": p99, "met": p99 is not None and p99 < 100}
    if res.get("rules_engine"):
        r = res["rules_engine"]["evaluations_per_s"]
        out["rules engine > 200,000 evaluations/s"] = {"measured": r, "met": r > 200_000}
    console = res.get("console") or {}
    for page in ("overview", "search by PLA id", "transaction page"):
        p95 = console.get(page, {}).get("p95_ms")
        if p95 is not None:
            out[f"console {page} p95 < 200 ms ({console['load']['decisions']:,} decisions)"] = {
                "measured_ms": p95,
                "met": p95 < 200,
            }
    for who, t in (res.get("isolation") or {}).get("targets", {}).items():
        out[f"isolation: {who} with {DOWN} down, rate >= 0.9 x and p99 <= 1.5 x"] = t
    out.update(issue23_targets(res))
    mem = []
    for key in ("full_speed", "fixed_load"):
        m = res.get(key, {}).get("memory", {}).get("rss_mib_at", {})
        if {"start", "middle", "end"} <= set(m):
            mem.append(
                {
                    "phase": key,
                    "start": m["start"]["total"],
                    "middle": m["middle"]["total"],
                    "end": m["end"]["total"],
                    "peak": res[key]["memory"]["peak_rss_total_mib"],
                }
            )
    if mem:
        # Flat: no growth over the second half of the orders (the first half includes
        # warming up: buffers, caches, statement caches reaching their working size).
        second = max((x["end"] - x["middle"]) / x["middle"] for x in mem if x["middle"])
        whole = max((x["end"] - x["start"]) / x["start"] for x in mem if x["start"])
        out["memory flat (services RSS, middle -> end of the orders)"] = {
            "growth_second_half_pct": round(second * 100, 1),
            "growth_start_to_end_pct": round(whole * 100, 1),
            "peak_rss_mib": max(x["peak"] for x in mem),
            "phases": mem,
            "met": second < 0.05,
        }
    return out


def fmt_lat(d: dict) -> str:
    if not d.get("count"):
        return "n/a"
    return f"p50 {d['p50_ms']:.1f}  p95 {d['p95_ms']:.1f}  p99 {d['p99_ms']:.1f}  max {d['max_ms']:.1f} ms"


def rounds(tp: dict) -> str:
    """Each round's throughput, the median and how far apart the rounds were."""
    marks = tp.get("disturbed_each") or [False] * len(tp["per_s_each"])
    each = ", ".join(f"{v or 0:,}{'*' if d else ''}" for v, d in zip(tp["per_s_each"], marks))
    note = ""
    if any(marks):
        left_out = len(marks) - len(tp.get("rounds_used", marks))
        note = f" (* disturbed: other processes kept >= {QUIET_CORES} cores busy; " + (
            f"{left_out} left out)" if left_out else "every round was, all count)"
        )
    clean, wanted = tp.get("undisturbed_rounds"), tp.get("undisturbed_rounds_wanted")
    if clean is not None and wanted and clean < wanted:
        note += f"; ** NOT STEADY: {clean} of {wanted} rounds undisturbed **"
    return (
        f"{each}/s{note}, median {tp['per_s']:,}/s ("
        + (f"spread {tp['per_s_spread_pct']} %; " if tp.get("per_s_spread_pct") else "")
        + f"steady 10-90% median {tp.get('steady_per_s_10_to_90pct')}/s)"
    )


def fmt_cpu(c: dict) -> str:
    by = ", ".join(f"{k} {v}" for k, v in c["by_service_us"].items())
    text = f"services {c['services_us']} us ({by}); PostgreSQL {c.get('postgresql')} us, Tansu {c.get('tansu')} us"
    if c.get("pure_us"):
        text += (
            f"; pure CPU {c['pure_us']} us: services / pure = {c['services_to_pure']}"
            f" (issue 23's target <= 2: {'met' if c['services_to_pure'] <= 2 else 'NOT met'})"
        )
    return text


def render(res: dict) -> str:
    out: list[str] = []
    w = out.append
    m = res["machine"]
    w(
        f"porgate benchmark  {res['started_at']}  ({'quick' if res['args']['quick'] else 'full'} run)"
    )
    w(
        f"machine: {m['cpus_available']} cores ({m['cpu_model']}), {m['memory_gib']} GiB, Python {m['python']}"
    )
    w(
        f"servers: embedded Tansu broker + PostgreSQL {res.get('registry_load', {}).get('postgres_settings', {}).get('version', '?')}"
        f", all on this machine with the services and the load generator"
    )
    lay = (
        "both services in ONE process (benchmarks.services_proc order-intake por-validator)"
        if res["args"]["layout"] == "one"
        else "TWO processes, one per service (benchmarks.services_proc order-intake | por-validator), as `porgate run X` each"
    )
    w(f"services under test: {lay}; load generator and decision reader in the benchmark process")
    if res.get("what_if"):
        w(f"*** WHAT-IF EXPERIMENT, not porgate's defaults: {res['what_if']} ***")
    mix = res.get("order_mix")
    if mix:
        w("")
        w(
            f"workload: {mix['orders']:,} orders ({mix['lines']:,} lines, {mix['bytes_per_order_avg']} B avg), "
            f"registry of {res['args']['resellers']:,} resellers"
        )
        w(f"  lines per order: {mix['orders_by_line_count']}")
        w(f"  partner id on record: {mix['partner_id_on_record']}")
    rl = res.get("registry_load")
    if rl:
        w(
            f"  registry: {rl['events']:,} events projected by por-validator in {rl['projected_in_s']} s "
            f"({rl['events_per_s']:,}/s) -> {rl['rows']}"
        )
    re_ = res.get("rules_engine")
    if re_:
        w("")
        w(
            f"rules engine alone (evaluate_por, no I/O): {re_['evaluations_per_s']:,} evaluations/s (best of 5 rounds; median "
            f"{re_['evaluations_per_s_median_round']:,}) "
            f"over {re_['inputs']['pairs']:,} (partner id, distributor) pairs, registry {re_['registry']}"
        )
    cb = res.get("cpu_breakdown")
    if cb:
        w(
            f"pure CPU per order, no I/O: {cb['total_us_per_order']} us  "
            + ", ".join(f"{k} {v}" for k, v in cb["us_per_order"].items())
        )
    for key, title in (
        ("full_speed", "FULL SPEED"),
        ("fixed_load", "FIXED LOAD"),
        (
            "sustained_load",
            "SUSTAINED LOAD (about half the full-speed throughput: latency without a backlog)",
        ),
        ("profiled", "PROFILED (py-spy attached)"),
        ("traced", "TRACED (benchmarks/trace.py inside the services)"),
        ("traced_fixed", "STAGES (the fixed load, benchmarks/trace.py inside the services)"),
        ("pc_cold", "PARTNER CENTER, COLD CACHE (TTL 0: every batch asks the stand-in)"),
        ("pc_warm", "PARTNER CENTER, WARM CACHE (every PLA id answered before)"),
        ("pc_cold_paced", "PARTNER CENTER, COLD CACHE, PACED"),
        ("pc_warm_paced", "PARTNER CENTER, WARM CACHE, PACED"),
    ):
        ph = res.get(key) or (res.get("partner_center") or {}).get(key.removeprefix("pc_"))
        if not ph:
            continue
        w("")
        pub = ph["publish"]
        tp = ph["throughput"]
        w(
            f"{title}: {pub['messages']:,} orders published in {pub['seconds']} s ({pub['achieved_rate_per_s']:,}/s)"
            + ("" if ph["complete"] else "  ** INCOMPLETE **")
        )
        if tp.get("repetitions"):
            w(
                f"  {tp['repetitions']} rounds of as many new orders, one after the other: {rounds(tp)};"
                f" below, the median round ({tp['median_repetition']}), CPU over the rounds counted"
            )
        if "pacing" in pub:
            w(
                f"  pacing: target {pub['pacing']['target_rate_per_s']:g}/s, send delay behind schedule "
                f"{fmt_lat(pub['pacing']['schedule_lag'])}"
            )
        if "standin_calls" in ph:
            delay = res["partner_center"]["standin_delay_ms"]
            w(
                f"  Partner Center stand-in ({delay:g} ms per answer) received: {ph['standin_calls']}"
            )
        w(
            f"  throughput: {tp.get('per_s', 0):,} orders decided/s (first publish -> last decision {tp.get('first_publish_to_last_decision_s')} s;"
            f" steady 10-90%: {tp.get('steady_per_s_10_to_90pct')}/s; first decision after"
            f" {tp.get('first_publish_to_first_decision_s')} s, 10% after {tp.get('first_publish_to_10pct_s')} s)"
        )
        w(
            f"  latency publish -> decision consumed:  {fmt_lat(ph['latency_publish_to_decision_consumed'])}"
        )
        w(
            f"  latency publish -> decision record ts: {fmt_lat(ph['latency_publish_to_decision_record_timestamp'])}"
        )
        for hop, lat in ph.get("latency_by_hop", {}).items():
            w(f"    by hop, {hop}: {fmt_lat(lat)}")
        if ph.get("latency_p99_ms_by_tenth"):
            w(
                f"  p99 latency (ms) of each tenth of the orders, first to last: {ph['latency_p99_ms_by_tenth']}"
            )
        dm = ph["decision_mix"]
        w(
            f"  decisions: {dm['decisions']:,} {dm['outcomes']}, dead-lettered {ph['dead_lettered']}; every error code present: "
            f"{'yes' if dm['every_error_code_present'] else 'NO, missing ' + str(dm['missing_error_codes'])}"
        )
        w(
            "  error codes (orders / lines): "
            + ", ".join(
                f"{k.split()[0]} {v['orders']}/{v['lines']}" for k, v in dm["error_codes"].items()
            )
        )
        cpu = ph.get("cpu", {})
        if cpu:
            w(
                f"  CPU over {cpu['wall_s']} s (cores busy): "
                + ", ".join(f"{g} {v['cores']}" for g, v in cpu["by_process_group"].items())
                + f"; machine {cpu['machine_cores_busy']} of {res['machine']['cpus_available']}, of which other processes {cpu['other_processes_cores']}"
            )
        if key == "full_speed" and res.get("cpu_per_order"):
            w(
                f"  CPU per order{' (the rounds counted)' if tp.get('repetitions') else ''}: {fmt_cpu(res['cpu_per_order'])}"
            )
        mem = ph["memory"]
        at = mem["rss_mib_at"]
        w(
            f"  services RSS MiB: start {at.get('start', {}).get('total')}, middle {at.get('middle', {}).get('total')}, "
            f"end {at.get('end', {}).get('total')}; peak {mem['peak_rss_total_mib']} (per process {mem['peak_rss_mib']}, VmHWM {mem['vm_hwm_mib']})"
        )
    render_isolation(w, res)
    rel = res.get("release")
    if rel:
        t = rel["time_to_release"]
        w("")
        w(
            f"RELEASE: one registry event released {t['released']:,} of {t['blocked_transactions']:,}"
            f" blocked transactions in {t['seconds']} s ({t['per_s']:,}/s)"
        )
        base, sync = rel["without_sync"]["throughput"], rel["with_sync"]["throughput"]
        during = rel["with_sync"].get("during", {})
        w(
            f"  full speed without a registry sync {base.get('per_s', 0):,} orders/s; during a"
            f" {during.get('registry_events', 0):,}-event sync {sync.get('per_s', 0):,} orders/s:"
            f" ratio {rel['throughput_ratio_during_sync']} (target >= 0.5)"
        )
    rb = res.get("relay_baseline")
    if rb:
        w("")
        tp = rb["throughput"]
        w(
            f"BASELINE bare aiokafka relay: {rb['publish']['messages']:,} messages of {rb['bytes_per_message_avg']} B: "
            f"{tp.get('per_s', 0):,} msgs/s (steady {tp.get('steady_per_s_10_to_90pct')}/s); latency {fmt_lat(rb['latency_publish_to_relayed_consumed'])}"
        )
        if tp.get("repetitions"):
            w(f"  {tp['repetitions']} rounds: {rounds(tp)}; latency of the median round")
        cpu = rb.get("cpu", {})
        if cpu:
            w(
                "  CPU (cores busy): "
                + ", ".join(f"{g} {v['cores']}" for g, v in cpu["by_process_group"].items())
                + f"; other processes {cpu['other_processes_cores']}; relay peak RSS {rb['memory']['peak_rss_total_mib']} MiB"
            )
        if res.get("full_speed"):
            ratio = res["full_speed"]["throughput"]["per_s"] / tp["per_s"]
            w(
                f"  porgate / relay throughput: {ratio:.2f}  (porgate makes two hops, orders -> validation requests -> "
                f"decisions, each with a PostgreSQL transaction; the relay one hop)"
            )
    rp = res.get("relay_paced")
    if rp:
        pacing = rp["publish"]["pacing"]
        w(
            f"BASELINE relay paced at {pacing['target_rate_per_s']:g}/s ({rp['publish']['messages']:,} messages): latency "
            f"{fmt_lat(rp['latency_publish_to_relayed_consumed'])}  (one hop; the relay's consumer and producer "
            f"have porgate's settings)"
        )
        if rp.get("latency_p99_ms_by_tenth"):
            w(
                f"  p99 latency (ms) of each tenth of the messages, first to last: {rp['latency_p99_ms_by_tenth']}"
            )
    api = res.get("api")
    if api:
        w("")
        w(
            f"API POST /v1/partners/validateresellers (1 id/request, {api['workers']} httpx workers, {api['seconds']} s): "
            f"{api['requests_per_s']:,} req/s; {fmt_lat(api['latency'])}; statuses {api['statuses']}"
        )
        cpu = api.get("cpu", {})
        if cpu:
            w(
                "  CPU (cores busy): "
                + ", ".join(f"{g} {v['cores']}" for g, v in cpu["by_process_group"].items())
                + f"; other processes {cpu['other_processes_cores']}; API peak RSS {api['memory']['peak_rss_total_mib']} MiB"
            )
    console = res.get("console")
    if console:
        w("")
        load = console["load"]
        w(
            f"CONSOLE with {load['decisions']:,} decisions ({load['tables_and_indexes']}, loaded in "
            f"{load['load_s']} s), {console['requests_per_page']} sequential requests per page as an operator:"
        )
        for page, lat in console.items():
            if isinstance(lat, dict) and "p95_ms" in lat:
                w(f"  {page}: {fmt_lat(lat)}")
    tg = res.get("targets")
    if tg:
        w("")
        w("targets (measured, not asserted):")
        ours = [k for k in tg if not k.startswith("issue 23")]
        for k in ours + [k for k in tg if k not in ours]:
            if k == next((x for x in tg if x.startswith("issue 23")), None):
                w("  issue 23 (side by side: ../shared/tools/bench-compare 41a4147):")
            v = tg[k]
            shown = {kk: vv for kk, vv in v.items() if kk not in ("met", "phases")}
            met = "side by side only" if v["met"] is None else "met" if v["met"] else "NOT met"
            w(f"  [{met}] {k}: {shown}")
    for key, when in (("traced", "full speed"), ("traced_fixed", "fixed load")):
        tr = (res.get(key) or {}).get("trace")
        if tr:
            render_trace(w, tr, when)
    if res.get("profile_summary"):
        w("")
        w("profile (py-spy, full speed): see " + res["profile_summary"]["text_file"])
        for f in res["profile_summary"]["files"]:
            w(
                f"  {Path(f['file']).name}: on a CPU ~{f['on_cpu_share_of_wall']} of the wall time; top self: "
                + "; ".join(f"{fn} {p}%" for fn, p in f["self"][:6])
            )
    if res.get("notes"):
        w("")
        w("notes: " + "; ".join(res["notes"]))
    w("")
    w(f"results: {res['results_file']}")
    return "\n".join(out)


def render_trace(w, tr: dict, when: str) -> None:
    w("")
    w(f"wall-clock inside the services ({when}, benchmarks/trace.py):")
    for consumer, t in tr.items():
        if not t["records"]:
            continue
        w(
            f"  {consumer}: {t['batches']} batches, {t['records']:,} records, mean batch {t['mean_batch']}"
        )
        for step, v in t["steps"].items():
            w(f"    {v['us_per_record']:>8} us/record {v['ms_per_batch']:>8} ms/batch  {step}")
        for q, v in list(t["sql"].items())[:8]:
            w(
                f"    {v['us_per_record']:>8} us/record {v['ms_per_call']:>8} ms/call  {v['calls_per_batch']} calls/batch  {q}"
            )
