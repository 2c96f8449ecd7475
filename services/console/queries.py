"""The console's read model: every read its pages make, each statement constant, optional
filters as NULL parameters, and the indexes they need (its own migrations, below).

The console's pools plan every statement for its parameters (plan_cache_mode
force_custom_plan), so `$n IS NULL OR ...` folds away and each query uses its index
(migrations/por_validator/001_console_indexes.sql). Pages of decisions are keyset pages on
(decided_at, decision_id), newest first: page 10,000 costs what page 1 does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

from services.common.db import Executor
from services.domain.por_rules import Registry
from services.domain.regions import RegionTable
from services.notifier import store as notifier_store
from services.por_validator import store as validator_store

# The console's indexes on the schemas it reads, one migration folder per schema
# (migrations/<schema>/), recorded there as `console/NNN_name`: `porgate migrate` applies
# them after the services' own (services/catalog.py).
READER = "console"
MIGRATIONS = {
    schema: Path(__file__).parent / "migrations" / schema
    for schema in (validator_store.SCHEMA, notifier_store.SCHEMA)
}


@dataclass(frozen=True, slots=True)
class DecisionFilter:
    distributor_id: str | None = None
    outcome: str | None = None
    code: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    order_id: str | None = None
    subscription_id: str | None = None
    customer_id: str | None = None
    partner_ids: list[str] | None = None  # PLA ids on any line (search by PLA id or reseller)


# ----------------------------------------------------------------------------- por_validator

_COLUMNS = (
    "SELECT d.decision_id, d.transaction_kind, d.order_id, d.subscription_id, d.change_id,"
    " d.distributor_id, d.customer_id, d.outcome, d.error_codes, d.decided_at FROM decisions d"
)
_FILTERS = (
    " ($1::text IS NULL OR d.distributor_id = $1)"
    " AND ($2::text IS NULL OR d.outcome = $2)"
    " AND ($3::int IS NULL OR $3 = ANY (d.error_codes))"
    " AND ($4::timestamptz IS NULL OR d.decided_at >= $4)"
    " AND ($5::timestamptz IS NULL OR d.decided_at < $5)"
    " AND ($6::timestamptz IS NULL OR (d.decided_at, d.decision_id) < ($6, $7::text))"
)
_NEWEST_FIRST = " ORDER BY d.decided_at DESC, d.decision_id DESC"
_SEARCH = (
    _COLUMNS + " WHERE" + _FILTERS + " AND ($8::text IS NULL OR d.order_id = $8)"
    " AND ($9::text IS NULL OR d.subscription_id = $9)"
    " AND ($10::text IS NULL OR d.customer_id = $10)" + _NEWEST_FIRST + " LIMIT $11"
)
# By PLA id: the lines first (an index on the trimmed id), then their decisions.
_SEARCH_BY_PARTNER = (
    _COLUMNS + " WHERE d.decision_id IN (SELECT l.decision_id FROM decision_lines l"
    "   WHERE btrim(l.partner_id_on_record) = ANY ($8::text[])"
    "     AND ($1::text IS NULL OR l.distributor_id = $1)) AND"
    + _FILTERS
    + _NEWEST_FIRST
    + " LIMIT $9"
)


async def decisions_page(
    conn: Executor,
    f: DecisionFilter,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Up to `limit` decisions matching `f`, newest first, after the keyset `after`."""
    after_at, after_id = after if after is not None else (None, None)
    common = (f.distributor_id, f.outcome, f.code, f.since, f.until, after_at, after_id)
    if f.partner_ids is not None:
        return await conn.fetch(_SEARCH_BY_PARTNER, *common, f.partner_ids, limit)
    return await conn.fetch(_SEARCH, *common, f.order_id, f.subscription_id, f.customer_id, limit)


async def partner_ids_of_reseller(conn: Executor, text: str) -> list[str]:
    """PLA ids of a reseller named by PLA id, tenant id or the start of its name."""
    rows = await conn.fetch(
        "SELECT a.partner_id FROM partner_accounts a"
        " LEFT JOIN reseller_tenants t ON t.reseller_tenant_id = a.reseller_tenant_id"
        " WHERE a.partner_id = $1 OR a.reseller_tenant_id = $1"
        "   OR a.name ILIKE $2 OR t.name ILIKE $2"
        " ORDER BY a.partner_id LIMIT 200",
        text,
        text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",
    )
    return [r["partner_id"] for r in rows]


