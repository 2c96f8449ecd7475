"""A small partner registry with one reseller per error code, as registry events."""

from __future__ import annotations

from tests.support import envelope

DIST = "dist-eu-1"
DIST_JA = "dist-jp-1"

# PLA id -> what is wrong with it
VALID = "1000001"
INACTIVE_PLA = "1000002"  # 900151
SUSPENDED_TENANT = "1000003"  # 900400
DIRECT_BILL = "1000004"  # 900414 (step 6)
NOT_AUTHORIZED = "1000005"  # 900154
NO_PARTNERSHIP = "1000006"  # 900414 (step 8)
OTHER_REGION = "1000007"  # 900152
PGA = "2000001"  # 800016
UNKNOWN = "9999999"  # 800016


def _tenant(tid, *, kind="csp_indirect_reseller", status="active", authorized=True, country="DE"):
    return envelope(
        "csp.reseller-tenant.upserted.v1",
        {
            "resellerTenantId": tid,
            "name": f"Tenant {tid}",
            "kind": kind,
            "status": status,
            "indirectResellerAuthorized": authorized,
            "country": country,
        },
    )


def _account(pid, tid, *, account_type="PLA", status="active"):
    return envelope(
        "csp.partner-account.upserted.v1",
        {
            "partnerId": pid,
            "accountType": account_type,
            "status": status,
            "name": f"Reseller {pid}",
            "resellerTenantId": tid,
        },
    )


def _partnership(tid, dist=DIST, status="active"):
    return envelope(
        "csp.partnership.upserted.v1",
        {"distributorId": dist, "resellerTenantId": tid, "status": status},
    )


def registry_events() -> list[dict]:
    events = [
        envelope(
            "csp.distributor.upserted.v1",
            {"distributorId": DIST, "name": "EU Dist", "country": "DE"},
        ),
        envelope(
            "csp.distributor.upserted.v1",
            {
                "distributorId": DIST_JA,
                "name": "JP Dist",
                "country": "JP",
                "preferredLanguage": "ja",
            },
        ),
    ]
    spec = [
        (VALID, "ten-valid", {}, {}, True),
        (INACTIVE_PLA, "ten-inactive-pla", {}, {"status": "inactive"}, True),
        (SUSPENDED_TENANT, "ten-suspended", {"status": "suspended"}, {}, True),
        (DIRECT_BILL, "ten-direct", {"kind": "direct_bill"}, {}, True),
        (NOT_AUTHORIZED, "ten-unauth", {"authorized": False}, {}, True),
        (NO_PARTNERSHIP, "ten-nopartner", {}, {}, False),
        (OTHER_REGION, "ten-us", {"country": "US"}, {}, True),
    ]
    for pid, tid, tenant_kw, account_kw, partnered in spec:
        events.append(_tenant(tid, **tenant_kw))
        events.append(_account(pid, tid, **account_kw))
        if partnered:
            events.append(_partnership(tid))
    events.append(_account(PGA, "ten-valid", account_type="PGA"))
    return events


def key_of(event: dict) -> str:
    d = event["data"]
    return (
        d.get("partnerId")
        or d.get("relationshipId")
        or d.get("resellerTenantId")
        or d.get("customerId")
        or d["distributorId"]
    )


def order(order_id: str, *pids, placed_at="2026-01-10T09:00:00Z", dist=DIST, event_id=None) -> dict:
    lines = []
    for i, pid in enumerate(pids, 1):
        line = {
            "lineItemId": str(i),
            "offerId": "CFQ7TTC0LH18:0001",
            "quantity": 5,
            "billingPlan": "monthly",
            "termDuration": "P1Y",
        }
        if pid is not None:
            line["partnerIdOnRecord"] = pid
        lines.append(line)
    return envelope(
        "csp.order.placed.v1",
        {
            "orderId": order_id,
            "distributorId": dist,
            "customerId": "cust-42",
            "placedAt": placed_at,
            "lineItems": lines,
        },
        id=event_id,
    )
