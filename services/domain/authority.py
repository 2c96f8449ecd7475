"""Partner Center as the authority: its answers, and where they drift from the registry. Pure.
`decide` (decisions.py) takes the answers.

Partner Center answers one code per PLA id; the registry gives a list. partner-center.md's
rule: they agree when both say valid, or both say invalid and Partner Center's code is in
the registry's list. Anything else is drift.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from contracts.errors import ErrorCode
from contracts.events import TransactionDecision, ValidationRequested
from services.domain.por_rules import normalize_partner_id
from services.domain.scope import request_basis

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


__all__ = ["Answer", "Drift", "agree", "drifts", "partner_ids_to_ask"]
