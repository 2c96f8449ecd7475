"""One pydantic model per event type of wire contract v1.

These models are the contract in code: JSON Schema in `contracts/schemas/` is exported from
them, and fields may only be added within v1.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, Field

from contracts.base import WireModel

Id = Field(min_length=1, max_length=256)

# ----------------------------------------------------------------------------- inbound


class OrderLineItem(WireModel):
    line_item_id: str = Id
    offer_id: str = Field(min_length=1, max_length=256)
    quantity: int = Field(ge=1)
    billing_plan: str | None = None
    term_duration: str | None = None
    # Missing or null is not a malformed message: that line is blocked with 800016.
    partner_id_on_record: str | None = Field(default=None, max_length=256)


class OrderPlaced(WireModel):
    """`csp.order.placed.v1` on `csp.orders.v1`."""

    order_id: str = Id
    distributor_id: str = Id
    customer_id: str = Id
    placed_at: AwareDatetime
    line_items: list[OrderLineItem] = Field(min_length=1, max_length=1000)


class SubscriptionChangeRequested(WireModel):
    """`csp.subscription.change-requested.v1` on `csp.subscription-changes.v1`."""

    change_id: str = Id
    subscription_id: str = Id
    # For a P2P transfer, the receiving distributor.
    distributor_id: str = Id
    customer_id: str = Id
    # Free text on purpose: a kind outside the known list is accepted as `not_in_scope`.
    kind: str = Field(min_length=1, max_length=128)
    requested_at: AwareDatetime
    partner_id_on_record: str | None = Field(default=None, max_length=256)
    scheduled_change_set_at: AwareDatetime | None = None
    details: dict[str, Any] | None = None


# ---------------------------------------------------------------------------- registry


class DistributorUpserted(WireModel):
    distributor_id: str = Id
    name: str
    country: str = Field(max_length=8)
    csp_region: str | None = None
    preferred_language: Literal["en", "ja"] = "en"
    # Added within v1: overrides PORGATE_ENFORCEMENT_MODE for this distributor; null: the setting.
    enforcement_mode: Literal["enforce", "observe"] | None = None
    # Added within v1: the distributor's own partnership-request link (the one in the draft
    # email Partner Center's "Request a partnership" shows), given to resellers in remediation.
    # https only: it is shown as a link in the console and in messages to forward.
    partnership_request_url: str | None = Field(
        default=None, max_length=2048, pattern=r"^https://[^\s<>\"']+$"
    )


class PartnerAccountUpserted(WireModel):
    partner_id: str = Id
    account_type: Literal["PLA", "PGA"]
    status: Literal["active", "inactive"]
    name: str
    reseller_tenant_id: str | None = None
    # Added within v1: the PGA id of the organisation this location account belongs to, so
    # remediation can name the organisation's other PLA ids. Null on a PGA, or when unknown.
    global_partner_id: str | None = Field(default=None, max_length=256)


class ResellerTenantUpserted(WireModel):
    reseller_tenant_id: str = Id
    name: str
    kind: Literal["csp_indirect_reseller", "direct_bill"]
    status: Literal["active", "suspended", "pending_onboarding", "deleted"]
    indirect_reseller_authorized: bool
    country: str = Field(max_length=8)
    csp_region: str | None = None


class PartnershipUpserted(WireModel):
    distributor_id: str = Id
    reseller_tenant_id: str = Id
    status: Literal["requested", "active", "removed"]


class CustomerAssignmentUpserted(WireModel):
    customer_id: str = Id
    reseller_tenant_id: str = Id
    distributor_id: str = Id
    status: Literal["assigned", "removed"]


class GdapRelationshipUpserted(WireModel):
    relationship_id: str = Id
    customer_id: str = Id
    reseller_tenant_id: str = Id
    roles: list[str] = Field(default_factory=list)
    # Graph's delegatedAdminRelationshipStatus; open-ended, so plain text.
    status: str = Field(min_length=1, max_length=64)
    ends_at: AwareDatetime | None = None
    # Added within v1: the distributor in whose Graph list the relationship is (the GDAP
    # sync sets it), whose credentials terminate it; null: not known.
    distributor_id: str | None = Field(default=None, max_length=256)


# ---------------------------------------------------------------------------- internal

TransactionKind = Literal["new_order", "subscription_change"]


class ValidationLine(WireModel):
    line_item_id: str
    partner_id_on_record: str | None = None


class TransactionRef(WireModel):
    """Which transaction a request or a decision is about: shared by both."""

    source_event_id: str
    transaction_kind: TransactionKind
    order_id: str | None = None
    change_id: str | None = None
    subscription_id: str | None = None
    change_kind: str | None = None
    distributor_id: str
    customer_id: str
    # Set by a re-validation: the decision this one replaces, so billing can tell.
    supersedes_decision_id: str | None = None

    @property
    def transaction_key(self) -> str:
        """The Kafka key of the transaction's requests and decisions: one partition, in order."""
        return self.order_id or self.subscription_id or self.source_event_id


