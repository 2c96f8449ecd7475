"""The GDAP sync's plan (services/partner_center_sync/gdap_changes.py): which relationships of a
distributor's Graph list reach the registry, with which reseller, and when."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.graph.models import Relationship
from services.partner_center_sync import gdap_changes as gc
from services.partner_center_sync.gdap_changes import SeenRelationship

DIST, TENANT = "dist-eu-1", "11111111-aaaa-bbbb-cccc-000000000001"
END = datetime(2027, 1, 1, tzinfo=UTC)


def rel(
    rid: str,
    customer: str = "cust-1",
    status: str = "active",
    *,
    provider: str | None = TENANT,
    roles: tuple[str, ...] = ("role-a", "role-b"),
) -> Relationship:
    """A relationship of the distributor's list; `provider` None: its own (not for a reseller)."""
    return Relationship(
        relationship_id=rid,
        status=status,
        customer_tenant_id=customer,
        roles=roles,
        ends_at=END,
        for_reseller=provider is not None,
        indirect_provider_tenant_id=provider,
    )


def seen_of(plan: gc.GdapPlan, before: dict | None = None) -> dict[str, SeenRelationship]:
    """What the sync records after the plan."""
    out = dict(before or {})
    for c in plan.changes:
        out[c.relationship_id] = SeenRelationship(c.relationship_id, c.data, c.version)
    return out


def test_a_relationship_created_for_a_reseller_is_published_with_the_reseller_partner_center_names():
    plan = gc.plan(DIST, TENANT, [rel("rel-1")], {}, {"cust-1": ["ten-5"]})
    (change,) = plan.changes
    assert change.kind == "added" and change.version == 1
    assert change.data == {
        "relationshipId": "rel-1",
        "customerId": "cust-1",
        "resellerTenantId": "ten-5",
        "roles": ["role-a", "role-b"],
        "status": "active",
        "endsAt": "2027-01-01T00:00:00Z",
        "distributorId": DIST,
    }
    assert (plan.listed, plan.own, plan.skipped) == (1, 0, ())


def test_the_distributors_own_relationships_are_counted_and_never_published():
    own = rel("rel-own", provider=None)
    # Created by another indirect provider for the distributor as its reseller: its own too.
    other = rel("rel-other", provider="99999999-0000-0000-0000-000000000000")
    plan = gc.plan(DIST, TENANT, [own, other], {}, {})
    assert plan.changes == () and plan.own == 2 and plan.listed == 0


def test_the_provider_tenant_compares_without_regard_to_case():
    assert gc.for_a_reseller(rel("r", provider=TENANT.upper()), TENANT)


@pytest.mark.parametrize(
    "resolution, why",
    [
        ([], "lists no indirect reseller"),
        (["ten-5", "ten-6"], "lists 2 indirect resellers"),
        ("Partner Center: throttled", "throttled"),
    ],
)
def test_a_relationship_whose_reseller_is_not_named_exactly_once_is_skipped_not_guessed(
    resolution, why
):
    plan = gc.plan(DIST, TENANT, [rel("rel-1")], {}, {"cust-1": resolution})
    assert plan.changes == ()
    (skipped,) = plan.skipped
    assert skipped.startswith("rel-1: ") and why in skipped


def test_a_rerun_over_the_same_list_changes_nothing_and_needs_no_partner_center():
    first = gc.plan(DIST, TENANT, [rel("rel-1")], {}, {"cust-1": ["ten-5"]})
    seen = seen_of(first)
    assert gc.customers_to_resolve([rel("rel-1")], seen, TENANT) == []
    # Graph's order of roles is no change either.
    again = gc.plan(DIST, TENANT, [rel("rel-1", roles=("role-b", "role-a"))], seen, {})
    assert again.changes == () and again.skipped == ()


def test_a_status_change_is_published_as_a_new_version_with_the_reseller_kept():
    seen = seen_of(gc.plan(DIST, TENANT, [rel("rel-1", status="approvalPending")], {},
                           {"cust-1": ["ten-5"]}))  # fmt: skip
    plan = gc.plan(DIST, TENANT, [rel("rel-1", status="active")], seen, {})
    (change,) = plan.changes
    assert (change.kind, change.version, change.data["status"]) == ("changed", 2, "active")
    assert change.data["resellerTenantId"] == "ten-5"


def test_a_relationship_that_leaves_the_list_is_published_once_as_absent():
    seen = seen_of(gc.plan(DIST, TENANT, [rel("rel-1"), rel("rel-2", "cust-2")], {},
                           {"cust-1": ["ten-5"], "cust-2": ["ten-6"]}))  # fmt: skip
    plan = gc.plan(DIST, TENANT, [rel("rel-2", "cust-2")], seen, {})
    (change,) = plan.changes
    assert (change.kind, change.relationship_id, change.data["status"]) == (
        "removed",
        "rel-1",
        gc.ABSENT,
    )
    after = seen_of(plan, seen)
    assert gc.plan(DIST, TENANT, [rel("rel-2", "cust-2")], after, {}).changes == ()
    back = gc.plan(DIST, TENANT, [rel("rel-1"), rel("rel-2", "cust-2")], after, {})
    assert [(c.kind, c.version) for c in back.changes] == [("added", 3)]


def test_only_unseen_relationships_created_for_resellers_need_their_customer_resolved():
    seen = seen_of(gc.plan(DIST, TENANT, [rel("rel-1")], {}, {"cust-1": ["ten-5"]}))
    listing = [rel("rel-1"), rel("rel-2", "cust-2"), rel("rel-3", "cust-3", provider=None)]
    assert gc.customers_to_resolve(listing, seen, TENANT) == ["cust-2"]


def test_event_ids_derive_from_the_relationship_its_version_and_its_content():
    plan = gc.plan(DIST, TENANT, [rel("rel-1")], {}, {"cust-1": ["ten-5"]})
    (change,) = plan.changes
    same = gc.plan(DIST, TENANT, [rel("rel-1")], {}, {"cust-1": ["ten-5"]}).changes[0]
    other = gc.plan(DIST, TENANT, [rel("rel-1", status="expired")], {}, {"cust-1": ["ten-5"]})
    assert gc.event_id(DIST, change) == gc.event_id(DIST, same)
    assert gc.event_id(DIST, change) != gc.event_id(DIST, other.changes[0])
    (message,) = gc.outgoing(plan, END)
    assert message.key == "rel-1" and message.event.id == gc.event_id(DIST, change)
    assert message.topic.name == "csp.partner-registry.v1"


def _seen_active(n: int) -> dict[str, SeenRelationship]:
    listing = [rel(f"rel-{i}", f"cust-{i}") for i in range(n)]
    return seen_of(gc.plan(DIST, TENANT, listing, {}, {f"cust-{i}": ["ten"] for i in range(n)}))


def test_an_empty_list_or_one_removing_most_relationships_is_refused():
    seen = _seen_active(8)
    empty = gc.plan(DIST, TENANT, [], seen, {})
    assert "remove 8 of the 8 GDAP relationships" in gc.mass_removal(empty, seen)
    most = gc.plan(DIST, TENANT, [rel(f"rel-{i}", f"cust-{i}") for i in range(3)], seen, {})
    assert gc.mass_removal(most, seen) is not None
    few = gc.plan(DIST, TENANT, [rel(f"rel-{i}", f"cust-{i}") for i in range(7)], seen, {})
    assert few.count("removed") == 1 and gc.mass_removal(few, seen) is None