async def partner_ids_of_decisions(conn: Executor, decision_ids: list[str]) -> dict[str, list[str]]:
    """Each decision's distinct PLA ids (trimmed, sorted), through the lines' primary key."""
    rows = await conn.fetch(
        "SELECT decision_id, array_agg(DISTINCT btrim(partner_id_on_record) ORDER BY"
        " btrim(partner_id_on_record)) FILTER (WHERE partner_id_on_record IS NOT NULL) AS ids"
        " FROM decision_lines WHERE decision_id = ANY ($1::text[]) GROUP BY decision_id",
        decision_ids,
    )
    return {r["decision_id"]: list(r["ids"] or []) for r in rows}


async def account_names(conn: Executor, partner_ids: list[str]) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT partner_id, name FROM partner_accounts WHERE partner_id = ANY ($1::text[])",
        partner_ids,
    )
    return {r["partner_id"]: r["name"] for r in rows}


async def decision(conn: Executor, decision_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT decision_id, source_event_id, transaction_kind, order_id, subscription_id,"
        " change_id, distributor_id, customer_id, outcome, basis, error_codes, primary_error_code,"
        " supersedes_decision_id, requested_at, decided_at, request::text AS request,"
        " decision::text AS decision FROM decisions WHERE decision_id = $1",
        decision_id,
    )


# Both ways along supersedes_decision_id, at most 50 steps each way; depth < 0 came before.
_CHAIN = """
WITH RECURSIVE back AS (
  SELECT d.decision_id, d.supersedes_decision_id, 0 AS depth FROM decisions d WHERE d.decision_id = $1
  UNION ALL
  SELECT p.decision_id, p.supersedes_decision_id, b.depth - 1
  FROM decisions p JOIN back b ON p.decision_id = b.supersedes_decision_id WHERE b.depth > -50
), fwd AS (
  SELECT d.decision_id, 0 AS depth FROM decisions d WHERE d.decision_id = $1
  UNION ALL
  SELECT n.decision_id, f.depth + 1
  FROM decisions n JOIN fwd f ON n.supersedes_decision_id = f.decision_id WHERE f.depth < 50
)
SELECT c.decision_id, c.depth, d.outcome, d.error_codes, d.decided_at, d.distributor_id
FROM (SELECT decision_id, depth FROM back UNION SELECT decision_id, depth FROM fwd) c
JOIN decisions d ON d.decision_id = c.decision_id
ORDER BY c.depth
"""


