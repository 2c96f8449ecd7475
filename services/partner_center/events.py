"""Partner Center's webhook events, as Microsoft's "Partner Center webhook events" page gives
them: `EventName` ({resource}-{action}), `ResourceUri`, `ResourceName`, `AuditUri` (optional)
and `ResourceChangeUtcDate`. An event says what changed, never the new state: porgate reads
the resource it names (Graph for a GDAP relationship, Partner Center for a customer's
resellers) and trusts that read, not the event.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field

# granular-admin-relationship-approved|activated|terminated|expired, and any added later.
GDAP_RELATIONSHIP_PREFIX = "granular-admin-relationship-"
CUSTOMER_ACCEPTED_RESELLER = "indirect-reseller-relationship-accepted-by-customer"
TEST = "test-created"

Action = Literal["gdap_relationship", "customer_reseller", "none"]


class PartnerCenterEvent(BaseModel):
    # Unknown fields are ignored: Microsoft adds fields to its answers over time.
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    event_name: str = Field(alias="EventName", min_length=1, max_length=128)
    resource_uri: str | None = Field(default=None, alias="ResourceUri", max_length=4096)
    resource_name: str | None = Field(default=None, alias="ResourceName", max_length=256)
    audit_uri: str | None = Field(default=None, alias="AuditUri", max_length=4096)
    resource_change_utc_date: datetime = Field(alias="ResourceChangeUtcDate")

    @property
    def changed_at(self) -> datetime:
        """In UTC, as Microsoft says it is, even when the value carries no zone."""
        at = self.resource_change_utc_date
        return at if at.tzinfo is not None else at.replace(tzinfo=UTC)

    @property
    def action(self) -> Action:
        name = self.event_name.strip().lower()
        if name.startswith(GDAP_RELATIONSHIP_PREFIX):
            return "gdap_relationship"
        if name == CUSTOMER_ACCEPTED_RESELLER:
            return "customer_reseller"
        return "none"

    def relationship_id(self) -> str | None:
        """`{baseURL}/granularAdminRelationships/{RelationshipID}`."""
        return _segment_after(self.resource_uri, "granularadminrelationships")

    def customer_id(self) -> str | None:
        """`{baseURL}/v1/customers/{CustomerId}`."""
        return _segment_after(self.resource_uri, "customers")


def _segment_after(uri: str | None, name: str) -> str | None:
    if not uri:
        return None
    try:
        segments = [unquote(s) for s in urlsplit(uri).path.split("/") if s]
    except ValueError:
        return None
    for i, segment in enumerate(segments[:-1]):
        if segment.lower() == name:
            found = segments[i + 1].strip()
            return found if found and len(found) <= 256 else None
    return None
