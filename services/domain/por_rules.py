"""The POR decision table of domain.md, as pure functions of plain data.

Nothing here does I/O: the validator, the validation API and the eligibility report each
load a `Registry` their own way and call `evaluate_por`, so all three give the same codes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from contracts.errors import RANK, ErrorCode

E = ErrorCode
# [0-9], not \d: \d also matches Arabic-Indic and other Unicode digits.
_PLA_SHAPE = re.compile(r"[0-9]{5,10}")

AccountType = Literal["PLA", "PGA"]
TenantKind = Literal["csp_indirect_reseller", "direct_bill"]
TenantStatus = Literal["active", "suspended", "pending_onboarding", "deleted"]


@dataclass(frozen=True, slots=True)
class PartnerAccount:
    partner_id: str
    account_type: AccountType
    active: bool
    reseller_tenant_id: str | None = None


@dataclass(frozen=True, slots=True)
class ResellerTenant:
    tenant_id: str
    kind: TenantKind
    status: TenantStatus
    indirect_reseller_authorized: bool
    region: str | None = None


@dataclass(frozen=True, slots=True)
class Distributor:
    distributor_id: str
    region: str | None = None
    language: str = "en"
    enforcement_mode: str | None = None  # "enforce", "observe"; None: the setting decides


@dataclass(slots=True)
class Registry:
    """The slice of the partner registry a validation reads.

    Partnerships hold only the active ones, as (distributor id, tenant id) pairs.
    """

    accounts: dict[str, PartnerAccount] = field(default_factory=dict)
    tenants: dict[str, ResellerTenant] = field(default_factory=dict)
    distributors: dict[str, Distributor] = field(default_factory=dict)
    active_partnerships: set[tuple[str, str]] = field(default_factory=set)


def normalize_partner_id(partner_id: object) -> str | None:
    """The trimmed ID when it has the shape of a PLA ID (5 to 10 ASCII digits), else None."""
    if not isinstance(partner_id, str):
        return None
    trimmed = partner_id.strip()
    return trimmed if _PLA_SHAPE.fullmatch(trimmed) else None


def evaluate_por(
    partner_id: object, distributor_id: str, registry: Registry
) -> tuple[ErrorCode, ...]:
    """Error codes for one PLA ID and one distributor, in canonical order; () means valid."""
    pid = normalize_partner_id(partner_id)
    if pid is None:
        return (E.INCORRECT_PLA_ID,)  # step 1
    account = registry.accounts.get(pid)
    if account is None or account.account_type != "PLA":
        return (E.INCORRECT_PLA_ID,)  # steps 2 and 3

    codes: set[ErrorCode] = set()
    if not account.active:
        codes.add(E.PLA_INACTIVE)  # step 4

    tenant_id = account.reseller_tenant_id
    tenant = registry.tenants.get(tenant_id) if tenant_id else None
    # Steps 5-7 are alternatives about the tenant: at most one applies.
    if tenant is None or tenant.status != "active":
        codes.add(E.NO_ACTIVE_RESELLER_TENANT)
    elif tenant.kind == "direct_bill":
        codes.add(E.NOT_AUTHORIZED_FOR_TRANSACTION)
    elif not tenant.indirect_reseller_authorized:
        codes.add(E.NOT_CSP_INDIRECT_RESELLER)

    # Step 8: an unknown distributor has no partnerships.
    if tenant_id is None or (distributor_id, tenant_id) not in registry.active_partnerships:
        codes.add(E.NOT_AUTHORIZED_FOR_TRANSACTION)

    # Step 9: only where both regions are known.
    distributor = registry.distributors.get(distributor_id)
    if (
        tenant is not None
        and tenant.region is not None
        and distributor is not None
        and distributor.region is not None
        and tenant.region != distributor.region
    ):
        codes.add(E.REGION_MISMATCH)

    return tuple(sorted(codes, key=RANK.__getitem__))


def union_codes(code_lists: list[tuple[ErrorCode, ...]] | list[list[int]]) -> list[ErrorCode]:
    """The union of several lists, each code once, in canonical order."""
    seen = {ErrorCode(c) for codes in code_lists for c in codes}
    return sorted(seen, key=RANK.__getitem__)
