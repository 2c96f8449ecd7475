"""The eligibility report's I/O: load the population and the registry, then the pure core."""

from __future__ import annotations

from datetime import datetime

from services.common.config import Settings
from services.common.db import create_pool
from services.domain.eligibility import EligibilityRow, eligibility_rows
from services.domain.regions import RegionTable
from services.por_validator import store


async def eligibility_report(
    settings: Settings, distributor_id: str, since: datetime
) -> list[EligibilityRow]:
    regions = RegionTable.load(settings.region_overrides_file)
    pool = await create_pool(settings.database_url, store.SCHEMA, max_size=1)
    try:
        async with (
            pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            ids = await store.partner_ids_on_record(conn, distributor_id, since)
            registry = await store.registry_for(conn, ids, (distributor_id,), regions)
    finally:
        await pool.close()
    return eligibility_rows(ids, distributor_id, registry)
