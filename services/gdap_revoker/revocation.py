"""Which GDAP relationships to terminate, and why. Pure: plain data in, plain data out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Reason = Literal["reseller_suspended", "customer_unassigned"]

SUSPENDED = "suspended"
REMOVED = "removed"
# Graph's delegatedAdminRelationshipStatus values that grant privileges ("expiring" is
# active until its end). Pending states (approvalPending, approved, activating) grant
# nothing yet and cannot be terminated: when one turns active, discovery or Partner Center's
# event sends it again and on_relationship decides then.
GRANTING = frozenset({"active", "expiring"})
# Not yet sent for approval: deleted (with its ETag) so that it can never activate.
CREATED = "created"


@dataclass(frozen=True, slots=True)
class Relationship:
    relationship_id: str
    customer_id: str
    reseller_tenant_id: str
    status: str
    ends_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Termination:
    relationship_id: str
    customer_id: str
    reseller_tenant_id: str
    reason: Reason
    cause_event_id: str


def grants_privileges(rel: Relationship, now: datetime) -> bool:
    """Active and not past its end: a relationship past `ends_at` has expired in Graph already."""
    return rel.status.strip().lower() in GRANTING and (rel.ends_at is None or rel.ends_at > now)


def revocable(rel: Relationship, now: datetime) -> bool:
    """Grants privileges now, or could once approved: the terminator reads its live status
    and terminates or deletes it accordingly."""
    return grants_privileges(rel, now) or rel.status.strip().lower() == CREATED


def _terminate(
    rels: Iterable[Relationship], reason: Reason, cause_event_id: str
) -> list[Termination]:
    out = {
        r.relationship_id: Termination(
            r.relationship_id, r.customer_id, r.reseller_tenant_id, reason, cause_event_id
        )
        for r in rels
    }
    return [out[k] for k in sorted(out)]


def on_tenant(
    reseller_tenant_id: str,
    status: str,
    relationships: Iterable[Relationship],
    *,
    cause_event_id: str,
    now: datetime,
) -> list[Termination]:
    """A reseller tenant's newest state: suspended means none of its relationships may stay active.

    Any suspended state counts, not only a transition: a re-sent state after a missed
    transition still leaves the reseller with no privilege.
    """
    if status != SUSPENDED:
        return []
    return _terminate(
        (
            r
            for r in relationships
            if r.reseller_tenant_id == reseller_tenant_id and revocable(r, now)
        ),
        "reseller_suspended",
        cause_event_id,
    )


def on_assignment(
    customer_id: str,
    reseller_tenant_id: str,
    status: str,
    relationships: Iterable[Relationship],
    *,
    still_assigned: bool,
    cause_event_id: str,
    now: datetime,
) -> list[Termination]:
    """A customer assignment's newest state: removed ends the reseller's access to that customer only.

    `still_assigned`: the customer stays assigned to the same reseller through another
    distributor, so the reseller still serves it and its access stays.
    """
    if status != REMOVED or still_assigned:
        return []
    return _terminate(
        (
            r
            for r in relationships
            if r.reseller_tenant_id == reseller_tenant_id
            and r.customer_id == customer_id
            and revocable(r, now)
        ),
        "customer_unassigned",
        cause_event_id,
    )


def on_relationship(
    rel: Relationship,
    tenant_status: str | None,
    *,
    suspension_event_id: str | None,
    now: datetime,
) -> list[Termination]:
    """A relationship's newest state: one that arrives active for a suspended reseller goes too.

    The cause is the suspension (the event that made the reseller ineligible), not the
    relationship's own upsert.
    """
    if tenant_status != SUSPENDED or suspension_event_id is None or not revocable(rel, now):
        return []
    return _terminate((rel,), "reseller_suspended", suspension_event_id)
