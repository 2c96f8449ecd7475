"""por-validator's SQL for Partner Center's answers: the audit trail, read back as the cache."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from services.common.db import Executor
from services.domain.authority import Answer
from services.partner_center.models import Validation


async def fresh_answers(
    db: Executor, distributor_id: str, partner_ids: Sequence[str], since: datetime
) -> dict[str, tuple[Answer, datetime]]:
    """The newest answer for each id given after `since`, and when it was given."""
    rows = await db.fetch(
        "SELECT DISTINCT ON (partner_id) partner_id, is_valid, error_code, error_description,"
        " answered_at FROM partner_center_answers"
        " WHERE distributor_id = $1 AND partner_id = ANY($2::text[]) AND answered_at > $3"
        " ORDER BY partner_id, answered_at DESC",
        distributor_id,
        list(partner_ids),
        since,
    )
    return _by_partner_id(rows)


def _by_partner_id(rows: Sequence[Any]) -> dict[str, tuple[Answer, datetime]]:
    return {
        r["partner_id"]: (
            Answer(r["partner_id"], r["is_valid"], r["error_code"], r["error_description"]),
            r["answered_at"],
        )
        for r in rows
    }


async def fresh_answers_of(
    db: Executor, distributor_id: str, since: datetime, most: int
) -> dict[str, tuple[Answer, datetime]]:
    """The newest answer for each of a distributor's ids answered after `since` (at most
    `most` ids), and when it was given."""
    rows = await db.fetch(
        "SELECT DISTINCT ON (partner_id) partner_id, is_valid, error_code, error_description,"
        " answered_at FROM partner_center_answers"
        " WHERE distributor_id = $1 AND answered_at > $2"
        " ORDER BY partner_id, answered_at DESC LIMIT $3",
        distributor_id,
        since,
        most,
    )
    return _by_partner_id(rows)


async def record_answers(
    db: Executor, distributor_id: str, validations: Sequence[Validation]
) -> None:
    if not validations:
        return
    await db.execute(
        "INSERT INTO partner_center_answers (distributor_id, partner_id, is_valid, error_code,"
        " error_description, request_id, correlation_id, answered_at)"
        " SELECT $1, a.partner_id, a.is_valid, a.error_code, a.error_description, a.request_id,"
        "  a.correlation_id, a.answered_at"
        " FROM unnest($2::text[], $3::bool[], $4::int[], $5::text[], $6::text[], $7::text[],"
        "  $8::timestamptz[])"
        "  AS a(partner_id, is_valid, error_code, error_description, request_id, correlation_id,"
        "  answered_at)",
        distributor_id,
        [v.result.partner_id for v in validations],
        [v.result.is_valid_partner_id_on_record for v in validations],
        [v.result.error_code for v in validations],
        [v.result.error_description for v in validations],
        [v.call.request_id for v in validations],
        [v.call.correlation_id for v in validations],
        [v.call.answered_at for v in validations],
    )


async def prune_answers(db: Executor, older_than: datetime) -> int:
    status = await db.execute(
        "DELETE FROM partner_center_answers WHERE answered_at < $1", older_than
    )
    return int(status.split()[-1])
