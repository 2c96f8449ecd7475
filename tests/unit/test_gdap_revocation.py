"""gdap-revoker's pure core: which relationships a registry change terminates, and why."""

from datetime import UTC, datetime, timedelta

import pytest

from services.gdap_revoker.revocation import (
    Relationship,
    Termination,
    grants_privileges,
    on_assignment,
    on_relationship,
    on_tenant,
    revocable,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PAST = NOW - timedelta(days=1)
FUTURE = NOW + timedelta(days=1)


def rel(
    rid: str,
    customer: str = "cust-1",
    reseller: str = "ten-1",
    status: str = "active",
    ends_at=None,
):
    return Relationship(rid, customer, reseller, status, ends_at)


RELS = [
    rel("r-active-c1"),
    rel("r-active-c2", customer="cust-2"),
    rel("r-active-c1-b"),
    rel("r-terminated", status="terminated"),
    rel("r-expired", status="expired"),
    rel("r-ended", ends_at=PAST),
    rel("r-pending", status="approvalPending"),
    rel("r-terminating", status="terminationRequested"),
    rel("r-open-ended", customer="cust-2", ends_at=FUTURE),
    rel("r-other-reseller", customer="cust-2", reseller="ten-2"),
    rel("r-other-reseller-c1", customer="cust-1", reseller="ten-2"),
]


@pytest.mark.parametrize(
    ("status", "ends_at", "expected"),
    [
        ("active", None, True),
        ("Active", None, True),
        (" active ", None, True),
        ("active", FUTURE, True),
        ("active", NOW, False),
        ("active", PAST, False),
        ("terminated", None, False),
        ("terminating", None, False),
        ("terminationRequested", None, False),
        ("expired", None, False),
        ("approvalPending", None, False),
        ("activating", None, False),
        ("created", None, False),
        ("expiring", None, True),
        ("unknownFutureValue", None, False),
    ],
)
def test_grants_privileges(status, ends_at, expected):
    assert grants_privileges(rel("r", status=status, ends_at=ends_at), NOW) is expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("active", True),
        ("expiring", True),
        # Not yet sent for approval: deleted so that it can never activate.
        ("created", True),
        ("Created", True),
        ("approvalPending", False),
        ("activating", False),
        ("terminated", False),
        ("expired", False),
    ],
)
def test_revocable(status, expected):
    assert revocable(rel("r", status=status), NOW) is expected


@pytest.mark.parametrize(
    ("reseller", "status", "expected"),
    [
        ("ten-1", "suspended", ["r-active-c1", "r-active-c1-b", "r-active-c2", "r-open-ended"]),
        ("ten-2", "suspended", ["r-other-reseller", "r-other-reseller-c1"]),
        ("ten-3", "suspended", []),
        ("ten-1", "active", []),
        ("ten-1", "pending_onboarding", []),
        # Deletion is not suspension: the issue revokes on suspension only.
        ("ten-1", "deleted", []),
    ],
)
def test_on_tenant(reseller, status, expected):
    out = on_tenant(reseller, status, RELS, cause_event_id="evt-1", now=NOW)
    assert [t.relationship_id for t in out] == expected
    assert all(t.reason == "reseller_suspended" and t.cause_event_id == "evt-1" for t in out)
    assert all(t.reseller_tenant_id == reseller for t in out)


def test_on_tenant_carries_the_relationship_parties():
    assert on_tenant(
        "ten-1", "suspended", [rel("r", customer="cust-9")], cause_event_id="e", now=NOW
    ) == [Termination("r", "cust-9", "ten-1", "reseller_suspended", "e")]


def test_on_tenant_with_no_relationships():
    assert on_tenant("ten-1", "suspended", [], cause_event_id="e", now=NOW) == []


def test_on_tenant_duplicates_collapse():
    out = on_tenant("ten-1", "suspended", [rel("r"), rel("r")], cause_event_id="e", now=NOW)
    assert [t.relationship_id for t in out] == ["r"]


@pytest.mark.parametrize(
    ("customer", "reseller", "status", "still_assigned", "expected"),
    [
        ("cust-1", "ten-1", "removed", False, ["r-active-c1", "r-active-c1-b"]),
        ("cust-2", "ten-1", "removed", False, ["r-active-c2", "r-open-ended"]),
        ("cust-1", "ten-2", "removed", False, ["r-other-reseller-c1"]),
        ("cust-3", "ten-1", "removed", False, []),
        ("cust-1", "ten-1", "assigned", False, []),
        # Still assigned to the same reseller through another distributor: access stays.
        ("cust-1", "ten-1", "removed", True, []),
    ],
)
def test_on_assignment(customer, reseller, status, still_assigned, expected):
    out = on_assignment(
        customer,
        reseller,
        status,
        RELS,
        still_assigned=still_assigned,
        cause_event_id="evt-2",
        now=NOW,
    )
    assert [t.relationship_id for t in out] == expected
    assert all(t.reason == "customer_unassigned" and t.cause_event_id == "evt-2" for t in out)
    assert all(t.customer_id == customer and t.reseller_tenant_id == reseller for t in out)


@pytest.mark.parametrize(
    ("relationship", "tenant_status", "suspension_event_id", "expected"),
    [
        (
            rel("r"),
            "suspended",
            "evt-s",
            [Termination("r", "cust-1", "ten-1", "reseller_suspended", "evt-s")],
        ),
        (rel("r", ends_at=FUTURE), "suspended", "evt-s", ["r"]),
        (rel("r"), "active", "evt-a", []),
        (rel("r"), None, None, []),
        (rel("r"), "deleted", "evt-d", []),
        (rel("r", status="terminated"), "suspended", "evt-s", []),
        (rel("r", status="expired"), "suspended", "evt-s", []),
        (rel("r", status="approvalPending"), "suspended", "evt-s", []),
        (rel("r", status="created"), "suspended", "evt-s", ["r"]),
        (rel("r", ends_at=PAST), "suspended", "evt-s", []),
        (rel("r"), "suspended", None, []),
    ],
)
def test_on_relationship(relationship, tenant_status, suspension_event_id, expected):
    out = on_relationship(
        relationship, tenant_status, suspension_event_id=suspension_event_id, now=NOW
    )
    if expected and isinstance(expected[0], str):
        assert [t.relationship_id for t in out] == expected
        assert out[0].cause_event_id == suspension_event_id
    else:
        assert out == expected


def test_results_are_sorted_and_deterministic():
    shuffled = list(reversed(RELS))
    assert on_tenant("ten-1", "suspended", shuffled, cause_event_id="e", now=NOW) == on_tenant(
        "ten-1", "suspended", RELS, cause_event_id="e", now=NOW
    )