class ValidationRequested(TransactionRef):
    """`por.validation.requested.v1` on `por.validation-requests.v1` (internal)."""

    requested_at: AwareDatetime
    lines: list[ValidationLine] = Field(min_length=1)


# ---------------------------------------------------------------------------- outbound

Basis = Literal[
    "validated",
    "exempt_renewal",
    "exempt_scheduled_before_enforcement",
    "before_enforcement",
    "not_in_scope",
]


class ErrorDetail(WireModel):
    code: int
    message: str
    remediation: list[str]


# Who decided: Partner Center's validation API, porgate's registry, or the registry because
# Partner Center could not be reached (PORGATE_PARTNER_CENTER_UNAVAILABLE=registry).
Authority = Literal["partner_center", "registry", "registry_fallback"]


class ExplainedFact(WireModel):
    """A registry fact a step of the decision table read, and which event set it."""

    fact: str
    # As the rules read it: a string, a boolean, or null (unknown).
    value: str | bool | int | None
    # The registry row's as-of time and the id of the event that set it, for rows of the
    # walk's distributor only (distributor.*, partnership.*); null for rows every
    # distributor shares (accounts, tenants), the transaction's own input, a fact of no row,
    # or a row projected before ids were kept.
    as_of: AwareDatetime | None = None
    event_id: str | None = None


class ExplainedStep(WireModel):
    """One step of domain.md's decision table, as the registry walked it for a line."""

    step: int
    check: str
    # `skipped`: not evaluated (after a stopping step, or an alternative that applied).
    outcome: Literal["pass", "fail", "skipped"]
    # The code the step yields when it fails.
    error_code: int | None = None
    facts: list[ExplainedFact] = Field(default_factory=list)


class DecisionLine(WireModel):
    line_item_id: str
    partner_id_on_record: str | None
    error_codes: list[int]
    errors: list[ErrorDetail]
    # When Partner Center decided the line: what porgate's registry says of it (null when
    # the registry decided, as its codes are then `errorCodes`). Added within v1.
    registry_error_codes: list[int] | None = None
    # Observe mode: the codes that would have blocked the line (its `errorCodes` are then []).
    observed_error_codes: list[int] | None = None
    # A blocked line's decision-table walk over the registry (the registry's view even when
    # Partner Center decided); null on accepted lines. Added within v1.
    explanation: list[ExplainedStep] | None = None


class TransactionDecision(TransactionRef):
    decision_id: str
    outcome: Literal["accepted", "blocked"]
    basis: Basis
    error_codes: list[int]
    primary_error_code: int | None
    lines: list[DecisionLine]
    decided_at: AwareDatetime
    # Added within v1; the defaults are what a decision from before them meant.
    authority: Authority = "registry"
    # True when Partner Center decided and some line's answer disagrees with the registry.
    registry_drift: bool = False
    # Observe mode: accepted, though enforcement would have blocked it with these codes.
    would_block: bool = False
    observed_error_codes: list[int] | None = None


class TransactionAccepted(TransactionDecision):
    """`por.transaction.accepted.v1` on `por.decisions.v1`."""

    outcome: Literal["accepted"] = "accepted"


class TransactionBlocked(TransactionDecision):
    """`por.transaction.blocked.v1` on `por.decisions.v1`. Only basis `validated` blocks."""

    outcome: Literal["blocked"] = "blocked"
    basis: Literal["validated"] = "validated"


class GdapPrivilegesRevoked(WireModel):
    """`gdap.privileges.revoked.v1` on `gdap.revocations.v1`."""

    relationship_id: str
    customer_id: str
    reseller_tenant_id: str
    reason: Literal["reseller_suspended", "customer_unassigned"]
    cause_event_id: str
    revoked_at: AwareDatetime
    # Added within v1: what Graph said that confirmed it: `request_succeeded`, `terminated`,
    # `expired`, `absent` (from the distributor's own list) or `deleted`; null from before.
    confirmed_by: str | None = None


class GdapTerminationFailed(WireModel):
    """`gdap.termination.failed.v1` on `gdap.revocations.v1` (added within v1): a termination
    that used up its attempts. The reseller may still hold these privileges: a person must act."""

    relationship_id: str
    customer_id: str
    reseller_tenant_id: str
    distributor_id: str | None = None
    reason: Literal["reseller_suspended", "customer_unassigned"]
    cause_event_id: str
    attempts: int
    last_error: str
    failed_at: AwareDatetime