async def supersede_chain(conn: Executor, decision_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(_CHAIN, decision_id)


async def decision_counts(
    conn: Executor, distributor_id: str | None, since: datetime
) -> list[asyncpg.Record]:
    """Decisions per minute and outcome since `since`: one index-only scan of the window."""
    return await conn.fetch(
        "SELECT date_bin('1 minute', d.decided_at, $1::timestamptz) AS minute, d.outcome,"
        " count(*)::int AS n FROM decisions d"
        " WHERE d.decided_at >= $1 AND ($2::text IS NULL OR d.distributor_id = $2)"
        " GROUP BY 1, 2",
        since,
        distributor_id,
    )


async def top_codes(
    conn: Executor, distributor_id: str | None, since: datetime, limit: int = 6
) -> list[asyncpg.Record]:
    """The most frequent primary codes of blocked decisions since `since`."""
    return await conn.fetch(
        "SELECT d.primary_error_code AS code, count(*)::int AS n FROM decisions d"
        " WHERE d.decided_at >= $1 AND d.outcome = 'blocked'"
        "   AND ($2::text IS NULL OR d.distributor_id = $2)"
        " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT $3",
        since,
        distributor_id,
        limit,
    )


async def registry_slice(
    conn: Executor, partner_ids: Iterable[object], distributor_id: str, regions: RegionTable
) -> Registry:
    """The registry these PLA ids are validated on for the distributor: por-validator's own
    read (store.registry_for), so the console's verdicts are the validator's."""
    return await validator_store.registry_for(conn, partner_ids, (distributor_id,), regions)


async def distributors(conn: Executor) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT distributor_id, name FROM distributors ORDER BY distributor_id")


_RESELLERS = """
SELECT a.partner_id, a.account_type, a.status, a.name, a.reseller_tenant_id,
       t.name AS tenant_name, t.kind, t.status AS tenant_status, t.indirect_reseller_authorized,
       t.country, t.csp_region
FROM partner_accounts a LEFT JOIN reseller_tenants t ON t.reseller_tenant_id = a.reseller_tenant_id
WHERE ($1::text IS NULL OR EXISTS (SELECT 1 FROM partnerships p
         WHERE p.distributor_id = $1 AND p.reseller_tenant_id = a.reseller_tenant_id))
  AND ($2::boolean IS NULL OR t.indirect_reseller_authorized = $2)
  AND ($3::text IS NULL OR t.status = $3)
  AND ($4::text IS NULL OR t.csp_region = $4
       OR (t.csp_region IS NULL AND t.country = ANY ($5::text[])))
  AND ($6::text IS NULL OR a.partner_id > $6)
ORDER BY a.partner_id LIMIT $7
"""


async def resellers_page(
    conn: Executor,
    *,
    partnered_with: str | None,
    authorized: bool | None,
    tenant_status: str | None,
    region: str | None,
    region_countries: list[str],
    after: str | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Partner accounts with their tenants, by PLA id; for a distributor, only those of its
    partners (a partnership in any state), as Partner Center's Resellers tab lists them."""
    return await conn.fetch(
        _RESELLERS,
        partnered_with,
        authorized,
        tenant_status,
        region,
        region_countries,
        after,
        limit,
    )


async def partner_ids_on_record_page(
    conn: Executor, distributor_id: str, since: datetime, after: str | None, limit: int
) -> list[str]:
    """The eligibility report's population a page at a time: the trimmed PLA ids on the
    distributor's lines since `since`, in id order, after `after`."""
    rows = await conn.fetch(
        "SELECT DISTINCT btrim(partner_id_on_record) AS pid FROM decision_lines"
        " WHERE distributor_id = $1 AND decided_at >= $2 AND partner_id_on_record IS NOT NULL"
        " AND ($3::text IS NULL OR btrim(partner_id_on_record) > $3) ORDER BY 1 LIMIT $4",
        distributor_id,
        since,
        after,
        limit,
    )
    return [r["pid"] for r in rows]


# ----------------------------------------------------------------------------- notifier


async def notifications_for(conn: Executor, cause_event_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT notification_id, kind, distributor_id, state, attempts, last_error, created_at,"
        " delivered_at FROM notifications WHERE cause_event_id = $1 ORDER BY created_at",
        cause_event_id,
    )


async def failed_notifications(
    conn: Executor, distributor_id: str | None, limit: int = 200
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT notification_id, kind, distributor_id, attempts, last_error, created_at"
        " FROM notifications WHERE state = 'failed' AND ($1::text IS NULL OR distributor_id = $1)"
        " ORDER BY created_at DESC LIMIT $2",
        distributor_id,
        limit,
    )


async def notification_distributor(conn: Executor, notification_id: str) -> str | None:
    return await conn.fetchval(
        "SELECT distributor_id FROM notifications WHERE notification_id = $1", notification_id
    )


async def failed_notification_count(conn: Executor, distributor_id: str | None) -> int:
    return await conn.fetchval(
        "SELECT count(*)::int FROM notifications WHERE state = 'failed'"
        " AND ($1::text IS NULL OR distributor_id = $1)",
        distributor_id,
    )


# ----------------------------------------------------------------------------- gdap_revoker

# A termination is a distributor's when the customer is (or was) assigned to that reseller
# through it: terminations themselves name no distributor.
_TERMINATIONS = """
SELECT t.relationship_id, t.customer_id, t.reseller_tenant_id, t.reason, t.state, t.attempts,
       t.last_error, t.requested_at, t.terminated_at
FROM terminations t
WHERE ($1::text IS NULL OR EXISTS (SELECT 1 FROM customer_assignments a
         WHERE a.distributor_id = $1 AND a.customer_id = t.customer_id
           AND a.reseller_tenant_id = t.reseller_tenant_id))
  AND ($2::text IS NULL OR t.state = $2)
  AND ($3::text IS NULL OR t.relationship_id = $3)
ORDER BY t.requested_at DESC, t.relationship_id DESC LIMIT $4
"""


async def terminations(
    conn: Executor,
    distributor_id: str | None,
    state: str | None = None,
    relationship_id: str | None = None,
    limit: int = 200,
) -> list[asyncpg.Record]:
    return await conn.fetch(_TERMINATIONS, distributor_id, state, relationship_id, limit)


async def failed_termination_count(conn: Executor, distributor_id: str | None) -> int:
    return await conn.fetchval(
        "SELECT count(*)::int FROM terminations t WHERE t.state = 'failed'"
        " AND ($1::text IS NULL OR EXISTS (SELECT 1 FROM customer_assignments a"
        "   WHERE a.distributor_id = $1 AND a.customer_id = t.customer_id"
        "     AND a.reseller_tenant_id = t.reseller_tenant_id))",
        distributor_id,
    )


def as_dicts(rows: list[asyncpg.Record]) -> list[dict[str, Any]]:
    return [dict(r) for r in rows]
