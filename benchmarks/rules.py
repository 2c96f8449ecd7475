"""The rules engine alone (no I/O) over a realistic registry, and the pure CPU each order costs.

The registry is built in memory from the same DemoWorld registry messages the pipeline
loads, the way por-validator's store would read it (regions from the shipped table), and
the inputs are the (partner id on record, distributor) pairs of the benchmark's orders: the
realistic mix of valid, inactive, suspended, PGA, malformed and missing ids.
"""

from __future__ import annotations

import gc
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from contracts.codec import decode, encode, encode_data, encode_with_data, new_event
from contracts.errors import ErrorCode
from contracts.ids import derived_event_id
from contracts.topics import ORDERS, VALIDATION_REQUESTS
from services.common.app import GC_YOUNG_THRESHOLD
from services.devtools.demo import Message
from services.domain.decisions import decide
from services.domain.explain import Provenance
from services.domain.por_rules import (
    Distributor,
    PartnerAccount,
    Registry,
    ResellerTenant,
    Source,
    evaluate_por,
)
from services.domain.regions import RegionTable
from services.domain.scope import DEFAULT_ENFORCEMENT_START
from services.order_intake.intake import validation_request


def registry_from_messages(
    messages: Sequence[Message], regions: RegionTable | None = None
) -> Registry:
    regions = regions or RegionTable.default()
    reg = Registry()
    for m in messages:
        obj = json.loads(m.value)
        t, d = obj["type"], obj["data"]
        if t == "csp.distributor.upserted.v1":
            reg.distributors[d["distributorId"]] = Distributor(
                d["distributorId"],
                regions.region_for(d["country"], d.get("cspRegion")),
                d.get("preferredLanguage", "en"),
            )
        elif t == "csp.partner-account.upserted.v1":
            reg.accounts[d["partnerId"].strip()] = PartnerAccount(
                d["partnerId"].strip(),
                d["accountType"],
                d["status"] == "active",
                d.get("resellerTenantId"),
            )
        elif t == "csp.reseller-tenant.upserted.v1":
            reg.tenants[d["resellerTenantId"]] = ResellerTenant(
                d["resellerTenantId"],
                d["kind"],
                d["status"],
                d["indirectResellerAuthorized"],
                regions.region_for(d["country"], d.get("cspRegion")),
            )
        elif t == "csp.partnership.upserted.v1" and d["status"] == "active":
            reg.active_partnerships.add((d["distributorId"], d["resellerTenantId"]))
    return reg


def provenance_from_messages(messages: Sequence[Message]) -> dict[Source, Provenance]:
    """Each registry row's as-of time and setting event, keyed as the rules name their sources
    (what por-validator's provenance_store reads for a batch with blocked lines)."""
    sources = {
        "csp.distributor.upserted.v1": lambda d: ("distributor", d["distributorId"]),
        "csp.partner-account.upserted.v1": lambda d: ("partnerAccount", d["partnerId"].strip()),
        "csp.reseller-tenant.upserted.v1": lambda d: ("resellerTenant", d["resellerTenantId"]),
        "csp.partnership.upserted.v1": lambda d: (
            "partnership",
            d["distributorId"],
            d["resellerTenantId"],
        ),
    }
    out: dict[Source, Provenance] = {}
    for m in messages:
        obj = json.loads(m.value)
        if (source := sources.get(obj["type"])) is not None:
            out[source(obj["data"])] = Provenance(datetime.fromisoformat(obj["time"]), obj["id"])
    return out


def order_pairs(orders: Sequence[Message]) -> list[tuple[object, str]]:
    pairs = []
    for m in orders:
        d = json.loads(m.value)["data"]
        pairs.extend((li.get("partnerIdOnRecord"), d["distributorId"]) for li in d["lineItems"])
    return pairs


