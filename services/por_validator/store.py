"""por-validator's SQL: the registry projection, registry slices for the rules engine, decisions."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import asyncpg

from contracts.events import (
    DistributorUpserted,
    PartnerAccountUpserted,
    PartnershipUpserted,
    ResellerTenantUpserted,
    TransactionDecision,
    ValidationRequested,
)
from services.domain.por_rules import (
    Distributor,
    Registry,
    normalize_partner_id,
)
from services.domain.regions import RegionTable
from services.domain.registry_rows import add_account

# The PostgreSQL schema this service owns; nothing else reads or writes it.
SCHEMA = "por_validator"

Executor = asyncpg.Connection | asyncpg.Pool

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


def _int_array(codes: list[int]) -> str:
    # A ragged int[][] cannot be passed through unnest: each row's codes go as an array
    # literal ('{900414,900152}'), cast back per row, far cheaper than a jsonb per row.
    return "{" + ",".join(map(str, codes)) + "}"


async def record_decisions(
    conn: asyncpg.Connection, pairs: list[tuple[ValidationRequested, TransactionDecision]]
) -> set[str]:
    """Insert decisions (and their lines) not recorded yet; the ids inserted.

    A decision id is recorded once, and a decision is superseded at most once (a unique
    index): of two re-decisions racing for one blocked decision, one is inserted, and only
    the inserted ones may be published."""
    inserted = {
        r["decision_id"]
        for r in await conn.fetch(
            "INSERT INTO decisions (decision_id, source_event_id, transaction_kind, order_id, subscription_id,"
            " change_id, distributor_id, customer_id, outcome, basis, error_codes, primary_error_code,"
            " supersedes_decision_id, requested_at, decided_at, request, decision, would_block)"
            " SELECT d.decision_id, d.source_event_id, d.transaction_kind, d.order_id, d.subscription_id,"
            "  d.change_id, d.distributor_id, d.customer_id, d.outcome, d.basis,"
            "  d.error_codes::int[], d.primary_error_code,"
            "  d.supersedes_decision_id, d.requested_at, d.decided_at, d.request, d.decision, d.would_block"
            " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],"
            "  $8::text[], $9::text[], $10::text[], $11::text[], $12::int[], $13::text[], $14::timestamptz[],"
            "  $15::timestamptz[], $16::jsonb[], $17::jsonb[], $18::bool[])"
            "  AS d(decision_id, source_event_id, transaction_kind, order_id, subscription_id, change_id,"
            "  distributor_id, customer_id, outcome, basis, error_codes, primary_error_code,"
            "  supersedes_decision_id, requested_at, decided_at, request, decision, would_block)"
            " ON CONFLICT DO NOTHING RETURNING decision_id",
            [d.decision_id for _, d in pairs],
            [d.source_event_id for _, d in pairs],
            [d.transaction_kind for _, d in pairs],
            [d.order_id for _, d in pairs],
            [d.subscription_id for _, d in pairs],
            [d.change_id for _, d in pairs],
            [d.distributor_id for _, d in pairs],
            [d.customer_id for _, d in pairs],
            [d.outcome for _, d in pairs],
            [d.basis for _, d in pairs],
            [_int_array(d.error_codes) for _, d in pairs],
            [d.primary_error_code for _, d in pairs],
            [d.supersedes_decision_id for _, d in pairs],
            [r.requested_at for r, _ in pairs],
            [d.decided_at for _, d in pairs],
            [r.model_dump_json(by_alias=True) for r, _ in pairs],
            [d.model_dump_json(by_alias=True) for _, d in pairs],
            [d.would_block for _, d in pairs],
        )
    }
    lines = [
        (
            d.decision_id,
            line.line_item_id,
            line.partner_id_on_record,
            d.distributor_id,
            d.decided_at,
            _int_array(line.error_codes),
            normalize_partner_id(line.partner_id_on_record),
        )
        for _, d in pairs
        if d.decision_id in inserted
        for line in d.lines
    ]
    if lines:
        cols = list(zip(*lines, strict=True))
        await conn.execute(
            "INSERT INTO decision_lines (decision_id, line_item_id, partner_id_on_record, distributor_id,"
            " decided_at, error_codes, pla_id)"
            " SELECT l.decision_id, l.line_item_id, l.pid, l.distributor_id, l.decided_at,"
            "  l.codes::int[], l.pla_id"
            " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[],"
            "  $7::text[])"
            "  AS l(decision_id, line_item_id, pid, distributor_id, decided_at, codes, pla_id)"
            " ON CONFLICT DO NOTHING",
            *(list(c) for c in cols),
        )
    return inserted


async def partner_ids_on_record(
    conn: asyncpg.Connection, distributor_id: str, since: datetime
) -> list[str]:
    """Every PLA ID that was the POR on one of this distributor's transactions since `since`."""
    rows = await conn.fetch(
        "SELECT DISTINCT btrim(partner_id_on_record) AS pid FROM decision_lines"
        " WHERE distributor_id = $1 AND decided_at >= $2 AND partner_id_on_record IS NOT NULL",
        distributor_id,
        since,
    )
    return [r["pid"] for r in rows]


