"""The decision for a validation request: the rules (or Partner Center's answers), observe
mode and the blocked lines' explanations, applied once, the decision built once. Pure.

`decide` is the one path from a request to the decision billing consumes: por-validator's
batches, automatic release and the tests all take it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from operator import attrgetter
from typing import NamedTuple

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
from contracts.trusted import trusted_builder
from services.domain.authority import Answer, agree
from services.domain.explain import Provenance, wire_walk
from services.domain.observe import mode_for
from services.domain.por_rules import Registry, Source, evaluate_por, normalize_partner_id
from services.domain.scope import Basis, request_basis

# A walk adds about 2 KB to a line. Past this many blocked lines a decision's later ones
# carry none (`porgate explain` still gives it), so that a large blocked order stays far from
# the broker's message limit (1 MB on Apache Kafka by default).
MAX_EXPLAINED_LINES = 20


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
    return sorted(seen, key=_rank)


def _rank(code: int) -> tuple[int, int]:
    return RANK.get(code, len(RANK)), code  # type: ignore[call-overload]


_REF_FIELDS = tuple(TransactionRef.model_fields)
# The hot path's constructors for the judgement's own values (contracts/trusted.py).
_trusted_line = trusted_builder(DecisionLine)
_trusted_decision = {m: trusted_builder(m) for m in (TransactionAccepted, TransactionBlocked)}
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
    observed_codes: list[int] | None = None,
    decision_id: str | None = None,
) -> TransactionDecision:
    """The decision of `lines` as they stand: blocked when any has a code. With
    `observed_codes` (observe mode), accepted though those codes would have blocked it.
    `decision_id`: by default derived from the request (its source event and the decision
    it supersedes)."""
    codes = [] if observed_codes is not None else _union([line.error_codes for line in lines])
    model, fields = _decision_fields(
        request, basis, lines, codes, authority, registry_drift, observed_codes, decision_id
    )
    return model(**fields, decided_at=decided_at)


def _decision_fields(
    request: ValidationRequested,
    basis: Basis,
    lines: list[DecisionLine],
    codes: list[int],
    authority: Authority,
    registry_drift: bool,
    observed_codes: list[int] | None,
    decision_id: str | None,
) -> tuple[type[TransactionDecision], dict[str, object]]:
    """The decision's model and fields but its time; `codes`: the union of the lines'."""
    # Only what observe mode sets, so that an enforced decision is what it always was.
    observed = (
        {}
        if observed_codes is None
        else {"would_block": True, "observed_error_codes": observed_codes}
    )
    return TransactionBlocked if codes else TransactionAccepted, {
        **dict(zip(_REF_FIELDS, _ref_values(request))),
        "decision_id": decision_id
        or decision_id_for(request.source_event_id, request.supersedes_decision_id),
        "basis": basis,
        "error_codes": codes,
        "primary_error_code": codes[0] if codes else None,
        "lines": lines,
        "authority": authority,
        "registry_drift": registry_drift,
        **observed,
    }


# A line as decided, before it becomes a DecisionLine: (line item id, PLA id as given, codes,
# the registry's codes when Partner Center decided, Partner Center's descriptions).
_Verdict = tuple[str, str | None, list[int], list[int] | None, Mapping[int, str | None]]
_NO_DESCRIPTIONS: Mapping[int, str | None] = {}


class Judgement(NamedTuple):
    """The rules' (or Partner Center's) word on each line of a request, and whether observe
    mode accepts what they block: the first half of `decide`, before the decision exists.
    (A named tuple, not a frozen dataclass: one is built per request on the hot path.)"""

    request: ValidationRequested
    basis: Basis
    authority: Authority
    verdicts: list[_Verdict]
    codes: list[int]
    registry_drift: bool
    observed: bool

    def to_explain(self) -> list[str | None]:
        """The PLA ids whose walks the decision carries: its blocked lines', up to the bound
        (none in observe mode, where no line is blocked)."""
        if self.observed:
            return []
        return [v[1] for v in self.verdicts if v[2]][:MAX_EXPLAINED_LINES]


def judge(
    request: ValidationRequested,
    registry: Registry,
    *,
    enforcement_start: datetime,
    mode: str = "enforce",
    answers: Mapping[str, Answer] | None = None,
) -> Judgement:
    """Each line's codes: from the registry's rules, or from Partner Center's `answers` (by
    PLA id) when it is the authority for the request's distributor, the registry's codes
    riding along (a line whose id has no answer is decided from the registry:
    `registry_fallback`). `mode`: the setting; the distributor's own mode wins over it."""
    basis = request_basis(request, enforcement_start)
    if basis != "validated":
        verdicts: list[_Verdict] = [
            (line.line_item_id, line.partner_id_on_record, [], None, _NO_DESCRIPTIONS)
            for line in request.lines
        ]
        authority: Authority = "registry" if answers is None else "partner_center"
        return Judgement(request, basis, authority, verdicts, [], False, False)
    if answers is None:  # the registry decides: the validator's hot path
        distributor_id = request.distributor_id
        verdicts = [
            (
                line.line_item_id,
                line.partner_id_on_record,
                [int(c) for c in evaluate_por(line.partner_id_on_record, distributor_id, registry)],
                None,
                _NO_DESCRIPTIONS,
            )
            for line in request.lines
        ]
        authority, registry_drift = "registry", False
    else:
        verdicts, authority = _by_partner_center(request, registry, answers)
        registry_drift = any(v[3] is not None and not agree(v[2], v[3]) for v in verdicts)
    # One line's codes are in canonical order already (evaluate_por's, or Partner Center's one).
    codes = list(verdicts[0][2]) if len(verdicts) == 1 else _union([v[2] for v in verdicts])
    return Judgement(
        request,
        basis,
        authority,
        verdicts,
        codes,
        registry_drift,
        bool(codes) and mode_for(request.distributor_id, registry, mode) == "observe",
    )


