"""The registry slice one API request reads, in a single round trip.

The same slice as `store.registry_for(conn, ids, (distributor_id,), regions)`, which takes two
statements (distributor, then accounts); for the API's one distributor they fit in one, and
that extra round trip was the largest single cost of a single-ID request.
"""

from __future__ import annotations

import asyncpg

from services.domain.por_rules import Distributor, Registry, normalize_partner_id
from services.domain.regions import RegionTable
from services.por_validator.store import add_account

# One row per account found, or one row of NULL account columns when none is (or no ID has a
# PLA's shape): the outer join from a one-row relation always carries the distributor's columns.
_SLICE = (
    "SELECT d.distributor_id, d.country AS d_country, d.csp_region AS d_csp_region, d.preferred_language,"
    "       a.partner_id, a.account_type, a.status, a.reseller_tenant_id,"
    "       t.reseller_tenant_id AS tenant_id, t.kind, t.status AS tenant_status,"
    "       t.indirect_reseller_authorized, t.country, t.csp_region,"
    "       EXISTS (SELECT 1 FROM partnerships p WHERE p.reseller_tenant_id = a.reseller_tenant_id"
    "               AND p.distributor_id = $2 AND p.status = 'active') AS partnered"
    " FROM (SELECT 1) AS one"
    " LEFT JOIN distributors d ON d.distributor_id = $2"
    " LEFT JOIN (partner_accounts a LEFT JOIN reseller_tenants t ON t.reseller_tenant_id = a.reseller_tenant_id)"
    "   ON a.partner_id = ANY($1::text[])"
)


async def registry_for(
    conn: asyncpg.Connection, partner_ids: list[str], distributor_id: str, regions: RegionTable
) -> Registry:
    pids = sorted({p for p in map(normalize_partner_id, partner_ids) if p is not None})
    registry = Registry()
    for row in await conn.fetch(_SLICE, pids, distributor_id):
        if row["distributor_id"] is not None:
            registry.distributors[distributor_id] = Distributor(
                distributor_id,
                regions.region_for(row["d_country"], row["d_csp_region"]),
                row["preferred_language"],
            )
        if row["partner_id"] is None:
            continue
        add_account(registry, row, regions)
        if row["partnered"]:
            registry.active_partnerships.add((distributor_id, row["reseller_tenant_id"]))
    return registry
