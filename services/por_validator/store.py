"""por-validator's SQL: the registry projection, snapshots for the rules engine, decisions."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

import asyncpg

from contracts.events import (
    DistributorUpserted,
    PartnerAccountUpserted,
    PartnershipUpserted,
    ResellerTenantUpserted,
    TransactionDecision,
    ValidationRequested,
)
from services.domain.por_rules import Distributor, PartnerAccount, Registry, ResellerTenant, normalize_partner_id
from services.domain.regions import RegionTable

# Each upsert keeps the newer state: `WHERE t.as_of <= EXCLUDED.as_of` makes a replayed
# older event a no-op instead of a regression.


async def upsert_distributor(conn: asyncpg.Connection, d: DistributorUpserted, as_of: datetime) -> None:
    await conn.execute(
        "INSERT INTO distributors AS t (distributor_id, name, country, csp_region, preferred_language, as_of)"
        " VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (distributor_id) DO UPDATE SET name = EXCLUDED.name, country = EXCLUDED.country,"
        " csp_region = EXCLUDED.csp_region, preferred_language = EXCLUDED.preferred_language, as_of = EXCLUDED.as_of"
        " WHERE t.as_of <= EXCLUDED.as_of",
        d.distributor_id, d.name, d.country, d.csp_region, d.preferred_language, as_of,
    )


async def upsert_partner_account(conn: asyncpg.Connection, a: PartnerAccountUpserted, as_of: datetime) -> None:
    await conn.execute(
        "INSERT INTO partner_accounts AS t (partner_id, account_type, status, name, reseller_tenant_id, as_of)"
        " VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (partner_id) DO UPDATE SET account_type = EXCLUDED.account_type, status = EXCLUDED.status,"
        " name = EXCLUDED.name, reseller_tenant_id = EXCLUDED.reseller_tenant_id, as_of = EXCLUDED.as_of"
        " WHERE t.as_of <= EXCLUDED.as_of",
        a.partner_id.strip(), a.account_type, a.status, a.name, a.reseller_tenant_id, as_of,
    )


async def upsert_reseller_tenant(conn: asyncpg.Connection, r: ResellerTenantUpserted, as_of: datetime) -> None:
    await conn.execute(
        "INSERT INTO reseller_tenants AS t (reseller_tenant_id, name, kind, status, indirect_reseller_authorized,"
        " country, csp_region, as_of) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT (reseller_tenant_id) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,"
        " status = EXCLUDED.status, indirect_reseller_authorized = EXCLUDED.indirect_reseller_authorized,"
        " country = EXCLUDED.country, csp_region = EXCLUDED.csp_region, as_of = EXCLUDED.as_of"
        " WHERE t.as_of <= EXCLUDED.as_of",
        r.reseller_tenant_id, r.name, r.kind, r.status, r.indirect_reseller_authorized, r.country, r.csp_region, as_of,
    )


async def upsert_partnership(conn: asyncpg.Connection, p: PartnershipUpserted, as_of: datetime) -> None:
    await conn.execute(
        "INSERT INTO partnerships AS t (distributor_id, reseller_tenant_id, status, as_of) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (distributor_id, reseller_tenant_id) DO UPDATE SET status = EXCLUDED.status, as_of = EXCLUDED.as_of"
        " WHERE t.as_of <= EXCLUDED.as_of",
        p.distributor_id, p.reseller_tenant_id, p.status, as_of,
    )


async def registry_for(
    conn: asyncpg.Connection, partner_ids: Iterable[object], distributor_ids: Iterable[str], regions: RegionTable
) -> Registry:
    """The registry slice that validating these PLA IDs for these distributors reads."""
    pids = sorted({p for p in map(normalize_partner_id, partner_ids) if p is not None})
    dids = sorted(set(distributor_ids))
    registry = Registry()
    for row in await conn.fetch(
        "SELECT distributor_id, country, csp_region, preferred_language FROM distributors"
        " WHERE distributor_id = ANY($1::text[])",
        dids,
    ):
        registry.distributors[row["distributor_id"]] = Distributor(
            row["distributor_id"], regions.region_for(row["country"], row["csp_region"]), row["preferred_language"]
        )
    if not pids:
        return registry
    rows = await conn.fetch(
        "SELECT a.partner_id, a.account_type, a.status, a.reseller_tenant_id,"
        "       t.reseller_tenant_id AS tenant_id, t.kind, t.status AS tenant_status,"
        "       t.indirect_reseller_authorized, t.country, t.csp_region,"
        "       (SELECT array_agg(p.distributor_id) FROM partnerships p"
        "         WHERE p.reseller_tenant_id = a.reseller_tenant_id AND p.status = 'active'"
        "           AND p.distributor_id = ANY($2::text[])) AS partnered_with"
        " FROM partner_accounts a LEFT JOIN reseller_tenants t ON t.reseller_tenant_id = a.reseller_tenant_id"
        " WHERE a.partner_id = ANY($1::text[])",
        pids,
        dids,
    )
    for row in rows:
        registry.accounts[row["partner_id"]] = PartnerAccount(
            row["partner_id"], row["account_type"], row["status"] == "active", row["reseller_tenant_id"]
        )
        if row["tenant_id"] is not None:
            registry.tenants[row["tenant_id"]] = ResellerTenant(
                row["tenant_id"],
                row["kind"],
                row["tenant_status"],
                row["indirect_reseller_authorized"],
                regions.region_for(row["country"], row["csp_region"]),
            )
        for distributor_id in row["partnered_with"] or ():
            registry.active_partnerships.add((distributor_id, row["reseller_tenant_id"]))
    return registry


async def record_decision(
    conn: asyncpg.Connection, request: ValidationRequested, decision: TransactionDecision
) -> None:
    inserted = await conn.fetchval(
        "INSERT INTO decisions (decision_id, source_event_id, transaction_kind, order_id, subscription_id, change_id,"
        " distributor_id, customer_id, outcome, basis, error_codes, primary_error_code, supersedes_decision_id,"
        " requested_at, decided_at, request, decision)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16::jsonb, $17::jsonb)"
        " ON CONFLICT (decision_id) DO NOTHING RETURNING true",
        decision.decision_id, decision.source_event_id, decision.transaction_kind, decision.order_id,
        decision.subscription_id, decision.change_id, decision.distributor_id, decision.customer_id,
        decision.outcome, decision.basis, decision.error_codes, decision.primary_error_code,
        decision.supersedes_decision_id, request.requested_at, decision.decided_at,
        request.model_dump_json(by_alias=True), decision.model_dump_json(by_alias=True),
    )
    if inserted:
        await conn.executemany(
            "INSERT INTO decision_lines (decision_id, line_item_id, partner_id_on_record, distributor_id, decided_at,"
            " error_codes) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            [
                (decision.decision_id, line.line_item_id, line.partner_id_on_record, decision.distributor_id,
                 decision.decided_at, line.error_codes)
                for line in decision.lines
            ],
        )


async def decision(conn: asyncpg.Connection, decision_id: str) -> dict | None:
    raw = await conn.fetchval("SELECT decision FROM decisions WHERE decision_id = $1", decision_id)
    return json.loads(raw) if raw is not None else None


async def partner_ids_on_record(conn: asyncpg.Connection, distributor_id: str, since: datetime) -> list[str]:
    """Every PLA ID that was the POR on one of this distributor's transactions since `since`."""
    rows = await conn.fetch(
        "SELECT DISTINCT btrim(partner_id_on_record) AS pid FROM decision_lines"
        " WHERE distributor_id = $1 AND decided_at >= $2 AND partner_id_on_record IS NOT NULL",
        distributor_id,
        since,
    )
    return [r["pid"] for r in rows]