class BlockedDecision(NamedTuple):
    decision_id: str
    request: dict[str, Any]  # the ValidationRequested it decided, as stored
    decided_at: datetime
    error_codes: list[int]


_BLOCKED = """
SELECT d.decision_id, d.decided_at, d.error_codes, d.request::text AS request
FROM decisions d
WHERE d.outcome = 'blocked'
  AND ($1::text IS NULL OR d.distributor_id = $1)
  AND ($2::int IS NULL OR $2 = ANY (d.error_codes))
  AND ($3::timestamptz IS NULL OR d.decided_at >= $3)
  AND ($4::text[] IS NULL OR d.decision_id = ANY ($4::text[]))
  -- only the latest decision of its source event, and not already superseded
  AND NOT EXISTS (
    SELECT 1 FROM decisions n
    WHERE n.source_event_id = d.source_event_id AND n.decision_id <> d.decision_id
      AND (n.decided_at > d.decided_at OR n.supersedes_decision_id = d.decision_id))
ORDER BY d.decided_at, d.decision_id
"""


async def blocked_decisions(
    conn: Executor,
    *,
    distributor: str | None = None,
    code: int | None = None,
    since: datetime | None = None,
    decision_ids: Sequence[str] | None = None,
) -> list[BlockedDecision]:
    """Each source event's latest decision, where it is blocked and no later one supersedes it."""
    rows = await conn.fetch(
        _BLOCKED, distributor, code, since, list(decision_ids) if decision_ids else None
    )
    return [
        BlockedDecision(
            r["decision_id"], json.loads(r["request"]), r["decided_at"], r["error_codes"]
        )
        for r in rows
    ]


class PorTransactions(NamedTuple):
    partner_id: str
    transactions: int
    recent_order_ids: list[str]
    recent_subscription_ids: list[str]
    last_decided_at: datetime


# A transaction is a source event: its re-decisions (replays) count once. The recent ids are
# distinct, newest decision first.
_POR_TRANSACTIONS = """
WITH hits AS (
  SELECT btrim(l.partner_id_on_record) AS pid, d.source_event_id, d.order_id, d.subscription_id,
         l.decided_at
  FROM decision_lines l JOIN decisions d ON d.decision_id = l.decision_id
  WHERE l.distributor_id = $1 AND l.decided_at >= $2
    AND btrim(l.partner_id_on_record) = ANY ($3::text[])
)
SELECT h.pid, count(DISTINCT h.source_event_id) AS transactions, max(h.decided_at) AS last_decided_at,
  ARRAY(SELECT o.order_id FROM hits o WHERE o.pid = h.pid AND o.order_id IS NOT NULL
        GROUP BY o.order_id ORDER BY max(o.decided_at) DESC, o.order_id LIMIT $4) AS orders,
  ARRAY(SELECT s.subscription_id FROM hits s WHERE s.pid = h.pid AND s.subscription_id IS NOT NULL
        GROUP BY s.subscription_id ORDER BY max(s.decided_at) DESC, s.subscription_id LIMIT $4)
    AS subscriptions
FROM hits h GROUP BY h.pid
"""


async def por_transactions(
    conn: Executor,
    distributor_id: str,
    partner_ids: Iterable[str],
    since: datetime,
    recent: int = 5,
) -> dict[str, PorTransactions]:
    """This distributor's transactions since `since` with each of these PLA IDs as the POR,
    by PLA ID; an ID without any has no entry."""
    rows = await conn.fetch(
        _POR_TRANSACTIONS, distributor_id, since, sorted(set(partner_ids)), recent
    )
    return {
        r["pid"]: PorTransactions(
            r["pid"], r["transactions"], r["orders"], r["subscriptions"], r["last_decided_at"]
        )
        for r in rows
    }


async def would_block_decisions(
    conn: asyncpg.Connection | asyncpg.Pool, distributor_id: str, since: datetime
) -> list[dict[str, Any]]:
    """What observe mode accepted that enforcement would have blocked, as published."""
    rows = await conn.fetch(
        "SELECT decision::text AS decision FROM decisions"
        " WHERE distributor_id = $1 AND decided_at >= $2 AND would_block ORDER BY decided_at",
        distributor_id,
        since,
    )
    return [json.loads(r["decision"]) for r in rows]