def _rate(fn: Callable[[], int], seconds: float, rounds: int = 5) -> dict:
    """Run fn (which does some units of work and returns how many) for `seconds`, split in
    `rounds`; the best round is the figure (least disturbed by other processes), as timeit does."""
    fn()  # warm
    rates, total, started = [], 0, time.perf_counter()
    for _ in range(rounds):
        done, t0 = 0, time.perf_counter()
        while True:
            done += fn()
            elapsed = time.perf_counter() - t0
            if elapsed >= seconds / rounds:
                break
        rates.append(done / elapsed)
        total += done
    rates.sort()
    return {
        "best": rates[-1],
        "median": rates[len(rates) // 2],
        "evaluations": total,
        "seconds": time.perf_counter() - started,
    }


def rules_benchmark(
    registry_messages: Sequence[Message], orders: Sequence[Message], seconds: float = 3.0
) -> dict:
    reg = registry_from_messages(registry_messages)
    pairs = order_pairs(orders)
    codes = Counter()
    valid = 0
    for pid, did in pairs:
        got = evaluate_por(pid, did, reg)
        valid += not got
        codes.update(got)

    def run() -> int:
        for pid, did in pairs:
            evaluate_por(pid, did, reg)
        return len(pairs)

    r = _rate(run, seconds)
    return {
        "evaluations_per_s": round(r["best"]),
        "evaluations_per_s_median_round": round(r["median"]),
        "evaluations": r["evaluations"],
        "seconds": round(r["seconds"], 2),
        "registry": {
            "partner_accounts": len(reg.accounts),
            "reseller_tenants": len(reg.tenants),
            "distributors": len(reg.distributors),
            "active_partnerships": len(reg.active_partnerships),
        },
        "inputs": {
            "pairs": len(pairs),
            "valid": valid,
            "codes": {f"{int(c)} {c.name}": codes.get(c, 0) for c in ErrorCode},
        },
    }


def cpu_breakdown(
    registry_messages: Sequence[Message], orders: Sequence[Message], limit: int = 3000
) -> dict:
    """Microseconds of pure Python work per order at each step of the pipeline, no I/O: where
    the services' CPU goes before any database or broker round trip (best of 7 passes over
    `limit` orders). Deciding includes the walks por-validator attaches to blocked lines.
    With the collector set as the services set it (services/common/app.py): the pure CPU of
    their code as they run it, not of a default collector's passes."""
    collector = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *collector[1:])
    try:
        return _cpu_breakdown(registry_messages, orders, limit)
    finally:
        gc.set_threshold(*collector)


def _cpu_breakdown(
    registry_messages: Sequence[Message], orders: Sequence[Message], limit: int
) -> dict:
    reg = registry_from_messages(registry_messages)
    provenance = provenance_from_messages(registry_messages)
    sample = list(orders[:limit])
    now = datetime.now(UTC)
    start = DEFAULT_ENFORCEMENT_START
    steps: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], list], repeat: int = 7) -> list:
        fn()  # warm
        best = float("inf")
        for _ in range(repeat):  # best of `repeat`: the least disturbed by other processes
            t = time.perf_counter()
            out = fn()
            best = min(best, time.perf_counter() - t)
        steps[name] = round(best / len(sample) * 1e6, 1)
        return out

    events = timed(
        "decode order (codec.decode)", lambda: [decode(m.value, ORDERS.name) for m in sample]
    )
    requests = timed(
        "intake.validation_request", lambda: [validation_request(e.data, e.id) for e in events]
    )
    req_events = timed(
        "new_event(validation request)",
        lambda: [
            new_event(
                r,
                source="/bench",
                id=derived_event_id("validation-request", e.id),
                subject=r.order_id,
            )
            for r, e in zip(requests, events, strict=True)
        ],
    )
    req_bytes = timed("encode validation request", lambda: [encode(e) for e in req_events])
    decoded = timed(
        "decode validation request",
        lambda: [decode(b, VALIDATION_REQUESTS.name) for b in req_bytes],
    )
    decisions = timed(
        "decide() (rules, decision model, blocked lines' walks)",
        lambda: [
            decide(e.data, reg, enforcement_start=start, decided_at=now, provenance=provenance)
            for e in decoded
        ],
    )
    # por-validator serializes each decision once, for its row and (below) its event.
    data = timed(
        "request+decision model_dump_json (record_decision)",
        lambda: [
            (r.model_dump_json(by_alias=True), j, j.decode())
            for r, d in zip(requests, decisions, strict=True)
            for j in (encode_data(d),)
        ],
    )
    dec_events = timed(
        "new_event(decision)",
        lambda: [
            new_event(
                d,
                source="/bench",
                id=derived_event_id("decision-event", d.decision_id),
                subject=d.order_id,
            )
            for d in decisions
        ],
    )
    dec_bytes = timed(
        "encode decision",
        lambda: [encode_with_data(e, j) for e, (_, j, _) in zip(dec_events, data, strict=True)],
    )
    return {
        "orders": len(sample),
        "us_per_order": steps,
        "total_us_per_order": round(sum(steps.values()), 1),
        "bytes": {
            "order": round(sum(len(m.value) for m in sample) / len(sample)),
            "validation_request": round(sum(map(len, req_bytes)) / len(sample)),
            "decision": round(sum(map(len, dec_bytes)) / len(sample)),
        },
    }
