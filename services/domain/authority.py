"""Deciding with Partner Center as the authority, the registry's codes riding along. Pure.

Partner Center answers one code per PLA id; the registry gives a list. partner-center.md's
rule: they agree when both say valid, or both say invalid and Partner Center's code is in
the registry's list. Anything else is drift.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from contracts.errors import ErrorCode
from contracts.events import Authority, DecisionLine, TransactionDecision, ValidationRequested
from services.domain.decisions import decision_line, make_decision, request_basis
from services.domain.por_rules import Registry, evaluate_por, normalize_partner_id

# Partner Center said invalid without a code (undocumented): the catalogue's most general one.
CODE_WHEN_NONE_GIVEN = int(ErrorCode.PLA_INACTIVE)


@dataclass(frozen=True, slots=True)
class Answer:
    """Partner Center's answer for one PLA id, as one distributor's tenant sees it."""

    partner_id: str
    valid: bool
    error_code: int | None = None
    error_description: str | None = None

    @property
    def codes(self) -> tuple[int, ...]:
        if self.valid:
            return ()
        return (CODE_WHEN_NONE_GIVEN if self.error_code is None else self.error_code,)


def agree(partner_center_codes: Sequence[int], registry_codes: Sequence[int]) -> bool:
    if not partner_center_codes:
        return not registry_codes
    return bool(registry_codes) and partner_center_codes[0] in registry_codes


@dataclass(frozen=True, slots=True)
class Drift:
    """One line where Partner Center and the registry disagree."""

    partner_id: str
    partner_center_code: int | None  # None: Partner Center says valid
    registry_codes: tuple[int, ...]


def drifts(decision: TransactionDecision) -> list[Drift]:
    """The decision's lines that drift, each (PLA id, codes) pair once."""
    found: dict[tuple[str, int | None, tuple[int, ...]], Drift] = {}
    for line in decision.lines:
        registry = line.registry_error_codes
        if registry is None or line.partner_id_on_record is None:
            continue
        # In observe mode Partner Center's code is in `observedErrorCodes`, not `errorCodes`.
        answered = (
            line.error_codes if line.observed_error_codes is None else line.observed_error_codes
        )
        if agree(answered, registry):
            continue
        drift = Drift(
            line.partner_id_on_record.strip(),
            answered[0] if answered else None,
            tuple(registry),
        )
        found.setdefault((drift.partner_id, drift.partner_center_code, drift.registry_codes), drift)
    return list(found.values())


def partner_ids_to_ask(request: ValidationRequested, enforcement_start: datetime) -> set[str]:
    """The PLA ids Partner Center must answer for this request: none when it is exempt, and
    never one that cannot be a PLA id (the shape rule decides those without asking)."""
    if request_basis(request, enforcement_start) != "validated":
        return set()
    ids = (normalize_partner_id(line.partner_id_on_record) for line in request.lines)
    return {pid for pid in ids if pid is not None}


def decide_with_answers(
    request: ValidationRequested,
    registry: Registry,
    answers: Mapping[str, Answer],
    *,
    enforcement_start: datetime,
    decided_at: datetime,
) -> TransactionDecision:
    """The decision with Partner Center's answer for each line; the registry's codes ride
    along. A line whose id has no answer (Partner Center unreachable) is decided from the
    registry, and the decision names `registry_fallback` as its authority."""
    basis = request_basis(request, enforcement_start)
    authority: Authority = "partner_center"
    lines: list[DecisionLine] = []
    for line in request.lines:
        if basis != "validated":
            lines.append(decision_line(line.line_item_id, line.partner_id_on_record, ()))
            continue
        registry_codes = [
            int(c)
            for c in evaluate_por(line.partner_id_on_record, request.distributor_id, registry)
        ]
        pid = normalize_partner_id(line.partner_id_on_record)
        if pid is None:  # not a PLA id's shape: both say so, nothing was asked
            codes, descriptions = registry_codes, {}
        elif (answer := answers.get(pid)) is None:
            authority = "registry_fallback"
            lines.append(
                decision_line(line.line_item_id, line.partner_id_on_record, registry_codes)
            )
            continue
        else:
            codes = list(answer.codes)
            descriptions = {c: answer.error_description for c in codes}
        lines.append(
            decision_line(
                line.line_item_id,
                line.partner_id_on_record,
                codes,
                registry_codes=registry_codes,
                descriptions=descriptions,
            )
        )
    drift = any(
        line.registry_error_codes is not None
        and not agree(line.error_codes, line.registry_error_codes)
        for line in lines
    )
    return make_decision(
        request,
        basis=basis,
        lines=lines,
        decided_at=decided_at,
        authority=authority,
        registry_drift=drift,
    )


__all__ = ["Answer", "Drift", "agree", "decide_with_answers", "drifts", "partner_ids_to_ask"]
