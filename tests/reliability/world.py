"""The data the fault tests stream: a partner registry, a GDAP world, orders with known outcomes,
and the ids porgate derives from them (so a test knows every effect to expect)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from contracts.ids import decision_id_for, derived_event_id
from contracts.topics import DECISIONS as _DECISIONS
from services.gdap_revoker.terminator import failure_event_id, revocation_event_id
from services.notifier.notifications import notification_id
from tests.e2e import registry_data as R
from tests.support import envelope

ORDERS = "csp.orders.v1"
CHANGES = "csp.subscription-changes.v1"
REGISTRY = "csp.partner-registry.v1"
REQUESTS = "por.validation-requests.v1"
DECISIONS = _DECISIONS.name
REVOCATIONS = "gdap.revocations.v1"
DLQ = "por.dlq.v1"

# Standard Webhooks form: base64 after whsec_ (this is "reliability-tests-webhook-key!").
SECRET = "whsec_cmVsaWFiaWxpdHktdGVzdHMtd2ViaG9vay1rZXkh"

# PLA id on the order -> the codes its decision must carry (registry of tests/e2e/registry_data.py).
EXPECTED_CODES: dict[str, list[int]] = {
    R.VALID: [],
    R.INACTIVE_PLA: [900151],
    R.UNKNOWN: [800016],
    R.NO_PARTNERSHIP: [900414],
    R.OTHER_REGION: [900152],
    R.SUSPENDED_TENANT: [900400],
}
PID_CYCLE = [R.VALID, R.INACTIVE_PLA, R.UNKNOWN, R.VALID, R.NO_PARTNERSHIP, R.OTHER_REGION]


def registry() -> list[tuple[str, dict]]:
    return [(R.key_of(e), e) for e in R.registry_events()]


def gdap_world(
    tenants: int, per_tenant: int, tag: str = "g"
) -> tuple[list[tuple[str, dict]], list[str]]:
    """Resellers partnered with DIST, each with customers assigned and one active relationship per
    customer. Returns the registry events and the relationship ids."""
    events: list[tuple[str, dict]] = []
    rels: list[str] = []
    for i in range(tenants):
        tid = f"ten-{tag}{i}"
        events.append((tid, tenant(tid)))
        events.append(
            (
                tid,
                envelope(
                    "csp.partnership.upserted.v1",
                    {"distributorId": R.DIST, "resellerTenantId": tid, "status": "active"},
                ),
            )
        )
        for j in range(per_tenant):
            cid, rid = f"cust-{tag}{i}-{j}", f"rel-{tag}{i}-{j}"
            events.append(
                (
                    cid,
                    envelope(
                        "csp.customer-assignment.upserted.v1",
                        {
                            "customerId": cid,
                            "resellerTenantId": tid,
                            "distributorId": R.DIST,
                            "status": "assigned",
                        },
                    ),
                )
            )
            events.append(
                (
                    rid,
                    envelope(
                        "csp.gdap-relationship.upserted.v1",
                        {
                            "relationshipId": rid,
                            "customerId": cid,
                            "resellerTenantId": tid,
                            "roles": ["62e90394-69f5-4237-9190-012177145e10"],
                            "status": "active",
                        },
                    ),
                )
            )
            rels.append(rid)
    return events, rels


def tenant(tid: str, status: str = "active") -> dict:
    return envelope(
        "csp.reseller-tenant.upserted.v1",
        {
            "resellerTenantId": tid,
            "name": f"Tenant {tid}",
            "kind": "csp_indirect_reseller",
            "status": status,
            "indirectResellerAuthorized": True,
            "country": "DE",
        },
    )


def orders(n: int, tag: str) -> Iterator[tuple[str, dict]]:
    for k in range(n):
        oid = f"ord-{tag}-{k}"
        yield (
            oid,
            R.order(
                oid, PID_CYCLE[k % len(PID_CYCLE)], event_id=f"evt-{tag}-{k}-{uuid.uuid4().hex[:8]}"
            ),
        )


def expected_codes(order_event: dict) -> list[int]:
    return EXPECTED_CODES[order_event["data"]["lineItems"][0]["partnerIdOnRecord"]]


def decision_event_id(order_event_id: str) -> str:
    return derived_event_id("decision-event", decision_id_for(order_event_id))


def blocked_notification_id(order_event_id: str, distributor: str = R.DIST) -> str:
    return notification_id(decision_event_id(order_event_id), "transaction_blocked", distributor)


def revoked_notification_id(relationship_id: str, distributor: str = R.DIST) -> str:
    return notification_id(revocation_event_id(relationship_id), "privileges_revoked", distributor)


def termination_failed_notification_id(
    relationship_id: str, failures: int = 1, distributor: str = R.DIST
) -> str:
    """The notice that the `failures`-th failure for good of a termination sends."""
    return notification_id(
        failure_event_id(relationship_id, failures), "gdap_termination_failed", distributor
    )
