"""From rules-engine codes to the decision events billing consumes. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from operator import attrgetter

from contracts.errors import describe
from contracts.events import (
    DecisionLine,
    ErrorDetail,
    TransactionAccepted,
    TransactionBlocked,
    TransactionDecision,
    TransactionRef,
    ValidationRequested,
)
from contracts.ids import decision_id_for
from services.domain.por_rules import Registry, evaluate_por, union_codes
from services.domain.scope import Basis, order_basis


@cache
def _error_detail(code: int) -> ErrorDetail:
    text = describe(code, "en")
    return ErrorDetail(code=code, message=text.message, remediation=list(text.remediation))


_REF_FIELDS = tuple(TransactionRef.model_fields)
_ref_values = attrgetter(*_REF_FIELDS)


def decision_line(line_item_id: str, partner_id: str | None, codes: Sequence[int]) -> DecisionLine:
    return DecisionLine(
        line_item_id=line_item_id,
        partner_id_on_record=partner_id,
        error_codes=[int(c) for c in codes],
        errors=[_error_detail(int(c)) for c in codes],
    )


def make_decision(
    request: ValidationRequested,
    *,
    basis: Basis,
    lines: list[DecisionLine],
    decided_at: datetime,
) -> TransactionDecision:
    codes = [int(c) for c in union_codes([line.error_codes for line in lines])]
    model = TransactionBlocked if codes else TransactionAccepted
    return model(
        **dict(zip(_REF_FIELDS, _ref_values(request))),
        decision_id=decision_id_for(request.source_event_id, request.supersedes_decision_id),
        basis=basis,
        error_codes=codes,
        primary_error_code=codes[0] if codes else None,
        lines=lines,
        decided_at=decided_at,
    )


def request_basis(request: ValidationRequested, enforcement_start: datetime) -> Basis:
    # subscription-change sends only the changes that need validating; orders are all sent.
    if request.transaction_kind == "new_order":
        return order_basis(request.requested_at, enforcement_start)
    return "validated"


def decide(
    request: ValidationRequested,
    registry: Registry,
    *,
    enforcement_start: datetime,
    decided_at: datetime,
) -> TransactionDecision:
    """The decision for one validation request against a registry snapshot."""
    basis = request_basis(request, enforcement_start)
    lines = [
        decision_line(
            line.line_item_id,
            line.partner_id_on_record,
            evaluate_por(line.partner_id_on_record, request.distributor_id, registry)
            if basis == "validated"
            else (),
        )
        for line in request.lines
    ]
    return make_decision(request, basis=basis, lines=lines, decided_at=decided_at)


def exempt_decision(
    request: ValidationRequested, basis: Basis, decided_at: datetime
) -> TransactionDecision:
    """An accepted decision without validation, saying why (subscription-change's shortcut)."""
    assert basis != "validated"
    lines = [
        decision_line(line.line_item_id, line.partner_id_on_record, ()) for line in request.lines
    ]
    return make_decision(request, basis=basis, lines=lines, decided_at=decided_at)


__all__ = ["decide", "exempt_decision", "make_decision"]
