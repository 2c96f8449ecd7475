"""What one GDAP sync of a distributor publishes: its Graph list now against what was seen.

Pure: the distributor's `delegatedAdminRelationships` (services/graph/models.py), what the
last sync recorded per relationship, and the resellers Partner Center named per customer go
in; the changes come out, each with the `csp.gdap-relationship.upserted.v1` data to publish
and record as seen. docs/gdap-and-partner-center-events.md says what porgate relies on:
- A `resellerDelegatedAdminRelationship` whose `indirectProviderTenantId` is the
  distributor's own tenant is one the distributor created for an indirect reseller. Graph
  names no reseller on it, so the reseller is the one Partner Center lists for its customer;
  none or several: it is skipped and reported, never guessed.
- Any other item is the distributor's own relationship (its own privileges): skipped,
  counted as `own`.
- A relationship seen before that leaves the list is published once with the status
  `absent` (porgate's word: Graph's list no longer shows it, so it grants nothing).
- The reseller found for a relationship is kept: a relationship is created for one reseller.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError

from contracts.codec import new_event
from contracts.envelope import CloudEvent
from contracts.events import GdapRelationshipUpserted
from contracts.ids import derived_event_id
from contracts.topics import PARTNER_REGISTRY
from services.common.service import Outgoing
from services.graph.models import Relationship
from services.partner_center_sync.changes import mass_removal_refusal

SOURCE = "/porgate/gdap-sync"
ABSENT = "absent"

ChangeKind = Literal["added", "changed", "removed"]
# What Partner Center said of a customer: its indirect resellers' tenant ids, or why it
# could not be asked.
Resolution = Sequence[str] | str


@dataclass(frozen=True)
class SeenRelationship:
    """What the last sync that changed it recorded of one relationship of the distributor."""

    relationship_id: str
    data: Mapping[str, Any]  # the upsert's data as published (camelCase)
    # Counts the relationship's changes; it names their events, so a rerun never reuses an id.
    version: int

    @property
    def absent(self) -> bool:
        return self.data["status"] == ABSENT


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    relationship_id: str
    version: int
    data: dict[str, Any]


@dataclass(frozen=True)
class GdapPlan:
    distributor_id: str
    listed: int  # the distributor's relationships created for resellers, on the list
    own: int  # the distributor's own relationships, not published
    changes: tuple[Change, ...]
    skipped: tuple[str, ...]  # relationships that could not be used, each with why

    def count(self, kind: ChangeKind) -> int:
        return sum(1 for c in self.changes if c.kind == kind)


def for_a_reseller(rel: Relationship, distributor_tenant_id: str) -> bool:
    """Created by this distributor (the indirect provider) for one of its indirect resellers."""
    provider = (rel.indirect_provider_tenant_id or "").strip().lower()
    return rel.for_reseller and provider == distributor_tenant_id.strip().lower()


def customers_to_resolve(
    relationships: Iterable[Relationship],
    seen: Mapping[str, SeenRelationship],
    distributor_tenant_id: str,
) -> list[str]:
    """Customers whose indirect reseller Partner Center must name: those of relationships
    created for a reseller that no sync has recorded yet."""
    return sorted(
        {
            r.customer_tenant_id
            for r in relationships
            if for_a_reseller(r, distributor_tenant_id) and r.relationship_id not in seen
        }
    )


def data_of(distributor_id: str, reseller_tenant_id: str, rel: Relationship) -> dict[str, Any]:
    """The upsert's data; ValidationError when a field breaks the contract."""
    upsert = GdapRelationshipUpserted(
        relationship_id=rel.relationship_id,
        customer_id=rel.customer_tenant_id,
        reseller_tenant_id=reseller_tenant_id,
        roles=sorted(set(rel.roles)),  # Graph's order is no change
        status=rel.status,
        ends_at=rel.ends_at,
        distributor_id=distributor_id,
    )
    return upsert.model_dump(mode="json", by_alias=True)


