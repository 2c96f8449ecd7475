"""Re-check now: a blocked transaction re-decided after the authority was asked again. Pure.

Automatic release (release.py) re-decides from the registry when a registry fact changes;
a re-check asks the authority on demand, so its answers may be Partner Center's. The rest is
release's: an accepted decision superseding the blocked one, its id derived from (blocked
decision, the re-check), and nothing when the transaction is still blocked. The unique index
on `supersedes_decision_id` keeps each blocked decision superseded at most once, whoever
gets there first.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from contracts.events import TransactionDecision, ValidationRequested
from contracts.ids import derived_event_id
from services.domain.authority import Answer
from services.domain.decisions import decide
from services.domain.por_rules import Registry
from services.domain.release import release_id, released


def recheck_id(distributor_id: str, partner_id: str, checked_at: datetime) -> str:
    """The re-check's own id: what a release it causes derives from."""
    return derived_event_id("recheck", distributor_id, partner_id, checked_at.isoformat())


def rechecked(
    blocked_decision_id: str,
    request: ValidationRequested,
    registry: Registry,
    answers: Mapping[str, Answer] | None,
    *,
    recheck: str,
    enforcement_start: datetime,
    decided_at: datetime,
) -> tuple[ValidationRequested, TransactionDecision] | None:
    """The accepted decision superseding a blocked one if it passes now, by Partner Center's
    `answers` when it is the authority (else the registry's rules); None if still blocked."""
    if answers is None:
        return released(
            blocked_decision_id,
            request,
            registry,
            registry_event_id=recheck,
            enforcement_start=enforcement_start,
            decided_at=decided_at,
        )
    revised = request.model_copy(update={"supersedes_decision_id": blocked_decision_id})
    decision = decide(
        revised,
        registry,
        answers=answers,
        enforcement_start=enforcement_start,
        decided_at=decided_at,
        decision_id=release_id(blocked_decision_id, recheck),
    )
    # A line Partner Center could not answer fell back on the registry: not a release.
    if decision.outcome != "accepted" or decision.authority != "partner_center":
        return None
    return revised, decision
