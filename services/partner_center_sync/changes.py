"""What one sync of a distributor publishes: Partner Center's list now against what was seen.

Pure: the distributor's `IsIndirectCloudSolutionProviderOf` relationships and what the last
sync recorded per reseller go in; the changes come out, each with the registry upserts to
publish and the state to record as seen. Nothing here does I/O.

Where Microsoft is silent, porgate chooses (also in docs/operations.md, "Registry sync from Partner Center"):
- A relationship whose `state` is `active` (any case) is an active partnership; its reseller
  tenant (`id`) is an active CSP indirect reseller tenant, authorized (being listed as an
  indirect reseller says so), in the country `location` names; its `mpnId` is an active PLA
  account linked to that tenant. `name` names both.
- Any other state (Microsoft documents only `active`) is a partnership `requested`: listed,
  not active, so validation reports 900414. Such an entry carries no tenant or account
  facts: a relationship's state says nothing certain of the tenant, which every distributor
  shares. The sync never publishes a tenant `suspended`: a suspension revokes all of the
  reseller's GDAP relationships, and no list entry proves one.
- A reseller that leaves the list: its partnership `removed`; its tenant and account are
  left as they were (it may be another distributor's reseller).
- A `location` that is not a two-letter code is an unknown country (""): no region.
- An entry without an id is skipped and reported; an id listed twice (the list moved while
  it was paged) counts once, an active entry over any other, else the later one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from contracts.codec import new_event
from contracts.envelope import CloudEvent
from contracts.events import PartnerAccountUpserted, PartnershipUpserted, ResellerTenantUpserted
from contracts.ids import derived_event_id
from contracts.topics import PARTNER_REGISTRY
from services.common.service import Outgoing
from services.partner_center.models import PartnerRelationship

SOURCE = "/porgate/partner-center-sync"

TENANT, ACCOUNT, PARTNERSHIP = "tenant", "account", "partnership"
# The order a change's upserts are published in: the tenant and account before the
# partnership that refers to them.
ENTITY_ORDER = (TENANT, ACCOUNT, PARTNERSHIP)
_MODELS: dict[str, type[BaseModel]] = {
    TENANT: ResellerTenantUpserted,
    ACCOUNT: PartnerAccountUpserted,
    PARTNERSHIP: PartnershipUpserted,
}

# Entity kind -> its upsert's data, camelCase as on the wire (and as recorded in PostgreSQL).
Entities = dict[str, dict[str, Any]]
ChangeKind = Literal["added", "changed", "removed"]


@dataclass(frozen=True)
class Seen:
    """What the last sync that changed anything recorded of one reseller of the distributor."""

    reseller_tenant_id: str
    entities: Mapping[str, Mapping[str, Any]]
    # Counts the reseller's changes; it names their events, so a rerun never reuses an id.
    version: int

    @property
    def removed(self) -> bool:
        return self.entities[PARTNERSHIP]["status"] == "removed"


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    reseller_tenant_id: str
    version: int
    entities: Entities  # the state to record as seen
    publish: tuple[str, ...]  # the entity kinds whose upsert is published, in ENTITY_ORDER


@dataclass(frozen=True)
class Plan:
    distributor_id: str
    listed: int  # distinct resellers on the list
    changes: tuple[Change, ...]
    skipped: tuple[str, ...]  # entries that could not be used, each with why

    def count(self, kind: ChangeKind) -> int:
        return sum(1 for c in self.changes if c.kind == kind)

    @property
    def upserts(self) -> int:
        return sum(len(c.publish) for c in self.changes)


def is_active(relationship: PartnerRelationship) -> bool:
    return (relationship.state or "").strip().lower() == "active"


def country_of(location: str | None) -> str:
    code = (location or "").strip().upper()
    return code if len(code) == 2 and code.isascii() and code.isalpha() else ""


def entities_of(distributor_id: str, relationship: PartnerRelationship) -> Entities:
    """The registry upserts one listed relationship stands for. Raises ValidationError when a
    field breaks the contract (an id over 256 characters, say)."""
    tenant_id = relationship.id.strip()
    partnership = PartnershipUpserted(
        distributor_id=distributor_id,
        reseller_tenant_id=tenant_id,
        status="active" if is_active(relationship) else "requested",
    )
    entities = {PARTNERSHIP: _wire(partnership)}
    if not is_active(relationship):
        return entities
    name = (relationship.name or "").strip() or tenant_id
    entities[TENANT] = _wire(
        ResellerTenantUpserted(
            reseller_tenant_id=tenant_id,
            name=name,
            kind="csp_indirect_reseller",
            status="active",
            indirect_reseller_authorized=True,
            country=country_of(relationship.location),
        )
    )
    if partner_id := (relationship.mpn_id or "").strip():
        entities[ACCOUNT] = _wire(
            PartnerAccountUpserted(
                partner_id=partner_id,
                account_type="PLA",
                status="active",
                name=name,
                reseller_tenant_id=tenant_id,
            )
        )
    return entities


def plan(
    distributor_id: str,
    relationships: Iterable[PartnerRelationship],
    seen: Mapping[str, Seen],
) -> Plan:
    """The changes that bring what was seen in line with the list, resellers in id order."""
    listed, skipped = _by_tenant(relationships)
    changes: list[Change] = []
    for tenant_id, relationship in sorted(listed.items()):
        try:
            now = entities_of(distributor_id, relationship)
        except ValidationError as exc:
            error = exc.errors(include_url=False, include_input=False)[0]
            skipped.append(f"{tenant_id[:80]}: {'.'.join(map(str, error['loc']))}: {error['msg']}")
            continue
        before = seen.get(tenant_id)
        if before is not None and not before.removed and before.entities == now:
            continue
        previous = {} if before is None else before.entities
        changes.append(
            Change(
                kind="added" if before is None or before.removed else "changed",
                reseller_tenant_id=tenant_id,
                version=(0 if before is None else before.version) + 1,
                entities=now,
                publish=tuple(k for k in ENTITY_ORDER if k in now and now[k] != previous.get(k)),
            )
        )
    for tenant_id, before in sorted(seen.items()):
        if tenant_id in listed or before.removed:
            continue
        partnership = {**before.entities[PARTNERSHIP], "status": "removed"}
        changes.append(
            Change(
                kind="removed",
                reseller_tenant_id=tenant_id,
                version=before.version + 1,
                entities={
                    **{k: dict(v) for k, v in before.entities.items()},
                    PARTNERSHIP: partnership,
                },
                publish=(PARTNERSHIP,),
            )
        )
    return Plan(distributor_id, len(listed), tuple(changes), tuple(skipped))


# A list that would end more than this share of the active partnerships (and at least
# MASS_REMOVAL_MIN of them), or every one, is more likely a broken answer (an empty body, a
# gateway's page, the wrong tenant's credentials, entries without a `state`) than a real
# change: each ended partnership blocks that reseller's transactions and notifies the
# distributor. It takes an operator to confirm. The share is of the active partnerships at
# the start of MASS_REMOVAL_WINDOW, counting the losses of the runs in it, so that runs that
# each end just under half (10 -> 6 -> 3 -> 1) add up.
MASS_REMOVAL_SHARE = 0.5
MASS_REMOVAL_MIN = 5
MASS_REMOVAL_WINDOW = timedelta(days=7)


def _active(entities: Mapping[str, Mapping[str, Any]]) -> bool:
    return entities[PARTNERSHIP]["status"] == "active"


def lost(plan: Plan, seen: Mapping[str, Seen]) -> int:
    """The active partnerships this plan ends: removed, or downgraded to `requested` (which
    blocks the reseller with 900414 just the same)."""
    return sum(
        1
        for change in plan.changes
        if (before := seen.get(change.reseller_tenant_id)) is not None
        and _active(before.entities)
        and not _active(change.entities)
    )


def mass_removal(plan: Plan, seen: Mapping[str, Seen], recently_lost: int = 0) -> str | None:
    """Why this plan's losses need an operator's confirmation; None when they do not.
    `recently_lost`: the active partnerships that the window's earlier runs ended."""
    ending = lost(plan, seen)
    if not ending:
        return None
    active = sum(1 for s in seen.values() if _active(s.entities))
    confirm = (
        " refused as a likely broken answer; run `porgate sync partner-center --distributor"
        f" {plan.distributor_id} --allow-mass-removal` to confirm"
    )
    if ending >= active:
        return (
            f"the list would end all {active} active partnership(s) ({plan.listed} listed):"
            + confirm
        )
    in_window, baseline = recently_lost + ending, active + recently_lost
    if in_window >= MASS_REMOVAL_MIN and in_window > baseline * MASS_REMOVAL_SHARE:
        days = MASS_REMOVAL_WINDOW.days
        return (
            f"the list would end {ending} of the {active} active partnership(s)"
            f" ({plan.listed} listed), {in_window} of {baseline} within {days} days:" + confirm
        )
    return None


