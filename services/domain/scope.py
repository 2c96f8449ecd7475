"""Which transactions POR validation applies to, and on what basis the others are exempt."""

from __future__ import annotations

from datetime import UTC, datetime

from contracts.events import Basis, ValidationRequested

DEFAULT_ENFORCEMENT_START = datetime(2025, 12, 1, tzinfo=UTC)

# Phase 2 of domain.md: the changes that need a valid POR from the enforcement start.
VALIDATED_CHANGE_KINDS = frozenset(
    {
        "seat_count",
        "billing_plan",
        "term",
        "p2p_transfer",
        "legacy_to_new_commerce",
        "scheduled_change_set",
        "scheduled_change_edit",
        "scheduled_change_execution",
    }
)
KNOWN_CHANGE_KINDS = VALIDATED_CHANGE_KINDS | {"renewal"}


def order_basis(placed_at: datetime, enforcement_start: datetime) -> Basis:
    return "validated" if placed_at >= enforcement_start else "before_enforcement"


def request_basis(request: ValidationRequested, enforcement_start: datetime) -> Basis:
    # subscription-change sends only the changes that need validating; orders are all sent.
    if request.transaction_kind == "new_order":
        return order_basis(request.requested_at, enforcement_start)
    return "validated"


def change_basis(
    kind: str,
    requested_at: datetime,
    scheduled_change_set_at: datetime | None,
    enforcement_start: datetime,
) -> Basis:
    """The basis for a subscription change; only `validated` goes on to the rules engine.

    Precedence, where more than one exemption fits: a kind outside the list is never
    subject to validation; a renewal is exempt whenever it happens; then the enforcement
    start decides. A scheduled change executing after the start is grandfathered only when
    we know it was set before; without `scheduledChangeSetAt` it is validated, because an
    exemption we cannot prove would let an invalid POR reach billing.
    """
    if kind not in KNOWN_CHANGE_KINDS:
        return "not_in_scope"
    if kind == "renewal":
        return "exempt_renewal"
    if requested_at < enforcement_start:
        return "before_enforcement"
    if (
        kind == "scheduled_change_execution"
        and scheduled_change_set_at is not None
        and scheduled_change_set_at < enforcement_start
    ):
        return "exempt_scheduled_before_enforcement"
    return "validated"
