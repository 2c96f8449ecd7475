"""The POR decision table of domain.md, as pure functions of plain data.

Nothing here does I/O: the validator, the validation API and the eligibility report each
load a `Registry` their own way and call `evaluate_por`, so all three give the same codes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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
    # The PGA id of its organisation (None on a PGA, or unknown); the rules never read it,
    # remediation and suggestions do.
    global_partner_id: str | None = None


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


# The table's steps: number, what it checks (the explanation's name for it), the code it
# yields, and whether it stops the evaluation. `evaluate_por` below is their only logic.
@dataclass(frozen=True, slots=True)
class Step:
    number: int
    check: str
    code: ErrorCode
    stops: bool = False


STEPS: tuple[Step, ...] = (
    Step(1, "pla_id_shape", E.INCORRECT_PLA_ID, stops=True),
    Step(2, "partner_account_known", E.INCORRECT_PLA_ID, stops=True),
    Step(3, "account_is_pla", E.INCORRECT_PLA_ID, stops=True),
    Step(4, "pla_active", E.PLA_INACTIVE),
    Step(5, "tenant_active", E.NO_ACTIVE_RESELLER_TENANT),
    Step(6, "tenant_not_direct_bill_only", E.NOT_AUTHORIZED_FOR_TRANSACTION),
    Step(7, "tenant_authorized_indirect_reseller", E.NOT_CSP_INDIRECT_RESELLER),
    Step(8, "active_partnership", E.NOT_AUTHORIZED_FOR_TRANSACTION),
    Step(9, "same_csp_region", E.REGION_MISMATCH),
)

# Where a fact comes from: a registry row as (kind, *key), e.g. ("partnerAccount", "1234567")
# or ("partnership", distributor id, tenant id); None for the transaction's own input.
Source = tuple[str, ...] | None
# (name, value as the rules read it, source)
Fact = tuple[str, object, Source]
# Told of each step the walk evaluates, in order: its number, whether it failed (then it
# yields its code), and the facts it read. Steps after a stop, and the alternatives after the
# tenant step that applied, are not evaluated and not told.
StepRecorder = Callable[[int, bool, tuple[Fact, ...]], None]

# Module constants, not E.X lookups: this is the validator's hot path.
_STOP = (E.INCORRECT_PLA_ID,)
_PLA_INACTIVE = E.PLA_INACTIVE
_NO_TENANT = E.NO_ACTIVE_RESELLER_TENANT
_NOT_AUTHORIZED = E.NOT_AUTHORIZED_FOR_TRANSACTION
_NOT_INDIRECT = E.NOT_CSP_INDIRECT_RESELLER
_REGION = E.REGION_MISMATCH


def evaluate_por(
    partner_id: object,
    distributor_id: str,
    registry: Registry,
    record: StepRecorder | None = None,
) -> tuple[ErrorCode, ...]:
    """Error codes for one PLA ID and one distributor, in canonical order; () means valid.

    With `record`, each evaluated step is also reported with the facts it read (the
    explanation); without it, this is the validator's hot path, so recording costs one
    `is not None` test per step and nothing else.
    """
    pid = normalize_partner_id(partner_id)
    if record is not None:
        record(1, pid is None, (("partnerIdOnRecord", partner_id, None),))
    if pid is None:
        return _STOP
    account = registry.accounts.get(pid)
    if record is not None:
        _record_account(record, pid, account)
    if account is None or account.account_type != "PLA":
        return _STOP  # steps 2 and 3

    # Codes are appended in step order, which is the canonical order: the one code that
    # could come out of order (900414 of step 6, before 900154 of step 7) excludes it, as
    # steps 5-7 are alternatives, and step 8 adds 900414 only if step 6 did not.
    codes: list[ErrorCode] = []
    if not account.active:
        codes.append(_PLA_INACTIVE)  # step 4

    tenant_id = account.reseller_tenant_id
    tenant = registry.tenants.get(tenant_id) if tenant_id else None
    # Steps 5-7 are alternatives about the tenant: at most one applies.
    if tenant is None or tenant.status != "active":
        tenant_step = 5
        codes.append(_NO_TENANT)
    elif tenant.kind == "direct_bill":
        tenant_step = 6
        codes.append(_NOT_AUTHORIZED)
    elif not tenant.indirect_reseller_authorized:
        tenant_step = 7
        codes.append(_NOT_INDIRECT)
    else:
        tenant_step = 0

    # Step 8: an unknown distributor has no partnerships.
    partnered = (
        tenant_id is not None and (distributor_id, tenant_id) in registry.active_partnerships
    )
    if not partnered and tenant_step != 6:
        codes.append(_NOT_AUTHORIZED)

    # Step 9: only where both regions are known.
    distributor = registry.distributors.get(distributor_id)
    mismatch = (
        tenant is not None
        and tenant.region is not None
        and distributor is not None
        and distributor.region is not None
        and tenant.region != distributor.region
    )
    if mismatch:
        codes.append(_REGION)

    if record is not None:
        _record_rest(
            record, account, tenant, tenant_step, partnered, (distributor_id, distributor), mismatch
        )
    return tuple(codes)


# What each step read, for the recorder only: the conditions themselves are evaluate_por's.


def _record_account(record: StepRecorder, pid: str, account: PartnerAccount | None) -> None:
    source = ("partnerAccount", pid)
    record(2, account is None, (("partnerAccount.known", account is not None, source),))
    if account is not None:
        record(
            3,
            account.account_type != "PLA",
            (("partnerAccount.accountType", account.account_type, source),),
        )


def _record_rest(
    record: StepRecorder,
    account: PartnerAccount,
    tenant: ResellerTenant | None,
    tenant_step: int,
    partnered: bool,
    distributor_of: tuple[str, Distributor | None],
    mismatch: bool,
) -> None:
    account_source = ("partnerAccount", account.partner_id)
    record(4, not account.active, (("partnerAccount.active", account.active, account_source),))
    tenant_id = account.reseller_tenant_id
    tenant_source = ("resellerTenant", tenant_id) if tenant_id else None
    tenant_facts: dict[int, tuple[Fact, ...]] = {
        5: (
            ("partnerAccount.resellerTenantId", tenant_id, account_source),
            ("resellerTenant.known", tenant is not None, tenant_source),
            ("resellerTenant.status", tenant.status if tenant else None, tenant_source),
        ),
        6: (("resellerTenant.kind", tenant.kind if tenant else None, tenant_source),),
        7: (
            (
                "resellerTenant.indirectResellerAuthorized",
                tenant.indirect_reseller_authorized if tenant else None,
                tenant_source,
            ),
        ),
    }
    for step in range(5, (tenant_step or 7) + 1):
        record(step, step == tenant_step, tenant_facts[step])
    distributor_id, distributor = distributor_of
    distributor_source = ("distributor", distributor_id)
    partnership_source = ("partnership", distributor_id, tenant_id) if tenant_id else None
    record(
        8,
        not partnered,
        (
            ("distributor.known", distributor is not None, distributor_source),
            ("partnership.active", partnered, partnership_source),
        ),
    )
    record(
        9,
        mismatch,
        (
            ("resellerTenant.cspRegion", tenant.region if tenant else None, tenant_source),
            (
                "distributor.cspRegion",
                distributor.region if distributor else None,
                distributor_source,
            ),
        ),
    )


def union_codes(code_lists: list[tuple[ErrorCode, ...]] | list[list[int]]) -> list[ErrorCode]:
    """The union of several lists, each code once, in canonical order."""
    seen = {ErrorCode(c) for codes in code_lists for c in codes}
    return sorted(seen, key=RANK.__getitem__)
