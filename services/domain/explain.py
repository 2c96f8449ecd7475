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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, TypeVar, get_args

from contracts.events import ExplainedFact, ExplainedStep
from contracts.trusted import trusted_builder
from services.domain.por_rules import STEPS, Fact, Registry, Source, evaluate_por, union_codes

Outcome = Literal["pass", "fail", "skipped"]
# A fact's value as the wire carries it: these exact types pass as they are.
_PLAIN_VALUES = frozenset({str, bool, int, type(None)})


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
    if type(value) in _PLAIN_VALUES:  # the walk's facts: one test, not a union's isinstance
        return value  # type: ignore[return-value]
    return value if value is None or isinstance(value, str | bool | int) else repr(value)


def explain(
    partner_id: object,
    distributor_id: str,
    registry: Registry,
    provenance: Mapping[Source, Provenance] | None = None,
) -> Explanation:
    """Every step of the table for this PLA ID and distributor: evaluated ones with the facts
    they read and whether they failed, the others `skipped`."""
    steps = _walk(partner_id, distributor_id, registry, provenance, _step_result, FactReading)
    return Explanation(
        partner_id if isinstance(partner_id, str) or partner_id is None else repr(partner_id),
        distributor_id,
        tuple(steps),
    )


def wire_walk(
    partner_id: object,
    distributor_id: str,
    registry: Registry,
    provenance: Mapping[Source, Provenance] | None = None,
) -> list[ExplainedStep]:
    """`to_wire(explain(...))`, built straight from the walk: what a blocked line carries."""
    return _walk(partner_id, distributor_id, registry, provenance, _step, _wire_fact)


S = TypeVar("S")
F = TypeVar("F")


def _walk(
    partner_id: object,
    distributor_id: str,
    registry: Registry,
    provenance: Mapping[Source, Provenance] | None,
    step_of: Callable[[int, str, Outcome, int | None, list[F]], S],
    fact_of: Callable[[str, str | bool | int | None, datetime | None, str | None], F],
) -> list[S]:
    """The walk's steps as `step_of` builds them, with the facts `fact_of` builds."""
    evaluated: dict[int, tuple[bool, tuple[Fact, ...]]] = {}

    def record(step: int, failed: bool, facts: tuple[Fact, ...]) -> None:
        evaluated[step] = (failed, facts)

    evaluate_por(partner_id, distributor_id, registry, record)
    steps = []
    for step in STEPS:
        if step.number not in evaluated:
            steps.append(step_of(step.number, step.check, "skipped", None, []))
            continue
        failed, facts = evaluated[step.number]
        readings = []
        for name, value, source in facts:
            # Provenance only for the walk's distributor's own rows (the module docstring).
            owned = source is not None and source[0] in _OWN_KINDS and source[1] == distributor_id
            found = provenance.get(source) if owned and provenance else None
            readings.append(
                fact_of(
                    name,
                    _plain(value),
                    found.as_of if found else None,
                    found.event_id if found else None,
                )
            )
        steps.append(
            step_of(
                step.number,
                step.check,
                "fail" if failed else "pass",
                int(step.code) if failed else None,
                readings,
            )
        )
    return steps


def _step_result(
    step: int, check: str, outcome: Outcome, code: int | None, facts: list[FactReading]
) -> StepResult:
    return StepResult(step, check, outcome, code, tuple(facts))


# The row kinds whose rows belong to one distributor (keyed by its id first).
_OWN_KINDS = ("distributor", "partnership")


def _is_own_fact(name: str) -> bool:
    """A fact a walk read from the walk's distributor's own rows (a wire walk names facts, not
    rows; its distributor and partnership facts are the walk's distributor's)."""
    return name.split(".", 1)[0] in _OWN_KINDS


# ----------------------------------------------------------------------------- the wire


def to_wire(explanation: Explanation) -> list[ExplainedStep]:
    """The language-neutral walk a decision line carries."""
    return [
        _step(s.step, s.check, s.outcome, s.code, [_fact(f) for f in s.facts])
        for s in explanation.steps
    ]


# A blocked line's walk is some twenty models: built from the walk's own values without
# validating them again (contracts/trusted.py); any other value (a hand-made walk's) is
# validated as before.
_trusted_step = trusted_builder(ExplainedStep)
_trusted_fact = trusted_builder(ExplainedFact)
_OUTCOMES = frozenset(get_args(Outcome))


def _step(
    step: int, check: str, outcome: Outcome, code: int | None, facts: list[ExplainedFact]
) -> ExplainedStep:
    build = (
        _trusted_step
        if type(step) is int
        and type(check) is str
        and outcome in _OUTCOMES
        and (code is None or type(code) is int)
        else ExplainedStep
    )
    return build(step=step, check=check, outcome=outcome, error_code=code, facts=facts)


def _fact(f: FactReading) -> ExplainedFact:
    return _wire_fact(f.fact, f.value, f.as_of, f.event_id)


def _wire_fact(
    fact: str, value: str | bool | int | None, as_of: datetime | None, event_id: str | None
) -> ExplainedFact:
    build = (
        _trusted_fact
        if type(fact) is str
        and type(value) in _PLAIN_VALUES
        and (as_of is None or (type(as_of) is datetime and as_of.tzinfo is UTC))
        and (event_id is None or type(event_id) is str)
        else ExplainedFact
    )
    return build(fact=fact, value=value, as_of=as_of, event_id=event_id)


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