def mass_removal_refusal(
    *, removed: int, active: int, listed: int, noun: str, command: str
) -> str | None:
    """The guard of every list porgate syncs (resellers, GDAP relationships): removing all of
    what was seen, or most of it, is refused until an operator runs `command`."""
    if not removed:
        return None
    if listed == 0 or (removed >= MASS_REMOVAL_MIN and removed > active * MASS_REMOVAL_SHARE):
        return (
            f"the list would remove {removed} of the {active} {noun} seen active"
            f" ({listed} listed): refused as a likely broken answer; run `{command}` to confirm"
        )
    return None


def event_id(distributor_id: str, change: Change, entity: str) -> str:
    """The same distributor, reseller, entity and version: the same id, whoever computes it."""
    return derived_event_id(
        "partner-center-sync",
        distributor_id,
        change.reseller_tenant_id,
        entity,
        str(change.version),
    )


def key_of(entity: str, data: Mapping[str, Any]) -> str:
    """The Kafka key: the entity's own id. The registry topic is compacted, so two entities
    must never share a key; a partnership is the pair of distributor and reseller."""
    if entity == TENANT:
        return data["resellerTenantId"]
    if entity == ACCOUNT:
        return data["partnerId"]
    return f"{data['distributorId']}:{data['resellerTenantId']}"


