"""Graph's delegatedAdminRelationship and delegatedAdminRelationshipRequest, as porgate reads them.

Fields porgate does not use are ignored; a field it needs that is missing or of the wrong
type makes the answer unreadable (ValueError), never a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

RESELLER_TYPE = "#microsoft.graph.resellerDelegatedAdminRelationship"

# delegatedAdminRelationshipStatus values, grouped by what they mean for a revocation.
ACTIVE = "active"
EXPIRING = "expiring"  # still active until its end date
CREATED = "created"  # not yet sent for approval: deletable with its ETag
TERMINATED = "terminated"
EXPIRED = "expired"
TERMINATING = frozenset({"terminationrequested", "terminating"})
# Requests (delegatedAdminRelationshipRequestStatus).
REQUEST_SUCCEEDED = "succeeded"
REQUEST_FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Relationship:
    """One delegatedAdminRelationship (or its resellerDelegatedAdminRelationship subtype)."""

    relationship_id: str
    status: str  # Graph's value, as sent
    customer_tenant_id: str
    customer_name: str = ""
    roles: tuple[str, ...] = ()
    ends_at: datetime | None = None
    etag: str | None = None
    # The subtype an indirect provider (a distributor) creates for an indirect reseller.
    for_reseller: bool = False
    indirect_provider_tenant_id: str | None = None

    @property
    def state(self) -> str:
        """The status in lower case: Graph's enum is camelCase, compared case-insensitively."""
        return self.status.strip().lower()

    @classmethod
    def from_graph(cls, body: Mapping[str, Any], etag: str | None = None) -> Relationship:
        rid, status = body.get("id"), body.get("status")
        customer = body.get("customer") or {}
        if not isinstance(rid, str) or not rid or not isinstance(status, str) or not status:
            raise ValueError("a delegatedAdminRelationship needs a string id and status")
        if not isinstance(customer, Mapping) or not isinstance(customer.get("tenantId"), str):
            raise TypeError(f"relationship {rid[:80]}: customer.tenantId is missing")
        roles = ((body.get("accessDetails") or {}).get("unifiedRoles")) or []
        return cls(
            relationship_id=rid,
            status=status,
            customer_tenant_id=customer["tenantId"],
            customer_name=str(customer.get("displayName") or ""),
            roles=tuple(
                str(r["roleDefinitionId"])
                for r in roles
                if isinstance(r, Mapping) and r.get("roleDefinitionId")
            ),
            ends_at=_datetime(body.get("endDateTime")),
            etag=body.get("@odata.etag") or etag,
            for_reseller=body.get("@odata.type") == RESELLER_TYPE
            or "indirectProviderTenantId" in body,
            indirect_provider_tenant_id=body.get("indirectProviderTenantId"),
        )


@dataclass(frozen=True, slots=True)
class Request:
    """A delegatedAdminRelationshipRequest: `terminate` moves created -> pending -> succeeded|failed."""

    request_id: str
    action: str
    status: str

    @property
    def state(self) -> str:
        return self.status.strip().lower()

    @classmethod
    def from_graph(cls, body: Mapping[str, Any]) -> Request:
        rid, status = body.get("id"), body.get("status")
        if not isinstance(rid, str) or not rid or not isinstance(status, str):
            raise ValueError("a delegatedAdminRelationshipRequest needs a string id and status")
        return cls(rid, str(body.get("action") or ""), status)


def _datetime(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
