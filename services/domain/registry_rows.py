"""A registry slice from rows of the projection tables. Pure.

por-validator and the notifier each keep their own projection of the registry (a service
never reads another's tables) with the same column names; this is the one reading of a row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.domain.por_rules import PartnerAccount, Registry, ResellerTenant
from services.domain.regions import RegionTable


def add_account(registry: Registry, row: Mapping[str, Any], regions: RegionTable) -> None:
    """A partner account and its reseller tenant (`tenant_id` NULL when it has none) from a
    row of partner_accounts LEFT JOIN reseller_tenants, with the column names used here."""
    registry.accounts[row["partner_id"]] = PartnerAccount(
        row["partner_id"],
        row["account_type"],
        row["status"] == "active",
        row["reseller_tenant_id"],
        # Only the remediation reads select it.
        row.get("global_partner_id"),
    )
    if row["tenant_id"] is not None:
        registry.tenants[row["tenant_id"]] = ResellerTenant(
            row["tenant_id"],
            row["kind"],
            row["tenant_status"],
            row["indirect_reseller_authorized"],
            regions.region_for(row["country"], row["csp_region"]),
        )
