"""Subscription changes: every kind decided with the right basis, end to end."""

from tests.e2e import registry_data as R
from tests.e2e.test_orders import load_registry, registry_loaded
from tests.support import Bus, envelope, running

SERVICES = ["subscription-change", "order-intake", "por-validator"]


def change(change_id, kind, requested_at, pid=R.VALID, set_at=None, sub="sub-1"):
    return envelope(
        "csp.subscription.change-requested.v1",
        {
            "changeId": change_id,
            "subscriptionId": f"{sub}-{change_id}",
            "distributorId": R.DIST,
            "customerId": "cust-42",
            "kind": kind,
            "requestedAt": requested_at,
            "partnerIdOnRecord": pid,
            "scheduledChangeSetAt": set_at,
            "details": {"quantity": 8},
        },
    )


AFTER = "2026-02-01T10:00:00Z"
BEFORE = "2025-11-30T10:00:00Z"

CASES = {
    # change id: (kind, requested, pid, scheduledChangeSetAt, basis, codes)
    "seat": ("seat_count", AFTER, R.VALID, None, "validated", []),
    "seat-bad": ("seat_count", AFTER, R.OTHER_REGION, None, "validated", [900152]),
    "plan": ("billing_plan", AFTER, R.INACTIVE_PLA, None, "validated", [900151]),
    "term": ("term", AFTER, None, None, "validated", [800016]),
    "p2p": ("p2p_transfer", AFTER, R.NO_PARTNERSHIP, None, "validated", [900414]),
    "migrate": ("legacy_to_new_commerce", AFTER, R.VALID, None, "validated", []),
    "sched-set": ("scheduled_change_set", AFTER, R.NOT_AUTHORIZED, None, "validated", [900154]),
    "sched-edit": ("scheduled_change_edit", AFTER, R.SUSPENDED_TENANT, None, "validated", [900400]),
    "sched-exec-old": (
        "scheduled_change_execution",
        AFTER,
        R.UNKNOWN,
        BEFORE,
        "exempt_scheduled_before_enforcement",
        [],
    ),
    "sched-exec-new": (
        "scheduled_change_execution",
        AFTER,
        R.UNKNOWN,
        "2026-01-05T00:00:00Z",
        "validated",
        [800016],
    ),
    "renewal": ("renewal", AFTER, R.UNKNOWN, None, "exempt_renewal", []),
    "early": ("seat_count", BEFORE, R.UNKNOWN, None, "before_enforcement", []),
    "other": ("address_change", AFTER, R.UNKNOWN, None, "not_in_scope", []),
}


async def test_every_change_kind_gets_the_right_basis(migrated):
    settings = migrated
    async with Bus(settings) as bus, running(settings, SERVICES):
        await load_registry(bus)
        await registry_loaded(settings, 8)
        for change_id, (kind, at, pid, set_at, _, _) in CASES.items():
            e = change(change_id, kind, at, pid, set_at)
            await bus.send("csp.subscription-changes.v1", e, key=e["data"]["subscriptionId"])
        decisions = await bus.events("por.decisions.v1", len(CASES))
    by_change = {d["data"]["changeId"]: d["data"] for d in decisions}
    assert set(by_change) == set(CASES)
    for change_id, (kind, _, pid, _, basis, codes) in CASES.items():
        d = by_change[change_id]
        assert (d["basis"], d["errorCodes"]) == (basis, codes), change_id
        assert d["transactionKind"] == "subscription_change"
        assert d["changeKind"] == kind
        assert d["lines"][0]["lineItemId"] == d["subscriptionId"]
        assert d["outcome"] == ("blocked" if codes else "accepted")
