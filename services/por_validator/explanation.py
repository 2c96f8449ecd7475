"""Explanations' I/O: the registry slice and its provenance for a walk, read together.

Both read in one snapshot, so an explanation's facts, as-of times and event ids agree.
"""

from __future__ import annotations

import asyncpg

from services.common.db import create_pool
from services.domain.explain import Explanation, explain
from services.domain.regions import RegionTable
from services.por_validator import store
from services.por_validator.provenance_store import provenance_for
from services.por_validator.settings import PorValidatorSettings


async def explanation_for(
    conn: asyncpg.Connection, partner_id: str, distributor_id: str, regions: RegionTable
) -> Explanation:
    """The walk for one PLA id and distributor over the registry now: the same read
    (store.registry_for) as the validator's, so the same codes."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        registry = await store.registry_for(conn, (partner_id,), (distributor_id,), regions)
        provenance = await provenance_for(conn, (partner_id,), (distributor_id,))
    return explain(partner_id, distributor_id, registry, provenance)


async def explanation_now(
    settings: PorValidatorSettings, partner_id: str, distributor_id: str
) -> Explanation:
    """`porgate explain`: one connection, one snapshot."""
    regions = RegionTable.load(settings.region_overrides_file)
    pool = await create_pool(settings.database_url, store.SCHEMA, max_size=1)
    try:
        async with pool.acquire() as conn:
            return await explanation_for(conn, partner_id, distributor_id, regions)
    finally:
        await pool.close()