def _by_partner_center(
    request: ValidationRequested, registry: Registry, answers: Mapping[str, Answer]
) -> tuple[list[_Verdict], Authority]:
    authority: Authority = "partner_center"
    verdicts: list[_Verdict] = []
    for line in request.lines:
        pid = line.partner_id_on_record
        registry_codes = [int(c) for c in evaluate_por(pid, request.distributor_id, registry)]
        normalized = normalize_partner_id(pid)
        if normalized is None:  # not a PLA id's shape: both say so, nothing was asked
            verdicts.append(
                (line.line_item_id, pid, registry_codes, registry_codes, _NO_DESCRIPTIONS)
            )
        elif (answer := answers.get(normalized)) is None:
            authority = "registry_fallback"
            verdicts.append((line.line_item_id, pid, registry_codes, None, _NO_DESCRIPTIONS))
        else:
            codes = list(answer.codes)
            descriptions = {c: answer.error_description for c in codes}
            verdicts.append((line.line_item_id, pid, codes, registry_codes, descriptions))
    return verdicts, authority


def decision(
    judgement: Judgement,
    registry: Registry,
    *,
    decided_at: datetime,
    provenance: Mapping[Source, Provenance] | None = None,
    decision_id: str | None = None,
) -> TransactionDecision:
    """The decision of a judgement, built once. In observe mode what would be blocked is
    accepted, saying so (`wouldBlock`, `observedErrorCodes`). `provenance`: the registry
    rows' as-of times and events; given, each blocked line (`Judgement.to_explain`) carries
    the decision table's walk over the registry (the registry's walk even where Partner
    Center decided), for the notifier to tell the distributor why. `decision_id`: by
    default derived from the request (automatic release names its own)."""
    j = judgement
    if j.observed:
        lines = [
            _trusted_line(
                line_item_id=item,
                partner_id_on_record=pid,
                error_codes=[],
                errors=[],
                registry_error_codes=registry_codes,
                observed_error_codes=line_codes,
            )
            for item, pid, line_codes, registry_codes, _ in j.verdicts
        ]
    else:
        explained = 0
        lines = []
        for item, pid, line_codes, registry_codes, descriptions in j.verdicts:
            fields = {
                "line_item_id": item,
                "partner_id_on_record": pid,
                "error_codes": line_codes,
                "errors": [_detail(c, descriptions.get(c)) for c in line_codes],
                "registry_error_codes": registry_codes,
            }
            if line_codes and provenance is not None and explained < MAX_EXPLAINED_LINES:
                explained += 1
                distributor_id = j.request.distributor_id
                fields["explanation"] = wire_walk(pid, distributor_id, registry, provenance)
            lines.append(_trusted_line(**fields))
    model, fields = _decision_fields(
        j.request,
        j.basis,
        lines,
        [] if j.observed else j.codes,
        j.authority,
        j.registry_drift,
        j.codes if j.observed else None,
        decision_id,
    )
    # The lines, codes and request fields are the judgement's own, valid as they are: built
    # without validating them again, unless `decided_at` is not the plain UTC time the
    # services pass (validation then checks and keeps it as it always did).
    if type(decided_at) is datetime and decided_at.tzinfo is UTC:
        return _trusted_decision[model](**fields, decided_at=decided_at)
    return model(**fields, decided_at=decided_at)


def decide(
    request: ValidationRequested,
    registry: Registry,
    *,
    enforcement_start: datetime,
    decided_at: datetime,
    mode: str = "enforce",
    answers: Mapping[str, Answer] | None = None,
    provenance: Mapping[Source, Provenance] | None = None,
    decision_id: str | None = None,
) -> TransactionDecision:
    """The decision for one validation request against a registry snapshot: `judge`, then
    `decision` (their arguments are explained there). A batch calls the two halves itself,
    to read the registry's provenance only when some line needs a walk."""
    judgement = judge(
        request, registry, enforcement_start=enforcement_start, mode=mode, answers=answers
    )
    return decision(
        judgement, registry, decided_at=decided_at, provenance=provenance, decision_id=decision_id
    )


def exempt_decision(
    request: ValidationRequested, basis: Basis, decided_at: datetime
) -> TransactionDecision:
    """An accepted decision without validation, saying why (subscription-change's shortcut)."""
    assert basis != "validated"
    lines = [
        decision_line(line.line_item_id, line.partner_id_on_record, ()) for line in request.lines
    ]
    return make_decision(request, basis=basis, lines=lines, decided_at=decided_at)


__all__ = [
    "MAX_EXPLAINED_LINES",
    "Judgement",
    "decide",
    "decision",
    "exempt_decision",
    "judge",
    "make_decision",
]
