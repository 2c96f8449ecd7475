"""Partner Center as the authority: its answers through a PostgreSQL cache, and the gate that
gets them for a batch before the batch's transaction, deciding what an outage means.

Every answer is kept (answer_store.py) with when it came and the call it came from; the
newest answer younger than the TTL is reused, so a busy PLA id costs one call per TTL. A
distributor without credentials is decided from the registry, saying so (`registry`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import asyncpg

from contracts.envelope import CloudEvent
from contracts.events import ValidationRequested
from services.common.handling import Handler, Held
from services.common.retry import Retrier, backoff_s
from services.domain.authority import Answer, partner_ids_to_ask
from services.partner_center.errors import NotConfigured, PartnerCenterError, Rejected, Throttled
from services.partner_center.outage import OUTAGES, when_unanswered
from services.partner_center.port import PartnerCenter
from services.por_validator import answer_store, metrics

log = logging.getLogger(__name__)

# A held batch goes back to the consumer at least this often, so it keeps polling.
HOLD_CYCLE_S = 30.0
# An outage with no failed call for this long is no longer reported (no traffic, no news).
FORGET_OUTAGE_S = 300.0


class CachedPartnerCenter:
    """Partner Center's validation answers for one distributor, through the cache."""

    def __init__(self, client: PartnerCenter, ttl_s: float) -> None:
        self.client = client
        self.ttl = timedelta(seconds=ttl_s)

    async def answers(
        self,
        pool: asyncpg.Pool,
        distributor_id: str,
        partner_ids: Iterable[str],
        *,
        event_id: str | None = None,
    ) -> dict[str, Answer]:
        """An answer for every id; raises a PartnerCenterError when Partner Center gives none."""
        ids = sorted(set(partner_ids))
        found = await answer_store.fresh_answers(
            pool, distributor_id, ids, datetime.now(UTC) - self.ttl
        )
        missing = [pid for pid in ids if pid not in found]
        metrics.PARTNER_CENTER_CACHE.labels("hit").inc(len(ids) - len(missing))
        if not missing:
            return found
        metrics.PARTNER_CENTER_CACHE.labels("miss").inc(len(missing))
        validations = await self.client.validate_resellers(
            distributor_id, missing, event_id=event_id
        )
        await answer_store.record_answers(pool, distributor_id, validations)
        for v in validations:
            r = v.result
            found[r.partner_id] = Answer(
                r.partner_id, r.is_valid_partner_id_on_record, r.error_code, r.error_description
            )
        return found


