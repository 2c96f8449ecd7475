"""por-validator's SQL for explanations: which event set each registry row a walk reads.

Apart from store.registry_for on purpose: that read is the validator's hot path and stays
as it is; this one runs only for an explanation (a blocked line, `porgate explain`, the
explanation API).
"""

from __future__ import annotations

from collections.abc import Iterable

from services.common.db import Executor
from services.domain.explain import Provenance
from services.domain.por_rules import Source, normalize_partner_id

# The rows of these distributors a walk for these PLA ids can read: the distributors, and
# their partnerships with the PLA ids' tenants whatever their status (a removed
# partnership's row says when and by which event it stopped being active). Account and
# tenant rows are shared by every distributor: an explanation shows none of their
# provenance (services/domain/explain.py), so none is read.
_PROVENANCE = (
    "SELECT 'distributor' AS kind, d.distributor_id AS key, NULL::text AS tenant_id, d.as_of, d.event_id"
    " FROM distributors d WHERE d.distributor_id = ANY($2::text[])"
    " UNION ALL"
    " SELECT 'partnership', p.distributor_id, p.reseller_tenant_id, p.as_of, p.event_id FROM partnerships p"
    " WHERE p.distributor_id = ANY($2::text[])"
    "   AND p.reseller_tenant_id IN (SELECT a.reseller_tenant_id FROM partner_accounts a"
    "                                WHERE a.partner_id = ANY($1::text[]))"
)


async def provenance_for(
    conn: Executor, partner_ids: Iterable[object], distributor_ids: Iterable[str]
) -> dict[Source, Provenance]:
    """The as-of time and setting event of every row of these distributors that explaining
    these PLA ids for them reads, keyed as the rules name their sources."""
    pids = sorted({p for p in map(normalize_partner_id, partner_ids) if p is not None})
    dids = sorted(set(distributor_ids))
    out: dict[Source, Provenance] = {}
    for row in await conn.fetch(_PROVENANCE, pids, dids):
        source = (row["kind"], row["key"])
        if row["tenant_id"] is not None:
            source = (*source, row["tenant_id"])
        out[source] = Provenance(row["as_of"], row["event_id"])
    return out
