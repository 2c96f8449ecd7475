"""The ResellerEligibility report, as a pure function of the registry and a population."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from services.domain.por_rules import Registry, evaluate_por, normalize_partner_id


@dataclass(frozen=True, slots=True)
class EligibilityRow:
    partner_id: str
    is_compliant: bool
    error_codes: tuple[int, ...]
    reseller_status: str  # Active | Inactive
    region_match: bool
    associated_with_distributor: bool
    account_type: str  # PLA | PGA


def eligibility_rows(
    partner_ids: Iterable[str], distributor_id: str, registry: Registry
) -> list[EligibilityRow]:
    """One row per known partner account among `partner_ids` (the resellers that were POR on
    the distributor's transactions), with the same codes the validator gives now.

    IDs that name no partner account are not resellers, so they have no row, just as
    Partner Center's report lists only accounts. RegionMatch is Yes only when both regions
    are known and equal.
    """
    rows = []
    seen: set[str] = set()
    distributor = registry.distributors.get(distributor_id)
    for raw in partner_ids:
        pid = normalize_partner_id(raw)
        if pid is None or pid in seen or pid not in registry.accounts:
            continue
        seen.add(pid)
        account = registry.accounts[pid]
        tenant = (
            registry.tenants.get(account.reseller_tenant_id) if account.reseller_tenant_id else None
        )
        codes = tuple(int(c) for c in evaluate_por(pid, distributor_id, registry))
        rows.append(
            EligibilityRow(
                partner_id=pid,
                is_compliant=not codes,
                error_codes=codes,
                reseller_status="Active"
                if tenant is not None and tenant.status == "active"
                else "Inactive",
                region_match=bool(
                    tenant is not None
                    and distributor is not None
                    and tenant.region is not None
                    and tenant.region == distributor.region
                ),
                associated_with_distributor=(distributor_id, account.reseller_tenant_id)
                in registry.active_partnerships,
                account_type=account.account_type,
            )
        )
    return sorted(rows, key=lambda r: r.partner_id)
