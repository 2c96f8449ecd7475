"""por-validator's SQL for Partner Center's MPA answers (compliance agreementstatus): the
audit trail, read back as the cache, as answer_store.py does for validations."""

from __future__ import annotations

from datetime import datetime

from services.common.db import Executor
from services.partner_center.models import AgreementStatus


async def fresh_agreement(
    db: Executor, distributor_id: str, partner_id: str, since: datetime
) -> bool | None:
    """The newest answer given after `since`: signed or not; None when there is none."""
    return await db.fetchval(
        "SELECT is_signed FROM partner_center_agreements"
        " WHERE distributor_id = $1 AND partner_id = $2 AND answered_at > $3"
        " ORDER BY answered_at DESC LIMIT 1",
        distributor_id,
        partner_id,
        since,
    )


async def record_agreement(db: Executor, distributor_id: str, status: AgreementStatus) -> None:
    await db.execute(
        "INSERT INTO partner_center_agreements (distributor_id, partner_id, is_signed, request_id,"
        " correlation_id, answered_at) VALUES ($1, $2, $3, $4, $5, $6)",
        distributor_id,
        status.partner_id,
        status.signed,
        status.call.request_id,
        status.call.correlation_id,
        status.call.answered_at,
    )


async def prune_agreements(db: Executor, older_than: datetime) -> int:
    status = await db.execute(
        "DELETE FROM partner_center_agreements WHERE answered_at < $1", older_than
    )
    return int(status.split()[-1])
