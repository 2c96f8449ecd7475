"""Why a PLA ID passes or fails for a distributor: the decision table's walk, step by step.

Pure. The walk is `evaluate_por` itself, told to record: the explanation's codes are the
validator's codes by construction, not by a second reading of the table. Provenance (the
registry row's as-of time and the id of the event that set it) comes from the caller, who
reads it next to the registry.

An explanation shows provenance only for rows that belong to the distributor it is for (its
own row and its partnerships): account and tenant rows are shared by every distributor, and
another distributor's sync may have set them. Their event ids (derived from that
distributor, the reseller and a version) and as-of times would tell one distributor that a
reseller is another's, and since when. Their values stay: the rules read them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Literal

from contracts.events import ExplainedFact, ExplainedStep
from services.domain.por_rules import STEPS, Fact, Registry, Source, evaluate_por, union_codes

Outcome = Literal["pass", "fail", "skipped"]


@dataclass(frozen=True, slots=True)
class Provenance:
    as_of: datetime
    event_id: str | None  # None: the row was projected before event ids were kept


@dataclass(frozen=True, slots=True)
class FactReading:
    fact: str
    value: str | bool | int | None
    as_of: datetime | None = None
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class StepResult:
    step: int
    check: str
    outcome: Outcome
    code: int | None  # the code the step yields when it fails
    facts: tuple[FactReading, ...] = ()


@dataclass(frozen=True, slots=True)
class Explanation:
    partner_id: str | None
    distributor_id: str
    steps: tuple[StepResult, ...]

    @property
    def codes(self) -> list[int]:
        """The codes of the failed steps, each once, in canonical order: the decision's."""
        return [int(c) for c in union_codes([[s.code for s in self.steps if s.outcome == "fail"]])]


def _plain(value: object) -> str | bool | int | None:
    # The partner id as given may be anything a caller passed; the registry's facts are
    # strings, booleans or None already.
    return value if value is None or isinstance(value, str | bool | int) else repr(value)


def explain(
    partner_id: object,
    distributor_id: str,
    registry: Registry,
    provenance: Mapping[Source, Provenance] | None = None,
) -> Explanation:
    """Every step of the table for this PLA ID and distributor: evaluated ones with the facts
    they read and whether they failed, the others `skipped`."""
    provenance = provenance or {}
    evaluated: dict[int, tuple[bool, tuple[Fact, ...]]] = {}

    def record(step: int, failed: bool, facts: tuple[Fact, ...]) -> None:
        evaluated[step] = (failed, facts)

    evaluate_por(partner_id, distributor_id, registry, record)
    steps = []
    for step in STEPS:
        if step.number not in evaluated:
            steps.append(StepResult(step.number, step.check, "skipped", None))
            continue
        failed, facts = evaluated[step.number]
        steps.append(
            StepResult(
                step.number,
                step.check,
                "fail" if failed else "pass",
                int(step.code) if failed else None,
                tuple(_reading(fact, provenance, distributor_id) for fact in facts),
            )
        )
    return Explanation(
        partner_id if isinstance(partner_id, str) or partner_id is None else repr(partner_id),
        distributor_id,
        tuple(steps),
    )


# The row kinds whose rows belong to one distributor (keyed by its id first).
_OWN_KINDS = ("distributor", "partnership")


def _owned_by(source: Source, distributor_id: str) -> bool:
    return source is not None and source[0] in _OWN_KINDS and source[1] == distributor_id


def _is_own_fact(name: str) -> bool:
    """A fact a walk read from the walk's distributor's own rows (a wire walk names facts, not
    rows; its distributor and partnership facts are the walk's distributor's)."""
    return name.split(".", 1)[0] in _OWN_KINDS


def _reading(
    fact: Fact, provenance: Mapping[Source, Provenance], distributor_id: str
) -> FactReading:
    name, value, source = fact
    found = provenance.get(source) if _owned_by(source, distributor_id) else None
    return FactReading(
        name,
        _plain(value),
        found.as_of if found else None,
        found.event_id if found else None,
    )


# ----------------------------------------------------------------------------- the wire


def to_wire(explanation: Explanation) -> list[ExplainedStep]:
    """The language-neutral walk a decision line carries."""
    # The facts' types are part of the key: True == 1 as a key, not on the wire.
    return [_wire_step(s, tuple(type(f.value) for f in s.facts)) for s in explanation.steps]


# Validating the ten-odd models of each blocked line's walk cost most of a blocked
# decision's CPU, and the same steps recur: every skipped step is alike, and a reseller's
# walk repeats with each of its orders. A step's wire model is built once and shared by
# the decisions that carry it, so it must never be changed in place (nothing does: a
# stripped walk is a new one, from_wire).
@lru_cache(maxsize=4096)
def _wire_step(s: StepResult, _types: tuple[type, ...]) -> ExplainedStep:
    return ExplainedStep(
        step=s.step,
        check=s.check,
        outcome=s.outcome,
        error_code=s.code,
        facts=[
            ExplainedFact(fact=f.fact, value=f.value, as_of=f.as_of, event_id=f.event_id)
            for f in s.facts
        ],
    )


def from_wire(
    partner_id: str | None, distributor_id: str, steps: Sequence[ExplainedStep]
) -> Explanation:
    """The walk a decision line carries, without the provenance of shared rows that a line
    decided before that rule may still name."""
    return Explanation(
        partner_id,
        distributor_id,
        tuple(
            StepResult(
                s.step,
                s.check,
                s.outcome,
                s.error_code,
                tuple(
                    FactReading(f.fact, f.value, f.as_of, f.event_id)
                    if _is_own_fact(f.fact)
                    else FactReading(f.fact, f.value)
                    for f in s.facts
                ),
            )
            for s in steps
        ),
    )
