"""Observe mode: accept what enforcement would block, and say so. Pure. (`decide` applies it.)

A distributor switching POR gating on in front of live revenue first watches what the gate
would block: the decision is accepted, carries `wouldBlock` and the codes it would have had
(`observedErrorCodes`, on the decision and on each line), and keeps its decision id.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from services.domain.por_rules import Registry

EnforcementMode = Literal["enforce", "observe"]


def mode_for(distributor_id: str, registry: Registry, default: str) -> str:
    """The distributor's own mode (its registry event wins), else the setting."""
    distributor = registry.distributors.get(distributor_id)
    if distributor is not None and distributor.enforcement_mode:
        return distributor.enforcement_mode
    return default


# ------------------------------------------------------------------------- the report


@dataclass(frozen=True, slots=True)
class WouldBlock:
    """One transaction observe mode accepted, as `porgate report observe` reads it."""

    decision_id: str
    reference: str  # order id, or subscription id
    customer_id: str
    codes: tuple[int, ...]
    # (PLA id or None, its observed codes) for each line that would have been blocked
    lines: tuple[tuple[str | None, tuple[int, ...]], ...]


def would_block_from(decision: Mapping[str, Any]) -> WouldBlock:
    """From a decision as published (camelCase JSON)."""
    return WouldBlock(
        decision_id=decision["decisionId"],
        reference=decision.get("orderId") or decision.get("subscriptionId") or "",
        customer_id=decision["customerId"],
        codes=tuple(decision.get("observedErrorCodes") or ()),
        lines=tuple(
            (line.get("partnerIdOnRecord"), tuple(line["observedErrorCodes"]))
            for line in decision["lines"]
            if line.get("observedErrorCodes")
        ),
    )


def observe_summary(rows: Iterable[WouldBlock], top: int = 10) -> dict[str, Any]:
    """What enforcement would have blocked: by code, by reseller (PLA id) and the customers
    most affected. A transaction counts once under each of its codes and PLA ids."""
    rows = list(rows)
    by_code: Counter[int] = Counter()
    by_reseller: dict[str, dict[str, Any]] = {}
    by_customer: Counter[str] = Counter()
    for row in rows:
        by_code.update(set(row.codes))
        by_customer[row.customer_id] += 1
        for pid in {pid or "(missing)" for pid, _ in row.lines}:
            entry = by_reseller.setdefault(pid, {"transactions": 0, "codes": set()})
            entry["transactions"] += 1
        for pid, codes in row.lines:
            by_reseller[pid or "(missing)"]["codes"].update(codes)
    return {
        "transactions": len(rows),
        "byCode": [
            {"code": c, "transactions": n}
            for c, n in sorted(by_code.items(), key=lambda x: (-x[1], x[0]))
        ],
        "byReseller": [
            {"partnerId": pid, "transactions": e["transactions"], "codes": sorted(e["codes"])}
            for pid, e in sorted(by_reseller.items(), key=lambda x: (-x[1]["transactions"], x[0]))
        ],
        "customersMostAffected": [
            {"customerId": c, "transactions": n}
            for c, n in sorted(by_customer.items(), key=lambda x: (-x[1], x[0]))[:top]
        ],
    }
