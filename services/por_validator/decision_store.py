"""por-validator's SQL for decisions: recording them (and their lines), the ones still
blocked, and what the reports read of them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import asyncpg

from contracts.events import TransactionDecision, ValidationRequested
from services.common.db import Executor
from services.domain.por_rules import normalize_partner_id


def _int_array(codes: list[int]) -> str:
    # A ragged int[][] cannot be passed through unnest: each row's codes go as an array
    # literal ('{900414,900152}'), cast back per row, far cheaper than a jsonb per row.
    return "{" + ",".join(map(str, codes)) + "}"


_LINE_COLUMNS = [
    "decision_id",
    "line_item_id",
    "partner_id_on_record",
    "distributor_id",
    "decided_at",
    "error_codes",
    "pla_id",
]


async def record_decisions(
    conn: asyncpg.Connection,
    pairs: list[tuple[ValidationRequested, TransactionDecision]],
    decision_json: Sequence[str] | None = None,
) -> set[str]:
    """Insert decisions (and their lines) not recorded yet; the ids inserted. `decision_json`:
    each decision's JSON when the caller has it already (codec.encode_data).

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
            "  $15::timestamptz[], $16::json[], $17::json[], $18::bool[])"
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
            [d.model_dump_json(by_alias=True) for _, d in pairs]
            if decision_json is None
            else decision_json,
            [d.would_block for _, d in pairs],
        )
    }
    # Written by COPY, which costs both sides less than an INSERT over unnest
    # (benchmarks/README.md). COPY has no ON CONFLICT, and needs none: only the transaction
    # that inserted a decision writes its lines; a line id an order repeats keeps its first
    # line, as the INSERT's ON CONFLICT DO NOTHING did.
    lines: dict[tuple[str, str], tuple] = {}
    for _, d in pairs:
        if d.decision_id in inserted:
            for line in d.lines:
                lines.setdefault(
                    (d.decision_id, line.line_item_id),
                    (
                        d.decision_id,
                        line.line_item_id,
                        line.partner_id_on_record,
                        d.distributor_id,
                        d.decided_at,
                        line.error_codes,
                        normalize_partner_id(line.partner_id_on_record),
                    ),
                )
    if lines:
        await conn.copy_records_to_table(
            "decision_lines", records=list(lines.values()), columns=_LINE_COLUMNS
        )
    return inserted


async def partner_ids_on_record(
    conn: asyncpg.Connection, distributor_id: str, since: datetime
) -> list[str]:
    """Every PLA ID that was the POR on one of this distributor's transactions since `since`."""
    rows = await conn.fetch(
        "SELECT DISTINCT btrim(partner_id_on_record) AS partner_id FROM decision_lines"
        " WHERE distributor_id = $1 AND decided_at >= $2 AND partner_id_on_record IS NOT NULL",
        distributor_id,
        since,
    )
    return [r["partner_id"] for r in rows]


class BlockedDecision(NamedTuple):
    decision_id: str
    request: dict[str, Any]  # the ValidationRequested it decided, as stored
    decided_at: datetime
    error_codes: list[int]


# Still blocked: blocked, and superseded by nothing. Supersession is the only way a
# transaction gets a later decision (a decision's id derives from its source event and the
# decision it supersedes), and a unique index makes it at most one.
_STILL_BLOCKED = (
    "SELECT d.decision_id, d.decided_at, d.error_codes, d.request::text AS request"
    " FROM decisions d WHERE d.outcome = 'blocked'{filters}"
    " AND NOT EXISTS (SELECT 1 FROM decisions n WHERE n.supersedes_decision_id = d.decision_id)"
    " ORDER BY d.decided_at, d.decision_id"
)


async def still_blocked(
    conn: Executor,
    *,
    distributor: str | None = None,
    code: int | None = None,
    since: datetime | None = None,
    decision_ids: Sequence[str] | None = None,
    partner_ids: Sequence[str] | None = None,
) -> list[BlockedDecision]:
    """The decisions still blocked, of this distributor, with this code among theirs,
    decided since `since`, among these ids, with a blocked line of these (normalised) PLA
    ids: what `porgate replay revalidate` asks about again and what a registry change may
    release. Each filter left out is not applied.

    Only the filters given are in the statement, so each combination gets a plan that uses
    its index (by PLA id, by distributor) rather than one generic plan for all."""
    filters: list[str] = []
    args: list[object] = []
    lines = ["l.error_codes <> '{}'"]  # of the lines, when by PLA id
    if distributor is not None:
        args.append(distributor)
        filters.append(f"d.distributor_id = ${len(args)}")
        lines.append(f"l.distributor_id = ${len(args)}")
    if since is not None:
        args.append(since)
        filters.append(f"d.decided_at >= ${len(args)}")
        lines.append(f"l.decided_at >= ${len(args)}")
    if code is not None:
        args.append(code)
        filters.append(f"${len(args)}::int = ANY (d.error_codes)")
    if decision_ids:
        args.append(list(decision_ids))
        filters.append(f"d.decision_id = ANY (${len(args)}::text[])")
    if partner_ids is not None:
        args.append(list(partner_ids))
        lines.append(f"l.pla_id = ANY (${len(args)}::text[])")
        filters.append(
            "d.decision_id IN (SELECT l.decision_id FROM decision_lines l WHERE "
            + " AND ".join(lines)
            + ")"
        )
    sql = _STILL_BLOCKED.replace("{filters}", "".join(" AND " + f for f in filters))
    return [
        BlockedDecision(
            r["decision_id"], json.loads(r["request"]), r["decided_at"], r["error_codes"]
        )
        for r in await conn.fetch(sql, *args)
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
  SELECT btrim(l.partner_id_on_record) AS partner_id, d.source_event_id, d.order_id, d.subscription_id,
         l.decided_at
  FROM decision_lines l JOIN decisions d ON d.decision_id = l.decision_id
  WHERE l.distributor_id = $1 AND l.decided_at >= $2
    AND btrim(l.partner_id_on_record) = ANY ($3::text[])
)
SELECT h.partner_id, count(DISTINCT h.source_event_id) AS transactions, max(h.decided_at) AS last_decided_at,
  ARRAY(SELECT o.order_id FROM hits o WHERE o.partner_id = h.partner_id AND o.order_id IS NOT NULL
        GROUP BY o.order_id ORDER BY max(o.decided_at) DESC, o.order_id LIMIT $4) AS orders,
  ARRAY(SELECT s.subscription_id FROM hits s WHERE s.partner_id = h.partner_id AND s.subscription_id IS NOT NULL
        GROUP BY s.subscription_id ORDER BY max(s.decided_at) DESC, s.subscription_id LIMIT $4)
    AS subscriptions
FROM hits h GROUP BY h.partner_id
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
        r["partner_id"]: PorTransactions(
            r["partner_id"],
            r["transactions"],
            r["orders"],
            r["subscriptions"],
            r["last_decided_at"],
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
