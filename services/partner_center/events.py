"""Partner Center's webhook events, as Microsoft's "Partner Center webhook events" page gives
them: `EventName` ({resource}-{action}), `ResourceUri`, `ResourceName`, `AuditUri` (optional)
and `ResourceChangeUtcDate`. An event says what changed, never the new state: porgate reads
the resource it names (Graph for a GDAP relationship, Partner Center for a customer's
resellers) and trusts that read, not the event.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

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


class NotAnEvent(ValueError):
    """A body that is no Partner Center event porgate can read and keep."""


def parse_event(body: bytes) -> tuple[dict[str, Any], PartnerCenterEvent]:
    """The body as the JSON object to keep and as the event it is; NotAnEvent otherwise,
    including for what PostgreSQL's jsonb cannot hold (NUL, a lone surrogate, NaN,
    Infinity), which would otherwise fail only at the insert, as if the database were down."""
    try:
        parsed = json.loads(body, parse_constant=_no_constant)
    except NotAnEvent:
        raise
    except RecursionError:
        raise NotAnEvent("JSON nested too deeply") from None
    except ValueError as exc:  # UnicodeDecodeError included
        raise NotAnEvent(f"not JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise NotAnEvent(f"JSON {type(parsed).__name__}, not an object")
    _refuse_unstorable(parsed)
    try:
        return parsed, PartnerCenterEvent.model_validate(parsed)
    except ValidationError as exc:
        err = exc.errors(include_url=False, include_input=False)[0]
        raise NotAnEvent(f"{'.'.join(map(str, err['loc'])) or 'body'}: {err['msg']}") from None


def _no_constant(name: str) -> float:
    raise NotAnEvent(f"{name} is not JSON")


def _refuse_unstorable(parsed: dict[str, Any]) -> None:
    # Iterative: json.loads accepts nesting almost as deep as the interpreter's stack.
    pending: list[Any] = [parsed]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str):
            if "\x00" in value:
                raise NotAnEvent("NUL character (\\u0000) in a string")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise NotAnEvent("a lone UTF-16 surrogate in a string") from None


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
