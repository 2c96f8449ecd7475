"""por-validator's SQL for remediation: a PLA id's organisation, and the distributor's
partnership-request link. Read beside `store.registry_for`, never on the decision path."""

from __future__ import annotations

from services.common.db import Executor

# Far beyond any reseller's count of locations: a bound on what one remediation reads.
MAX_ORGANISATION = 500

# The organisation is the PGA id a PLA names, or a PGA's own id.
_ORGANISATION = (
    "WITH me AS ("
    " SELECT COALESCE(global_partner_id, CASE WHEN account_type = 'PGA' THEN partner_id END)"
    "  AS organisation FROM partner_accounts WHERE partner_id = $1)"
    " SELECT a.partner_id, a.global_partner_id FROM partner_accounts a, me"
    " WHERE a.partner_id = $1 OR (me.organisation IS NOT NULL"
    "  AND (a.global_partner_id = me.organisation OR a.partner_id = me.organisation))"
    " ORDER BY a.partner_id LIMIT $2"
)


async def organisation_accounts(conn: Executor, partner_id: str) -> dict[str, str | None]:
    """The id itself and every account of its organisation: PLA id -> its PGA id."""
    rows = await conn.fetch(_ORGANISATION, partner_id, MAX_ORGANISATION)
    return {r["partner_id"]: r["global_partner_id"] for r in rows}


async def partnership_request_url(conn: Executor, distributor_id: str) -> str | None:
    return await conn.fetchval(
        "SELECT partnership_request_url FROM distributors WHERE distributor_id = $1",
        distributor_id,
    )
