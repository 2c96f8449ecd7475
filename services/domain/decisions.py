"""From rules-engine codes to the decision events billing consumes. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from operator import attrgetter

from contracts.errors import RANK, describe
from contracts.events import (
    Authority,
    DecisionLine,
    ErrorDetail,
    TransactionAccepted,
    TransactionBlocked,
    TransactionDecision,
    TransactionRef,
    ValidationRequested,
)
from contracts.ids import decision_id_for
from services.domain.por_rules import Registry, evaluate_por
from services.domain.scope import Basis, order_basis


@cache
def _error_detail(code: int) -> ErrorDetail:
    text = describe(code, "en")
    return ErrorDetail(code=code, message=text.message, remediation=list(text.remediation))


def _detail(code: int, description: str | None) -> ErrorDetail:
    if code in RANK:
        return _error_detail(code)
    # A code Partner Center answers that the catalogue does not know: its own words.
    return ErrorDetail(
        code=code, message=description or f"Partner Center error {code}", remediation=[]
    )


def _union(code_lists: list[list[int]]) -> list[int]:
    """Each code once, in the catalogue's canonical order; unknown codes after, by number."""
    seen = {c for codes in code_lists for c in codes}
    return sorted(seen, key=lambda c: (RANK.get(c, len(RANK)), c))  # type: ignore[call-overload]


_REF_FIELDS = tuple(TransactionRef.model_fields)
_ref_values = attrgetter(*_REF_FIELDS)


def decision_line(
    line_item_id: str,
    partner_id: str | None,
    codes: Sequence[int],
    *,
    registry_codes: Sequence[int] | None = None,
    descriptions: Mapping[int, str | None] | None = None,
) -> DecisionLine:
    descriptions = descriptions or {}
    return DecisionLine(
        line_item_id=line_item_id,
        partner_id_on_record=partner_id,
        error_codes=[int(c) for c in codes],
        errors=[_detail(int(c), descriptions.get(int(c))) for c in codes],
        registry_error_codes=None if registry_codes is None else [int(c) for c in registry_codes],
    )


def make_decision(
    request: ValidationRequested,
    *,
    basis: Basis,
    lines: list[DecisionLine],
    decided_at: datetime,
    authority: Authority = "registry",
    registry_drift: bool = False,
) -> TransactionDecision:
    codes = _union([line.error_codes for line in lines])
    model = TransactionBlocked if codes else TransactionAccepted
    return model(
        **dict(zip(_REF_FIELDS, _ref_values(request))),
        decision_id=decision_id_for(request.source_event_id, request.supersedes_decision_id),
        basis=basis,
        error_codes=codes,
        primary_error_code=codes[0] if codes else None,
        lines=lines,
        decided_at=decided_at,
        authority=authority,
        registry_drift=registry_drift,
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
