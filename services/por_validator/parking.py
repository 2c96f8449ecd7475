"""Parking: in a batch of validation requests, set aside the requests of the distributors whose
Partner Center gave no answer yet, and decide the others now.

`wait` mode must hold a distributor's transactions while its Partner Center is down; it must
not hold the other distributors' that share its partitions. So a request without an answer is
parked (parked_store.py, in the batch's own transaction: the inbox claims it and the offsets
move on) and decided later by the drain (drain.py). Order per key: while a distributor has any
parked request, every new request of that distributor is parked behind it (a transaction key
belongs to one distributor), and the drain decides them in the order they were parked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from contracts.envelope import CloudEvent
from services.common.handling import Emitted, Handler, after_commit
from services.por_validator.unit_of_work import ValidatorUnitOfWork

log = logging.getLogger(__name__)

BEHIND_PARKED = "queued behind this distributor's parked requests"


def to_park(
    events: Sequence[CloudEvent[Any]], unanswered: Mapping[str, str], queued: set[str]
) -> dict[int, str]:
    """{index in the batch: reason} of the requests to park: those of a distributor without
    an answer (`unanswered`: distributor -> why) or with requests parked already (`queued`)."""
    parked: dict[int, str] = {}
    for i, event in enumerate(events):
        distributor_id = event.data.distributor_id
        reason = unanswered.get(distributor_id) or (
            BEHIND_PARKED if distributor_id in queued else None
        )
        if reason is not None:
            parked[i] = reason
    return parked


def merge(count: int, parked: Mapping[int, str], decided: Sequence[Emitted]) -> list[Emitted]:
    """What each event of the batch emits, in order: nothing for a parked one, and for the
    others what deciding them emitted (`decided`, in their order)."""
    emitted = iter(decided)
    return [() if i in parked else next(emitted) for i in range(count)]


async def decide_or_park(
    events: list[CloudEvent[Any]],
    uow: ValidatorUnitOfWork,
    *,
    decide: Handler,
    answers: Mapping[str, Any],
    unanswered: Mapping[str, str],
    on_parked: Callable[[set[str]], None],
) -> list[Emitted]:
    """por-validator's handler of a batch in partner-center mode: `decide` (with Partner
    Center's `answers`) the requests it can, park the rest. `on_parked` gets the distributors
    that parked requests, once the transaction has committed."""
    queued = await uow.parked_among({e.data.distributor_id for e in events})
    parked = to_park(events, unanswered, queued)
    if not parked:
        return await decide(events, uow, answers=answers)
    await uow.park([(events[i], reason) for i, reason in parked.items()])
    rest = [e for i, e in enumerate(events) if i not in parked]
    decided = await decide(rest, uow, answers=answers) if rest else []
    after_commit(on_parked, {events[i].data.distributor_id for i in parked})
    return merge(len(events), parked, decided)
