"""Partner Center as the authority: its answers through a PostgreSQL cache, and the gate that
gets them for a batch before the batch's transaction, deciding what an outage means.

Every answer is kept (answer_store.py) with when it came and the call it came from; the
newest answer younger than the TTL is reused, so a busy PLA id costs one call per TTL. A
distributor without credentials is decided from the registry, saying so (`registry`).
A distributor whose Partner Center gives no answer yet has its requests parked (parking.py),
so that it holds nobody else's; the drain (drain.py) decides them once it answers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import asyncpg

from contracts.envelope import CloudEvent
from contracts.events import ValidationRequested
from services.common.handling import Handler
from services.common.retry import Retrier
from services.domain.authority import Answer, partner_ids_to_ask
from services.partner_center.errors import (
    NotConfigured,
    PartnerCenterError,
    Rejected,
    Throttled,
    Unavailable,
)
from services.partner_center.outage import OUTAGES, when_unanswered
from services.partner_center.port import PartnerCenter
from services.por_validator import answer_store, metrics
from services.por_validator.parking import decide_or_park

log = logging.getLogger(__name__)

# An outage with no failed call for this long is no longer reported (no traffic, no news).
FORGET_OUTAGE_S = 300.0


# Answers held in memory as well, so that a warm cache costs no query per batch and
# distributor; PostgreSQL stays the record (audit, other replicas, restarts).
MEMORY_ANSWERS = 200_000


class CachedPartnerCenter:
    """Partner Center's validation answers for one distributor, through the cache: in this
    process's memory, then PostgreSQL, then Partner Center. An answer is reused while it is
    younger than the TTL, wherever it is found."""

    def __init__(self, client: PartnerCenter, ttl_s: float) -> None:
        self.client = client
        self.ttl = timedelta(seconds=ttl_s)
        # (distributor, PLA id) -> (answer, when Partner Center gave it), oldest first.
        self._memory: dict[tuple[str, str], tuple[Answer, datetime]] = {}
        # Distributors whose fresh answers this process has read from PostgreSQL whole.
        self._read_whole: set[str] = set()

    def _remember(self, distributor_id: str, found: dict[str, tuple[Answer, datetime]]) -> None:
        for pid, entry in found.items():
            self._memory.pop((distributor_id, pid), None)
            self._memory[(distributor_id, pid)] = entry
        while len(self._memory) > MEMORY_ANSWERS:
            del self._memory[next(iter(self._memory))]

    async def answers(
        self,
        pool: asyncpg.Pool,
        distributor_id: str,
        partner_ids: Iterable[str],
        *,
        event_id: str | None = None,
        patient: bool = True,
    ) -> dict[str, Answer]:
        """An answer for every id; raises a PartnerCenterError when Partner Center gives none."""
        ids = sorted(set(partner_ids))
        since = datetime.now(UTC) - self.ttl
        found: dict[str, Answer] = {}
        for pid in ids:
            entry = self._memory.get((distributor_id, pid))
            if entry is not None and entry[1] > since:
                found[pid] = entry[0]
        if len(found) < len(ids):
            wanted = [pid for pid in ids if pid not in found]
            if distributor_id in self._read_whole:
                stored = await answer_store.fresh_answers(pool, distributor_id, wanted, since)
            else:
                # A new process (a restart, another replica) meets a distributor's ids a few
                # at a time, for many batches, each of them a query: its first miss reads
                # every fresh answer the distributor has instead.
                stored = await answer_store.fresh_answers_of(
                    pool, distributor_id, since, MEMORY_ANSWERS
                )
                self._read_whole.add(distributor_id)
                rest = [pid for pid in wanted if pid not in stored]
                if rest and len(stored) >= MEMORY_ANSWERS:  # more than memory holds: cut off
                    stored |= await answer_store.fresh_answers(pool, distributor_id, rest, since)
            self._remember(distributor_id, stored)
            found.update((pid, stored[pid][0]) for pid in wanted if pid in stored)
        missing = [pid for pid in ids if pid not in found]
        metrics.PARTNER_CENTER_CACHE.labels("hit").inc(len(ids) - len(missing))
        if not missing:
            return found
        metrics.PARTNER_CENTER_CACHE.labels("miss").inc(len(missing))
        validations = await self.client.validate_resellers(
            distributor_id, missing, event_id=event_id, patient=patient
        )
        await answer_store.record_answers(pool, distributor_id, validations)
        fresh: dict[str, tuple[Answer, datetime]] = {}
        for v in validations:
            r = v.result
            fresh[r.partner_id] = (
                Answer(
                    r.partner_id,
                    r.is_valid_partner_id_on_record,
                    r.error_code,
                    r.error_description,
                ),
                v.call.answered_at,
            )
        if self.ttl > timedelta(0):
            self._remember(distributor_id, fresh)
        found.update((pid, answer) for pid, (answer, _) in fresh.items())
        return found


@dataclass(frozen=True, slots=True)
class Unanswered:
    """No answer yet, and the outage policy says wait: the requests are parked."""

    reason: str
    retry_after_s: float = 0.0  # Partner Center's Retry-After, when it throttles


# What asking gives for one distributor: Partner Center's answers by PLA id; None: the
# registry decides, as the authority (no credentials); {}: the registry decides as a
# fallback; or Unanswered.
Outcome = Mapping[str, Answer] | None | Unanswered


class PartnerCenterGate:
    """por-validator's `prefetch` in partner-center mode: Partner Center's answers for a batch,
    fetched before its transaction and handed to `decide` (handlers.decide_requests with its
    settings bound) through parking.decide_or_park. A batch asks each distributor once, and
    waits for it at most `park_after_s`, one attempt, no Retry-After waited out: without an
    answer, services/partner_center/outage.py says whether the registry decides or the
    distributor's requests are parked, an outage's wait being `max_wait_s`. The drain
    (drain.py) asks again, patiently, for the parked ones."""

    def __init__(
        self,
        cached: CachedPartnerCenter,
        *,
        enforcement_start: datetime,
        max_wait_s: float,
        when_unavailable: str,
        park_after_s: float,
        decide: Handler,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cached = cached
        self.enforcement_start = enforcement_start
        self.max_wait_s = max_wait_s
        self.when_unavailable = when_unavailable
        self.park_after_s = park_after_s
        self.decide = decide
        self.clock = clock
        # Since when each distributor's Partner Center has failed to answer, and why.
        self._down_since: dict[str, float] = {}
        self._down_reason: dict[str, str] = {}
        self._last_failure: dict[str, float] = {}
        self._not_configured: set[str] = set()
        # Distributors that parked requests since the drain last found their queue empty.
        self._parking: set[str] = set()
        # Rung when a distributor starts parking requests or a drain ends: the drain's doorbell.
        self.wakeup = asyncio.Event()

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

    def ids_to_ask(self, events: list[CloudEvent[Any]]) -> dict[str, tuple[set[str], str]]:
        """Per distributor: the PLA ids its requests need answered, and its first event's id."""
        wanted: dict[str, tuple[set[str], str]] = {}
        for event in events:
            request: ValidationRequested = event.data
            ids, _ = wanted.setdefault(request.distributor_id, (set(), event.id))
            ids |= partner_ids_to_ask(request, self.enforcement_start)
        return wanted

    async def prefetch(
        self, pool: asyncpg.Pool, retrying: Retrier, events: list[CloudEvent[Any]]
    ) -> Handler:
        answers: dict[str, Mapping[str, Answer] | None] = {}
        unanswered: dict[str, str] = {}
        asking: dict[str, tuple[set[str], str]] = {}
        for distributor_id, wanted in self.ids_to_ask(events).items():
            if self._waiting_on(distributor_id):
                # The drain probes it: a batch need not wait to hear what it will hear.
                unanswered[distributor_id] = self._down_reason[distributor_id]
            else:
                asking[distributor_id] = wanted
        # Distributors at once: each is its own tenant with its own limits, and a batch
        # should wait for the slowest answer, not for the sum of them.
        try:
            async with asyncio.TaskGroup() as group:
                tasks = {
                    d: group.create_task(self._ask_briefly(pool, d, ids, event_id))
                    for d, (ids, event_id) in asking.items()
                }
        except BaseExceptionGroup as failed:
            # As the pipeline's retrying knows them (a database error), not wrapped in a group.
            raise failed.exceptions[0] from None
        for distributor_id, task in tasks.items():
            outcome = task.result()
            if isinstance(outcome, Unanswered):
                unanswered[distributor_id] = outcome.reason
            else:
                answers[distributor_id] = outcome
        return partial(
            decide_or_park,
            decide=self.decide,
            answers=answers,
            unanswered=unanswered,
            on_parked=self._parked_now,
        )

    async def ask(
        self,
        pool: asyncpg.Pool,
        distributor_id: str,
        ids: set[str],
        event_id: str,
        *,
        patient: bool = True,
    ) -> Outcome:
        """Partner Center's answers for these ids (through the cache), or what stands in for
        them under the outage policy."""
        if not ids:
            return {}
        try:
            found = await self.cached.answers(
                pool, distributor_id, ids, event_id=event_id, patient=patient
            )
        except (NotConfigured, Rejected, *OUTAGES) as exc:
            return self._unanswered(distributor_id, exc, event_id)
        self._reachable(distributor_id)
        return found

    def drained(self, distributor_id: str) -> None:
        """The drain found the distributor's queue empty: its requests are decided directly."""
        if distributor_id in self._parking:
            self._parking.discard(distributor_id)
            log.info(
                "no parked requests left: deciding this distributor's transactions directly",
                extra={"distributor_id": distributor_id},
            )

    async def _ask_briefly(
        self, pool: asyncpg.Pool, distributor_id: str, ids: set[str], event_id: str
    ) -> Outcome:
        """One attempt within `park_after_s`: the other distributors' requests of the batch
        wait for it."""
        deadline = asyncio.timeout(self.park_after_s)
        try:
            async with deadline:
                return await self.ask(pool, distributor_id, ids, event_id, patient=False)
        except TimeoutError:
            if not deadline.expired():
                raise
            late = Unavailable(distributor_id, f"no answer within {self.park_after_s:g} s")
            return self._unanswered(distributor_id, late, event_id)

    def _unanswered(self, distributor_id: str, exc: PartnerCenterError, event_id: str) -> Outcome:
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
        retry_after = exc.retry_after_s if isinstance(exc, Throttled) else 0.0
        return Unanswered(f"no answer from Partner Center: {exc}"[:300], retry_after)

    def _parked_now(self, distributor_ids: set[str]) -> None:
        """After the commit of a batch that parked these distributors' requests."""
        if new := distributor_ids - self._parking:
            for distributor_id in new:
                log.warning(
                    "parking this distributor's transactions until its Partner Center answers;"
                    " the other distributors' are decided meanwhile",
                    extra={"distributor_id": distributor_id},
                )
            self._parking |= new
            self.wakeup.set()

    def _waiting_on(self, distributor_id: str) -> bool:
        """Partner Center is down for this distributor and the policy still says wait."""
        since = self._down_since.get(distributor_id)
        if since is None:
            return False
        return self.when_unavailable == "wait" or self.clock() - since < self.max_wait_s

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
