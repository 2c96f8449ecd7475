"""Explanations' I/O: the registry slice and its provenance for a walk, read together.

Both read in one snapshot, so an explanation's facts, as-of times and event ids agree.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from contracts.events import TransactionDecision
from services.common.config import Settings
from services.common.db import create_pool
from services.domain.explain import Explanation, explain, to_wire
from services.domain.por_rules import Registry
from services.domain.regions import RegionTable
from services.por_validator import store
from services.por_validator.provenance_store import provenance_for


async def explanation_for(
    conn: asyncpg.Connection, partner_id: str, distributor_id: str, regions: RegionTable
) -> Explanation:
    """The walk for one PLA id and distributor over the registry now: the same read
    (store.registry_for) as the validator's, so the same codes."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        registry = await store.registry_for(conn, (partner_id,), (distributor_id,), regions)
        provenance = await provenance_for(conn, (partner_id,), (distributor_id,))
    return explain(partner_id, distributor_id, registry, provenance)


async def explanation_now(settings: Settings, partner_id: str, distributor_id: str) -> Explanation:
    """`porgate explain`: one connection, one snapshot."""
    regions = RegionTable.load(settings.region_overrides_file)
    pool = await create_pool(settings.database_url, store.SCHEMA, max_size=1)
    try:
        async with pool.acquire() as conn:
            return await explanation_for(conn, partner_id, distributor_id, regions)
    finally:
        await pool.close()


# A walk adds about 2 KB to a line. Past this many blocked lines a decision's later ones
# carry none (`porgate explain` still gives it), so that a large blocked order stays far from
# the broker's message limit (1 MB on Apache Kafka by default).
MAX_EXPLAINED_LINES = 20


async def with_explanations(
    conn: asyncpg.Connection, decisions: Sequence[TransactionDecision], registry: Registry
) -> list[TransactionDecision]:
    """The decisions with each blocked line's walk attached (the registry's walk, even where
    Partner Center decided), for the notifier to tell the distributor why.

    Here, not in the notifier: the notifier projects no accounts or tenants, and a walk done
    later would explain the registry of that later moment, not the decision. Only blocked
    lines, and one extra statement per batch that has any, as this is the hot path. The
    walk reads the batch's `registry`, so its codes are the decision's; the provenance is
    read just after it, so a registry upsert committed in between can show a newer as-of
    and event id than the value (never a different code).
    """
    blocked = [
        (d, line)
        for d in decisions
        for line in [line for line in d.lines if line.error_codes][:MAX_EXPLAINED_LINES]
    ]
    if not blocked:
        return list(decisions)
    provenance = await provenance_for(
        conn,
        (line.partner_id_on_record for _, line in blocked),
        {d.distributor_id for d, _ in blocked},
    )
    explained = {id(line) for _, line in blocked}
    out = []
    for d in decisions:
        if not any(id(line) in explained for line in d.lines):
            out.append(d)
            continue
        lines = [
            line.model_copy(
                update={
                    "explanation": to_wire(
                        explain(line.partner_id_on_record, d.distributor_id, registry, provenance)
                    )
                }
            )
            if id(line) in explained
            else line
            for line in d.lines
        ]
        out.append(d.model_copy(update={"lines": lines}))
    return out
