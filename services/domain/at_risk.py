"""At-risk subscriptions: the ones porgate has seen whose POR fails now. Pure.

A subscription porgate has seen is (the notifier records them from every decision on
por.decisions.v1, whoever published it):
- a subscription named by a change (any kind, any basis, accepted or blocked), with the
  distributor, customer and PLA ID of its latest change: the POR the subscription carries,
  or the one its latest change tried to give it;
- a line of an accepted order: the subscription that line created. Orders carry no
  subscription id, so it is named by order id and line item id, and porgate cannot tell it
  is the subscription a later change names (then it is listed under both).
Its POR fails now when the rules (`evaluate_por`) give codes against the registry now: the
next change to it would be blocked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from contracts.events import TransactionDecision
from services.domain.por_rules import Registry, evaluate_por, normalize_partner_id


@dataclass(frozen=True, slots=True)
class SeenSubscription:
    subscription_id: str | None  # None: created by an order line, id unknown to porgate
    order_id: str | None
    line_item_id: str | None
    customer_id: str
    partner_id_on_record: str | None
    last_seen_at: datetime
    decision_id: str


@dataclass(frozen=True, slots=True)
class AtRiskGroup:
    """One reseller (the PLA ID on record, trimmed; as given when it is not a PLA ID's shape)
    and its subscriptions that would be blocked, with the codes they would get."""

    partner_id: str | None
    codes: tuple[int, ...]
    subscriptions: tuple[SeenSubscription, ...]


def _reseller(raw: str | None) -> str | None:
    return normalize_partner_id(raw) or raw


def at_risk(
    seen: Iterable[SeenSubscription], distributor_id: str, registry: Registry
) -> list[AtRiskGroup]:
    """The seen subscriptions of `distributor_id` whose POR fails now, by reseller."""
    by_reseller: dict[str | None, list[SeenSubscription]] = {}
    codes_of: dict[str | None, tuple[int, ...]] = {}
    for s in seen:
        key = _reseller(s.partner_id_on_record)
        if key not in codes_of:
            codes_of[key] = tuple(int(c) for c in evaluate_por(key, distributor_id, registry))
        if codes_of[key]:
            by_reseller.setdefault(key, []).append(s)
    return [
        AtRiskGroup(
            key,
            codes_of[key],
            tuple(
                sorted(
                    subs,
                    key=lambda s: (s.subscription_id or "", s.order_id or "", s.line_item_id or ""),
                )
            ),
        )
        for key, subs in sorted(by_reseller.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
    ]


def subscription_count(groups: list[AtRiskGroup]) -> int:
    return sum(len(g.subscriptions) for g in groups)


def seen_in(decision: TransactionDecision) -> list[SeenSubscription]:
    """The subscriptions a decision shows porgate (see the module's definition)."""
    if decision.transaction_kind == "subscription_change":
        if decision.subscription_id is None:
            return []
        return [
            SeenSubscription(
                decision.subscription_id,
                None,
                None,
                decision.customer_id,
                decision.lines[0].partner_id_on_record if decision.lines else None,
                decision.decided_at,
                decision.decision_id,
            )
        ]
    if decision.outcome != "accepted" or decision.order_id is None:
        return []  # a blocked order created no subscription
    return [
        SeenSubscription(
            None,
            decision.order_id,
            line.line_item_id,
            decision.customer_id,
            line.partner_id_on_record,
            decision.decided_at,
            decision.decision_id,
        )
        for line in decision.lines
    ]