def outgoing(plan: Plan, at: datetime) -> list[Outgoing]:
    """Every upsert the plan publishes, as the CloudEvents of `at`, the sync's time."""
    out = []
    for change in plan.changes:
        for entity in change.publish:
            data = change.entities[entity]
            key = key_of(entity, data)
            event: CloudEvent[Any] = new_event(
                _MODELS[entity].model_validate(data),
                source=SOURCE,
                id=event_id(plan.distributor_id, change, entity),
                subject=key,
                time=at,
            )
            out.append(Outgoing(PARTNER_REGISTRY, key, event))
    return out


# Added within v1 and unknown to Partner Center's relationship list: left out while unset,
# so an entity compares equal to the one stored before the field existed.
_UNSET_ADDITIONS = frozenset({"globalPartnerId"})


def _wire(model: BaseModel) -> dict[str, Any]:
    data = model.model_dump(mode="json", by_alias=True)
    return {k: v for k, v in data.items() if not (k in _UNSET_ADDITIONS and v is None)}


def _by_tenant(
    relationships: Iterable[PartnerRelationship],
) -> tuple[dict[str, PartnerRelationship], list[str]]:
    listed: dict[str, PartnerRelationship] = {}
    skipped: list[str] = []
    for number, relationship in enumerate(relationships, 1):
        tenant_id = relationship.id.strip()
        if not tenant_id:
            skipped.append(f"entry {number} of the list: no reseller tenant id")
            continue
        kept = listed.get(tenant_id)
        if kept is not None and is_active(kept) and not is_active(relationship):
            continue
        listed[tenant_id] = relationship
    return listed, skipped
