"""por-validator's SQL for the registry: the projection, the slices the rules engine reads, the
lock that keeps deciding and a registry change from missing each other. Decisions:
decision_store.py."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import asyncpg

from contracts.events import (
    DistributorUpserted,
    PartnerAccountUpserted,
    PartnershipUpserted,
    ResellerTenantUpserted,
)
from services.common.db import Executor
from services.domain.por_rules import (
    Distributor,
    Registry,
    normalize_partner_id,
)
from services.domain.regions import RegionTable
from services.domain.registry_rows import add_account

# The PostgreSQL schema this service owns; nothing else reads or writes it.
SCHEMA = "por_validator"


# Each upsert keeps the newer state: `WHERE t.as_of <= EXCLUDED.as_of` makes a replayed
# older event a no-op instead of a regression. `event_id` is the id of the event that set
# the row (explanations show it); registry_for does not read it.


async def upsert_distributor(
    conn: asyncpg.Connection, d: DistributorUpserted, as_of: datetime, event_id: str | None = None
) -> None:
    await conn.execute(
        "INSERT INTO distributors AS t (distributor_id, name, country, csp_region, preferred_language,"
        " enforcement_mode, as_of, event_id, partnership_request_url)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        " ON CONFLICT (distributor_id) DO UPDATE SET name = EXCLUDED.name, country = EXCLUDED.country,"
        " csp_region = EXCLUDED.csp_region, preferred_language = EXCLUDED.preferred_language,"
        " enforcement_mode = EXCLUDED.enforcement_mode, as_of = EXCLUDED.as_of,"
        " event_id = EXCLUDED.event_id, partnership_request_url = EXCLUDED.partnership_request_url"
        " WHERE t.as_of <= EXCLUDED.as_of",
        d.distributor_id,
        d.name,
        d.country,
        d.csp_region,
        d.preferred_language,
        d.enforcement_mode,
        as_of,
        event_id,
        d.partnership_request_url,
    )


async def upsert_partner_account(
    conn: asyncpg.Connection,
    a: PartnerAccountUpserted,
    as_of: datetime,
    event_id: str | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO partner_accounts AS t (partner_id, account_type, status, name, reseller_tenant_id, as_of,"
        " event_id, global_partner_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT (partner_id) DO UPDATE SET account_type = EXCLUDED.account_type, status = EXCLUDED.status,"
        " name = EXCLUDED.name, reseller_tenant_id = EXCLUDED.reseller_tenant_id, as_of = EXCLUDED.as_of,"
        " event_id = EXCLUDED.event_id, global_partner_id = EXCLUDED.global_partner_id"
        " WHERE t.as_of <= EXCLUDED.as_of",
        a.partner_id.strip(),
        a.account_type,
        a.status,
        a.name,
        a.reseller_tenant_id,
        as_of,
        event_id,
        a.global_partner_id.strip() if a.global_partner_id else None,
    )


async def upsert_reseller_tenant(
    conn: asyncpg.Connection,
    r: ResellerTenantUpserted,
    as_of: datetime,
    event_id: str | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO reseller_tenants AS t (reseller_tenant_id, name, kind, status, indirect_reseller_authorized,"
        " country, csp_region, as_of, event_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        " ON CONFLICT (reseller_tenant_id) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,"
        " status = EXCLUDED.status, indirect_reseller_authorized = EXCLUDED.indirect_reseller_authorized,"
        " country = EXCLUDED.country, csp_region = EXCLUDED.csp_region, as_of = EXCLUDED.as_of,"
        " event_id = EXCLUDED.event_id WHERE t.as_of <= EXCLUDED.as_of",
        r.reseller_tenant_id,
        r.name,
        r.kind,
        r.status,
        r.indirect_reseller_authorized,
        r.country,
        r.csp_region,
        as_of,
        event_id,
    )


async def upsert_partnership(
    conn: asyncpg.Connection, p: PartnershipUpserted, as_of: datetime, event_id: str | None = None
) -> None:
    await conn.execute(
        "INSERT INTO partnerships AS t (distributor_id, reseller_tenant_id, status, as_of, event_id)"
        " VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (distributor_id, reseller_tenant_id) DO UPDATE SET status = EXCLUDED.status, as_of = EXCLUDED.as_of,"
        " event_id = EXCLUDED.event_id WHERE t.as_of <= EXCLUDED.as_of",
        p.distributor_id,
        p.reseller_tenant_id,
        p.status,
        as_of,
        event_id,
    )


# One statement for both the distributors' rows and the accounts' rows (a distributor's row
# has no partner_id): one round trip per API request and per batch.
# The two row kinds share the `country` and `csp_region` columns, each of its own table.
_REGISTRY_SLICE = (
    "SELECT d.distributor_id, d.country, d.csp_region, d.preferred_language, d.enforcement_mode,"
    "       NULL::text AS partner_id, NULL::text AS account_type, NULL::text AS status,"
    "       NULL::text AS reseller_tenant_id, NULL::text AS tenant_id, NULL::text AS kind,"
    "       NULL::text AS tenant_status, NULL::boolean AS indirect_reseller_authorized,"
    "       NULL::text[] AS partnered_with"
    " FROM distributors d WHERE d.distributor_id = ANY($2::text[])"
    " UNION ALL"
    " SELECT NULL, t.country, t.csp_region, NULL, NULL,"
    "       a.partner_id, a.account_type, a.status, a.reseller_tenant_id,"
    "       t.reseller_tenant_id, t.kind, t.status, t.indirect_reseller_authorized,"
    "       (SELECT array_agg(p.distributor_id) FROM partnerships p"
    "         WHERE p.reseller_tenant_id = a.reseller_tenant_id AND p.status = 'active'"
    "           AND p.distributor_id = ANY($2::text[]))"
    " FROM partner_accounts a LEFT JOIN reseller_tenants t ON t.reseller_tenant_id = a.reseller_tenant_id"
    " WHERE a.partner_id = ANY($1::text[])"
)


async def registry_for(
    conn: Executor,
    partner_ids: Iterable[object],
    distributor_ids: Iterable[str],
    regions: RegionTable,
) -> Registry:
    """The registry slice that validating these PLA IDs for these distributors reads."""
    pids = sorted({p for p in map(normalize_partner_id, partner_ids) if p is not None})
    dids = sorted(set(distributor_ids))
    registry = Registry()
    for row in await conn.fetch(_REGISTRY_SLICE, pids, dids):
        if row["partner_id"] is None:
            registry.distributors[row["distributor_id"]] = Distributor(
                row["distributor_id"],
                regions.region_for(row["country"], row["csp_region"]),
                row["preferred_language"],
                row["enforcement_mode"],
            )
            continue
        add_account(registry, row, regions)
        for distributor_id in row["partnered_with"] or ():
            registry.active_partnerships.add((distributor_id, row["reseller_tenant_id"]))
    return registry


async def partner_ids_of_tenant(conn: Executor, tenant_id: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT partner_id FROM partner_accounts WHERE reseller_tenant_id = $1", tenant_id
    )
    return [r["partner_id"] for r in rows]


async def distributor_region(conn: Executor, distributor_id: str) -> tuple | None:
    """(country, csp_region) of a distributor, None if unknown."""
    row = await conn.fetchrow(
        "SELECT country, csp_region FROM distributors WHERE distributor_id = $1", distributor_id
    )
    return None if row is None else (row["country"], row["csp_region"])


# Deciding reads the registry; a registry change looks for what it releases among the
# decisions. Without this lock a decision made from the old facts but committed after the
# change's search would never be released: decisions take it shared, registry changes
# exclusive, so each sees the other's committed result.
_DECIDING = "SELECT pg_advisory_xact_lock_shared(hashtext('porgate:registry-and-decisions'))"
_CHANGING = "SELECT pg_advisory_xact_lock(hashtext('porgate:registry-and-decisions'))"


async def lock_for_deciding(conn: asyncpg.Connection) -> None:
    await conn.execute(_DECIDING)


async def lock_for_registry_change(conn: asyncpg.Connection) -> None:
    await conn.execute(_CHANGING)