class PartnerCenterGate:
    """por-validator's `prefetch` in partner-center mode: Partner Center's answers for a batch,
    fetched before its transaction and handed to `decide` (handlers.decide_requests with its
    settings bound); without an answer, services/partner_center/outage.py decides who
    decides, an outage's wait being `max_wait_s`."""

    def __init__(
        self,
        cached: CachedPartnerCenter,
        *,
        enforcement_start: datetime,
        max_wait_s: float,
        when_unavailable: str,
        decide: Handler,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cached = cached
        self.enforcement_start = enforcement_start
        self.max_wait_s = max_wait_s
        self.when_unavailable = when_unavailable
        self.decide = decide
        self.clock = clock
        # Since when each distributor's Partner Center has failed to answer, and why.
        self._down_since: dict[str, float] = {}
        self._down_reason: dict[str, str] = {}
        self._last_failure: dict[str, float] = {}
        self._not_configured: set[str] = set()

    def degraded(self) -> dict[str, str]:
        now = self.clock()
        # An outage nobody has run into lately is forgotten: a distributor whose traffic
        # stopped must not keep /healthz degraded and the alert firing.
        for d in [d for d, at in self._last_failure.items() if now - at > FORGET_OUTAGE_S]:
            self._reachable(d)
        return {
            f"partner-center:{d}": self._down_reason[d]
            for d, since in self._down_since.items()
            if now - since >= self.max_wait_s
        }

    async def prefetch(
        self, pool: asyncpg.Pool, retrying: Retrier, events: list[CloudEvent[Any]]
    ) -> Handler:
        wanted: dict[str, set[str]] = {}
        first_event: dict[str, str] = {}
        for event in events:
            request: ValidationRequested = event.data
            ids = wanted.setdefault(request.distributor_id, set())
            ids |= partner_ids_to_ask(request, self.enforcement_start)
            first_event.setdefault(request.distributor_id, event.id)
        # Distributors at once: each is its own tenant with its own limits, and a batch
        # should wait for the slowest answer, not for the sum of them.
        try:
            async with asyncio.TaskGroup() as group:
                tasks = {
                    distributor_id: group.create_task(
                        self._answers(
                            pool, retrying, distributor_id, ids, first_event[distributor_id]
                        )
                    )
                    for distributor_id, ids in wanted.items()
                }
        except BaseExceptionGroup as failed:
            # Held or Stopping as the pipeline knows them, not wrapped in a group.
            raise failed.exceptions[0] from None
        return partial(self.decide, answers={d: task.result() for d, task in tasks.items()})

    async def _answers(
        self,
        pool: asyncpg.Pool,
        retrying: Retrier,
        distributor_id: str,
        ids: set[str],
        event_id: str,
    ) -> dict[str, Answer] | None:
        if not ids:
            return {}
        held_since = self.clock()
        failures = 0
        while True:
            try:
                found = await self.cached.answers(pool, distributor_id, ids, event_id=event_id)
            except (NotConfigured, Rejected, *OUTAGES) as exc:
                waited_out = isinstance(exc, OUTAGES) and self._unreachable(distributor_id, exc)
                fallback = when_unanswered(
                    exc, when_unavailable=self.when_unavailable, waited_out=waited_out
                )
                if fallback == "registry":
                    self._without_credentials(distributor_id)
                    return None
                if fallback == "registry_fallback":
                    if isinstance(exc, Rejected):
                        log.error(
                            "Partner Center rejected the validation; deciding from the registry",
                            extra={
                                "distributor_id": distributor_id,
                                "event_id": event_id,
                                "error": str(exc),
                            },
                        )
                    return {}
                # Back to the consumer every cycle, past the wait or not: a poll keeps it in
                # its group (max.poll.interval), whatever PARTNER_CENTER_MAX_WAIT_S says.
                if self.clock() - held_since >= HOLD_CYCLE_S:
                    raise Held(str(exc)) from None
                failures += 1
                delay = backoff_s(failures + 1, retrying.initial_s, retrying.max_s)
                if isinstance(exc, Throttled):
                    delay = max(delay, exc.retry_after_s)  # never call before Retry-After ends
                await retrying.sleep(min(delay, HOLD_CYCLE_S))
                continue
            self._reachable(distributor_id)
            return found

    def _without_credentials(self, distributor_id: str) -> None:
        if distributor_id not in self._not_configured:
            self._not_configured.add(distributor_id)
            log.warning(
                "no Partner Center credentials for this distributor: its transactions"
                " are decided from the registry",
                extra={"distributor_id": distributor_id},
            )

    def _unreachable(self, distributor_id: str, exc: PartnerCenterError) -> bool:
        """Note the failure; True once Partner Center has been unreachable past the wait."""
        now = self.clock()
        since = self._down_since.setdefault(distributor_id, now)
        self._last_failure[distributor_id] = now
        self._down_reason[distributor_id] = (
            f"unreachable for {now - since:.0f} s ({self.when_unavailable}): {exc}"[:300]
        )
        if now - since < self.max_wait_s:
            return False
        metrics.PARTNER_CENTER_UNAVAILABLE.labels(distributor_id).set(1)
        return True

    def _reachable(self, distributor_id: str) -> None:
        if self._down_since.pop(distributor_id, None) is not None:
            self._down_reason.pop(distributor_id, None)
            self._last_failure.pop(distributor_id, None)
            metrics.PARTNER_CENTER_UNAVAILABLE.labels(distributor_id).set(0)
            log.info("Partner Center answers again", extra={"distributor_id": distributor_id})
