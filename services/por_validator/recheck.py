"""Re-check now: ask the authority about one PLA id again, bypassing the cache, record its
answer, and release this distributor's blocked transactions that depend on the id and pass
now: automatic release's machinery (the still-blocked query, the lock, record_decisions'
supersede-at-most-once), started by a person instead of a registry event.

The released decisions go to the outbox in the same transaction and are published at once;
rows the broker did not take stay in por-validator's outbox, which publishes them at its
next start. A second re-check in a row finds nothing still blocked and changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from contracts.codec import decision_event
from contracts.events import TransactionDecision, ValidationRequested
from contracts.topics import DECISIONS
from services.common import outbox
from services.common.handling import Outgoing
from services.common.kafka import CONTENT_TYPE, send_all
from services.domain.authority import Answer
from services.domain.por_rules import evaluate_por, normalize_partner_id
from services.domain.recheck import recheck_id, rechecked
from services.domain.regions import RegionTable
from services.partner_center.errors import NotConfigured
from services.partner_center.port import PartnerCenter
from services.por_validator import answer_store, decision_store, store
from services.por_validator.handlers import SOURCE
from services.por_validator.partner_center import CachedPartnerCenter

log = logging.getLogger(__name__)
PUBLISH_TIMEOUT_S = 10.0


@dataclass
class Recheck:
    """What a re-check found and changed."""

    partner_id: str
    distributor_id: str
    authority: str  # partner_center or registry
    error_codes: list[int]
    checked_at: datetime
    released: list[TransactionDecision] = field(default_factory=list)
    still_blocked: list[str] = field(default_factory=list)
    unpublished: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "partnerId": self.partner_id,
            "distributorId": self.distributor_id,
            "authority": self.authority,
            "isValidPartnerIdOnRecord": not self.error_codes,
            "errorCodes": self.error_codes,
            "checkedAt": self.checked_at.isoformat(),
            "released": [
                {
                    "decisionId": d.decision_id,
                    "supersedesDecisionId": d.supersedes_decision_id,
                    "transactionKind": d.transaction_kind,
                    "orderId": d.order_id,
                    "subscriptionId": d.subscription_id,
                }
                for d in self.released
            ],
            "stillBlocked": self.still_blocked,
        }


@dataclass(frozen=True)
class Rechecker:
    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    regions: RegionTable
    enforcement_start: datetime
    window: timedelta
    topic_prefix: str = ""
    client: PartnerCenter | None = None  # Partner Center, when it is the authority
    cache_ttl_s: float = 900.0

    async def recheck(self, partner_id: str, distributor_id: str) -> Recheck:
        """Raises a PartnerCenterError when Partner Center is the authority and gives no
        answer (other than having no credentials for the distributor: the registry answers)."""
        checked_at = datetime.now(UTC)
        pid = normalize_partner_id(partner_id)
        fresh = await self._ask(pid, distributor_id) if pid is not None else None
        since = checked_at - self.window
        answers = None
        if fresh is not None:
            # The other ids on the same transactions: through the cache, as the validator.
            preview = await decision_store.still_blocked(
                self.pool, partner_ids=[pid], since=since, distributor=distributor_id
            )
            others = {
                n
                for b in preview
                for line in ValidationRequested.model_validate(b.request).lines
                if (n := normalize_partner_id(line.partner_id_on_record)) not in (None, pid)
            }
            answers = {pid: fresh}
            if others:
                cached = CachedPartnerCenter(self.client, self.cache_ttl_s)  # type: ignore[arg-type]
                answers |= await cached.answers(self.pool, distributor_id, others)
        async with self.pool.acquire() as conn, conn.transaction():
            result, rows = await self._release(
                conn, partner_id, pid, distributor_id, answers, since, checked_at
            )
        result.unpublished = await self._publish(rows)
        log.info(
            "re-checked",
            extra={
                "distributor_id": distributor_id,
                "partner_id": partner_id,
                "authority": result.authority,
                "codes": result.error_codes,
                "released": [(d.supersedes_decision_id, d.decision_id) for d in result.released],
            },
        )
        return result

    async def _ask(self, pid: str, distributor_id: str) -> Answer | None:
        """Partner Center's answer now, recorded (so the cache holds it); None when the
        registry is the authority for this distributor."""
        if self.client is None:
            return None
        try:
            (validation,) = await self.client.validate_resellers(distributor_id, [pid])
        except NotConfigured:
            return None
        await answer_store.record_answers(self.pool, distributor_id, [validation])
        r = validation.result
        return Answer(
            r.partner_id, r.is_valid_partner_id_on_record, r.error_code, r.error_description
        )

    async def _release(
        self,
        conn: asyncpg.Connection,
        partner_id: str,
        pid: str | None,
        distributor_id: str,
        answers: dict[str, Answer] | None,
        since: datetime,
        checked_at: datetime,
    ) -> tuple[Recheck, list[asyncpg.Record]]:
        # Exclusive, as a registry change: a decision in flight either sees this re-check's
        # releases or is seen by it.
        await store.lock_for_registry_change(conn)
        blocked = (
            await decision_store.still_blocked(
                conn, partner_ids=[pid], since=since, distributor=distributor_id
            )
            if pid is not None
            else []
        )
        requests = [ValidationRequested.model_validate(b.request) for b in blocked]
        registry = await store.registry_for(
            conn,
            [partner_id, *(line.partner_id_on_record for r in requests for line in r.lines)],
            (distributor_id,),
            self.regions,
        )
        if answers is not None and pid is not None:
            codes = list(answers[pid].codes)
        else:
            codes = [int(c) for c in evaluate_por(partner_id, distributor_id, registry)]
        result = Recheck(
            partner_id,
            distributor_id,
            "registry" if answers is None else "partner_center",
            codes,
            checked_at,
        )
        recheck = recheck_id(distributor_id, pid or partner_id, checked_at)
        pairs = []
        for b, request in zip(blocked, requests, strict=True):
            release = rechecked(
                b.decision_id,
                request,
                registry,
                answers,
                recheck=recheck,
                enforcement_start=self.enforcement_start,
                decided_at=checked_at,
            )
            if release is None:
                result.still_blocked.append(b.decision_id)
            else:
                pairs.append(release)
        if not pairs:
            return result, []
        inserted = await decision_store.record_decisions(conn, pairs)
        result.released = [d for _, d in pairs if d.decision_id in inserted]
        rows = await outbox.write(
            conn,
            [
                (
                    d.source_event_id,
                    Outgoing(DECISIONS, d.transaction_key, decision_event(d, source=SOURCE)),
                )
                for d in result.released
            ],
        )
        return result, rows

    async def _publish(self, rows: list[asyncpg.Record]) -> int:
        """Send the committed rows and delete them; the count the broker did not take."""
        if not rows:
            return 0
        messages = [
            (
                self.topic_prefix + r["topic"],
                bytes(r["key"]) if r["key"] is not None else None,
                bytes(r["value"]),
                CONTENT_TYPE,
            )
            for r in rows
        ]
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT_S):
                outcome = await send_all(self.producer, messages)
        except Exception:
            log.warning(
                "re-check: releases not published yet; they stay in the outbox", exc_info=True
            )
            return len(rows)
        sent = [r["id"] for r, refusal in zip(rows, outcome, strict=True) if refusal is None]
        await self.pool.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", sent)
        return len(rows) - len(sent)
