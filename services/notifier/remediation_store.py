"""notifier's SQL for the remediation a blocked notification carries: a PLA id's
organisation and the distributor's partnership-request link, from its own projection (the
rest of the registry slice is at_risk_store.registry_slice)."""

from __future__ import annotations

from collections.abc import Iterable

from services.common.db import Executor
from services.domain.por_rules import Registry, normalize_partner_id
from services.domain.regions import RegionTable
from services.notifier import at_risk_store

# Far beyond any reseller's count of locations: a bound on what one notification reads.
MAX_ORGANISATION = 500

# The organisations are the PGA ids the given PLAs name, and given PGAs' own ids.
_ORGANISATIONS = (
    "WITH orgs AS ("
    " SELECT COALESCE(global_partner_id, CASE WHEN account_type = 'PGA' THEN partner_id END)"
    "  AS organisation FROM partner_accounts WHERE partner_id = ANY($1::text[]))"
    " SELECT DISTINCT a.partner_id FROM partner_accounts a JOIN orgs"
    "  ON a.global_partner_id = orgs.organisation OR a.partner_id = orgs.organisation"
    " ORDER BY a.partner_id LIMIT $2"
)


async def remediation_registry(
    conn: Executor, partner_ids: Iterable[str | None], distributor_id: str, regions: RegionTable
) -> tuple[Registry, str | None]:
    """The registry slice of these PLA ids and their organisations' accounts, and the
    distributor's partnership-request link."""
    pids = sorted({p for p in map(normalize_partner_id, partner_ids) if p is not None})
    rows = await conn.fetch(_ORGANISATIONS, pids, MAX_ORGANISATION) if pids else []
    registry = await at_risk_store.registry_slice(
        conn, [*pids, *(r["partner_id"] for r in rows)], distributor_id, regions
    )
    url = await conn.fetchval(
        "SELECT partnership_request_url FROM distributors WHERE distributor_id = $1",
        distributor_id,
    )
    return registry, url
