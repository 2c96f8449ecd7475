"""The eligibility report's I/O: load the population and the registry, then the pure core.
Also the import of Partner Center's report: the registry and POR history it is triaged against."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path

from services.common.db import create_pool
from services.domain.eligibility import EligibilityRow, eligibility_rows
from services.domain.eligibility_import import ImportedRow, PorHistory, TriageRow, triage
from services.domain.observe import observe_summary, would_block_from
from services.domain.regions import RegionTable
from services.por_validator import decision_store, store
from services.por_validator.settings import PorValidatorSettings


async def eligibility_report(
    settings: PorValidatorSettings, distributor_id: str, since: datetime
) -> list[EligibilityRow]:
    regions = RegionTable.load(settings.region_overrides_file)
    pool = await create_pool(settings.database_url, store.SCHEMA, max_size=1)
    try:
        async with (
            pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            ids = await decision_store.partner_ids_on_record(conn, distributor_id, since)
            registry = await store.registry_for(conn, ids, (distributor_id,), regions)
    finally:
        await pool.close()
    return eligibility_rows(ids, distributor_id, registry)


async def eligibility_import_triage(
    settings: PorValidatorSettings, distributor_id: str, rows: list[ImportedRow], since: datetime
) -> tuple[list[TriageRow], bool]:
    """The triage of Partner Center's rows against the registry now and the distributor's
    transactions since `since`, and whether the registry knows the distributor at all."""
    regions = RegionTable.load(settings.region_overrides_file)
    ids = [r.partner_id for r in rows]
    pool = await create_pool(settings.database_url, store.SCHEMA, max_size=1)
    try:
        async with (
            pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            registry = await store.registry_for(conn, ids, (distributor_id,), regions)
            found = await decision_store.por_transactions(conn, distributor_id, ids, since)
    finally:
        await pool.close()
    histories = {
        pid: PorHistory(
            t.transactions,
            tuple(t.recent_order_ids),
            tuple(t.recent_subscription_ids),
            t.last_decided_at,
        )
        for pid, t in found.items()
    }
    known = distributor_id in registry.distributors
    return triage(rows, distributor_id, registry, histories), known


def write_atomically(path: Path, text: str) -> None:
    """Write the whole file or nothing: a temporary file beside it, then a rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


async def observe_report(
    settings: PorValidatorSettings, distributor_id: str, since: datetime
) -> dict:
    """What enforcement would have blocked for the distributor since `since` (observe mode)."""
    pool = await create_pool(settings.database_url, store.SCHEMA, max_size=1)
    try:
        decisions = await decision_store.would_block_decisions(pool, distributor_id, since)
    finally:
        await pool.close()
    return {
        "distributorId": distributor_id,
        "since": since.isoformat(),
        **observe_summary(would_block_from(d) for d in decisions),
    }
