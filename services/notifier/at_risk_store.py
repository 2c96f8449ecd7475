"""notifier's SQL for at-risk subscriptions: the accounts and tenants it projects for the
rules, the subscriptions it has seen, and the registry slice a distributor's report reads."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from contracts.events import PartnerAccountUpserted, ResellerTenantUpserted, TransactionDecision
from services.common.db import Executor
from services.domain.at_risk import SeenSubscription, seen_in
from services.domain.por_rules import (
    Distributor,
    Registry,
    normalize_partner_id,
)
from services.domain.regions import RegionTable
from services.domain.registry_rows import add_account

# As every projection here: `WHERE t.as_of <= EXCLUDED.as_of` keeps the newer state.


async def upsert_partner_account(
    conn: asyncpg.Connection, a: PartnerAccountUpserted, as_of: datetime
) -> None:
    await conn.execute(
        "INSERT INTO partner_accounts AS t (partner_id, account_type, status, reseller_tenant_id,"
        " global_partner_id, as_of) VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (partner_id) DO UPDATE SET account_type = EXCLUDED.account_type,"
        " status = EXCLUDED.status, reseller_tenant_id = EXCLUDED.reseller_tenant_id,"
        " global_partner_id = EXCLUDED.global_partner_id,"
        " as_of = EXCLUDED.as_of WHERE t.as_of <= EXCLUDED.as_of",
        a.partner_id.strip(),
        a.account_type,
        a.status,
        a.reseller_tenant_id,
        a.global_partner_id.strip() if a.global_partner_id else None,
        as_of,
    )


async def upsert_reseller_tenant(
    conn: asyncpg.Connection, r: ResellerTenantUpserted, as_of: datetime
) -> None:
    await conn.execute(
        "INSERT INTO reseller_tenants AS t (reseller_tenant_id, kind, status, indirect_reseller_authorized,"
        " country, csp_region, as_of) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT (reseller_tenant_id) DO UPDATE SET kind = EXCLUDED.kind, status = EXCLUDED.status,"
        " indirect_reseller_authorized = EXCLUDED.indirect_reseller_authorized,"
        " country = EXCLUDED.country, csp_region = EXCLUDED.csp_region, as_of = EXCLUDED.as_of"
        " WHERE t.as_of <= EXCLUDED.as_of",
        r.reseller_tenant_id,
        r.kind,
        r.status,
        r.indirect_reseller_authorized,
        r.country,
        r.csp_region,
        as_of,
    )


async def record_seen(conn: asyncpg.Connection, decision: TransactionDecision) -> None:
    """The subscriptions this decision shows, each keeping its latest decision."""
    seen = seen_in(decision)
    if not seen:
        return
    await conn.executemany(
        "INSERT INTO seen_subscriptions AS t (ref_kind, ref_id, line_item_id, subscription_id, order_id,"
        " distributor_id, customer_id, partner_id_on_record, decision_id, last_seen_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        " ON CONFLICT (ref_kind, ref_id, line_item_id) DO UPDATE SET distributor_id = EXCLUDED.distributor_id,"
        " customer_id = EXCLUDED.customer_id,"
        # A change without a PLA id (allowed on the wire) leaves the POR known before it.
        " partner_id_on_record = COALESCE(EXCLUDED.partner_id_on_record, t.partner_id_on_record),"
        " decision_id = EXCLUDED.decision_id, last_seen_at = EXCLUDED.last_seen_at"
        " WHERE t.last_seen_at <= EXCLUDED.last_seen_at",
        [
            (
                "subscription" if s.subscription_id is not None else "order_line",
                s.subscription_id if s.subscription_id is not None else s.order_id,
                s.line_item_id or "",
                s.subscription_id,
                s.order_id,
                decision.distributor_id,
                s.customer_id,
                s.partner_id_on_record,
                s.decision_id,
                s.last_seen_at,
            )
            for s in seen
        ],
    )


async def seen_subscriptions(conn: Executor, distributor_id: str) -> list[SeenSubscription]:
    rows = await conn.fetch(
        "SELECT subscription_id, order_id, NULLIF(line_item_id, '') AS line_item_id, customer_id,"
        " partner_id_on_record, last_seen_at, decision_id FROM seen_subscriptions"
        " WHERE distributor_id = $1",
        distributor_id,
    )
    return [
        SeenSubscription(
            r["subscription_id"],
            r["order_id"],
            r["line_item_id"],
            r["customer_id"],
            r["partner_id_on_record"],
            r["last_seen_at"],
            r["decision_id"],
        )
        for r in rows
    ]


async def distributors_with_subscriptions(conn: Executor) -> list[tuple[str, str]]:
    """(distributor id, preferred language) of every distributor with a seen subscription."""
    rows = await conn.fetch(
        "SELECT s.distributor_id, COALESCE(d.preferred_language, 'en') AS language"
        " FROM (SELECT DISTINCT distributor_id FROM seen_subscriptions) s"
        " LEFT JOIN distributors d ON d.distributor_id = s.distributor_id ORDER BY 1"
    )
    return [(r["distributor_id"], r["language"]) for r in rows]


async def notification_exists(conn: Executor, notification_id: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT true FROM notifications WHERE notification_id = $1", notification_id
        )
    )


async def registry_slice(
    conn: Executor, partner_ids: list[str | None], distributor_id: str, regions: RegionTable
) -> Registry:
    """What the rules read to validate these PLA ids for this distributor, from the
    notifier's projection: the shape por-validator's registry_for gives."""
    pids = sorted({p for p in map(normalize_partner_id, partner_ids) if p is not None})
    registry = Registry()
    row = await conn.fetchrow(
        "SELECT distributor_id, country, csp_region, preferred_language FROM distributors"
        " WHERE distributor_id = $1",
        distributor_id,
    )
    if row is not None:
        registry.distributors[distributor_id] = Distributor(
            distributor_id,
            regions.region_for(row["country"], row["csp_region"]),
            row["preferred_language"],
        )
    for r in await conn.fetch(
        "SELECT a.partner_id, a.account_type, a.status, a.reseller_tenant_id, a.global_partner_id,"
        "       t.reseller_tenant_id AS tenant_id, t.kind, t.status AS tenant_status,"
        "       t.indirect_reseller_authorized, t.country, t.csp_region,"
        "       EXISTS (SELECT 1 FROM partnerships p WHERE p.distributor_id = $2"
        "               AND p.reseller_tenant_id = a.reseller_tenant_id AND p.status = 'active')"
        "         AS partnered"
        " FROM partner_accounts a LEFT JOIN reseller_tenants t ON t.reseller_tenant_id = a.reseller_tenant_id"
        " WHERE a.partner_id = ANY($1::text[])",
        pids,
        distributor_id,
    ):
        add_account(registry, r, regions)
        if r["partnered"]:
            registry.active_partnerships.add((distributor_id, r["reseller_tenant_id"]))
    return registry
