"""Re-validation: ask por-validator again about blocked transactions.

Each request is the one first sent, now naming the decision it supersedes; its id derives
from that decision, so running this twice sends the same ids, which the validator ignores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contracts.codec import encode, new_event
from contracts.events import ValidationRequested
from contracts.ids import derived_event_id
from contracts.topics import VALIDATION_REQUESTS
from services.common.db import create_pool
from services.common.kafka import CONTENT_TYPE
from services.ops.topic_io import ProgressFn, report_progress, sending
from services.por_validator import decision_store, store
from services.settings import Settings

REVALIDATION_SOURCE = "/porgate/ops/revalidate"


@dataclass(frozen=True)
class Revalidation:
    """One re-validation request for one blocked decision."""

    decision_id: str
    source_event_id: str
    distributor_id: str
    error_codes: tuple[int, ...]
    decided_at: datetime
    key: str
    event_id: str
    value: bytes


def revalidation_for(
    decision_id: str, request: dict[str, Any], decided_at: datetime, error_codes: Sequence[int] = ()
) -> Revalidation:
    """The request as first sent, now naming the decision it supersedes.

    Byte-identical on every run (id and envelope time derive from the decision): the
    validator's inbox dead-letters a known id that comes back with a different body.
    """
    original = ValidationRequested.model_validate(request)
    revised = original.model_copy(update={"supersedes_decision_id": decision_id})
    key = revised.transaction_key
    event = new_event(
        revised,
        source=REVALIDATION_SOURCE,
        id=derived_event_id("revalidation", decision_id),
        subject=key,
        time=decided_at,
    )
    return Revalidation(
        decision_id=decision_id,
        source_event_id=revised.source_event_id,
        distributor_id=revised.distributor_id,
        error_codes=tuple(error_codes),
        decided_at=decided_at,
        key=key,
        event_id=event.id,
        value=encode(event),
    )


@dataclass
class RevalidateResult:
    planned: list[Revalidation]
    sent: int = 0


async def revalidate(
    settings: Settings,
    *,
    distributor: str | None = None,
    code: int | None = None,
    since: datetime | None = None,
    decision_ids: Sequence[str] | None = None,
    dry_run: bool = False,
    rate: float | None = None,
    on_progress: ProgressFn | None = None,
) -> RevalidateResult:
    """Ask por-validator again about blocked transactions, each request naming the decision it supersedes.

    One request per decision still blocked (decision_store.still_blocked: blocked and not
    superseded), the same ones a registry change may release.
    """
    pool = await create_pool(settings.database_url, store.SCHEMA, max_size=1)
    try:
        blocked = await decision_store.still_blocked(
            pool, distributor=distributor, code=code, since=since, decision_ids=decision_ids
        )
    finally:
        await pool.close()
    planned = [
        revalidation_for(b.decision_id, b.request, b.decided_at, b.error_codes) for b in blocked
    ]
    result = RevalidateResult(planned)
    if dry_run:
        return result
    report_progress(on_progress, 0, len(planned))
    async with sending(settings, dry_run, rate) as sender:
        topic = settings.topic_prefix + VALIDATION_REQUESTS.name
        for done, item in enumerate(planned, 1):
            await sender.send(topic, item.value, item.key.encode(), CONTENT_TYPE)
            report_progress(on_progress, done, len(planned))
    result.sent = sender.sent
    return result