def _reseller_of(
    rel: Relationship,
    seen: Mapping[str, SeenRelationship],
    resolved: Mapping[str, Resolution],
) -> tuple[str | None, str | None]:
    """The relationship's reseller tenant, or why it has none."""
    before = seen.get(rel.relationship_id)
    if before is not None:
        return before.data["resellerTenantId"], None
    candidates = resolved.get(rel.customer_tenant_id)
    if candidates is None:
        return None, "Partner Center was not asked for its customer's indirect reseller"
    if isinstance(candidates, str):
        return None, candidates
    if len(candidates) == 1:
        return candidates[0], None
    if not candidates:
        return (
            None,
            f"Partner Center lists no indirect reseller for customer {rel.customer_tenant_id}",
        )
    return None, (
        f"Partner Center lists {len(candidates)} indirect resellers for customer"
        f" {rel.customer_tenant_id} and Graph names none"
    )


def plan(
    distributor_id: str,
    distributor_tenant_id: str,
    relationships: Iterable[Relationship],
    seen: Mapping[str, SeenRelationship],
    resolved: Mapping[str, Resolution],
) -> GdapPlan:
    """The changes that bring what was seen in line with the list, relationships in id order.

    `resolved`: customer tenant id -> what Partner Center said of its indirect resellers.
    A relationship of `seen` missing from the list is absent: for a webhook's refresh of one
    relationship, both hold that one only."""
    listed = {r.relationship_id: r for r in relationships}  # a repeat (paging moved): the later
    changes: list[Change] = []
    skipped: list[str] = []
    own = 0
    ours: set[str] = set()
    for rid, rel in sorted(listed.items()):
        if not for_a_reseller(rel, distributor_tenant_id):
            own += 1
            continue
        ours.add(rid)
        reseller, why = _reseller_of(rel, seen, resolved)
        if reseller is None:
            skipped.append(f"{rid[:80]}: {why}")
            continue
        try:
            now = data_of(distributor_id, reseller, rel)
        except ValidationError as exc:
            error = exc.errors(include_url=False, include_input=False)[0]
            skipped.append(f"{rid[:80]}: {'.'.join(map(str, error['loc']))}: {error['msg']}")
            continue
        before = seen.get(rid)
        if before is not None and before.data == now:
            continue
        kind: ChangeKind = "added" if before is None or before.absent else "changed"
        changes.append(Change(kind, rid, (before.version if before else 0) + 1, now))
    for rid, before in sorted(seen.items()):
        if rid in ours or before.absent:
            continue
        gone = {**before.data, "status": ABSENT}
        changes.append(Change("removed", rid, before.version + 1, gone))
    return GdapPlan(distributor_id, len(ours), own, tuple(changes), tuple(skipped))


def mass_removal(plan: GdapPlan, seen: Mapping[str, SeenRelationship]) -> str | None:
    """Why this plan's removals need an operator's confirmation (changes.py's guard)."""
    return mass_removal_refusal(
        removed=plan.count("removed"),
        active=sum(1 for s in seen.values() if not s.absent),
        listed=plan.listed,
        noun="GDAP relationships",
        command="porgate sync gdap --distributor ID --allow-mass-removal",
    )


def event_id(distributor_id: str, change: Change) -> str:
    """Derived from the relationship, its version and its content: a rerun that changes
    nothing publishes nothing, and whoever computes a change computes the same id."""
    digest = hashlib.sha256(json.dumps(change.data, sort_keys=True).encode()).hexdigest()[:32]
    return derived_event_id(
        "gdap-sync", distributor_id, change.relationship_id, str(change.version), digest
    )


def outgoing(plan: GdapPlan, at: datetime) -> list[Outgoing]:
    """Every upsert the plan publishes, as the CloudEvents of `at`, the sync's time. Keyed by
    the relationship id: the registry topic is compacted, one key per entity."""
    out = []
    for change in plan.changes:
        event: CloudEvent[Any] = new_event(
            GdapRelationshipUpserted.model_validate(change.data),
            source=SOURCE,
            id=event_id(plan.distributor_id, change),
            subject=change.relationship_id,
            time=at,
        )
        out.append(Outgoing(PARTNER_REGISTRY, change.relationship_id, event))
    return out
