"""Parking, without a broker or a database: which requests of a batch are parked and which are
decided (parking.py), what the gate asks Partner Center and what it makes of each failure
(partner_center.PartnerCenterGate), and the drain's backoff (drain.Backoff)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from contracts.codec import new_event
from contracts.events import ValidationLine, ValidationRequested
from services.domain.authority import Answer
from services.domain.regions import RegionTable
from services.partner_center.errors import (
    NotConfigured,
    Rejected,
    Throttled,
    Unavailable,
)
from services.por_validator.drain import Backoff
from services.por_validator.handlers import Validation, decide_requests
from services.por_validator.parking import BEHIND_PARKED, decide_or_park, merge, to_park
from services.por_validator.partner_center import PartnerCenterGate, Unanswered
from tests.fakes.por_validator import FakeValidatorUnitOfWork

START = datetime(2025, 12, 1, tzinfo=UTC)
A, B, C = "dist-a", "dist-b", "dist-c"


def request(order_id: str, distributor: str, pid: str = "1000001"):
    return new_event(
        ValidationRequested(
            source_event_id=f"src-{order_id}",
            transaction_kind="new_order",
            order_id=order_id,
            distributor_id=distributor,
            customer_id="c",
            requested_at=datetime(2026, 1, 10, tzinfo=UTC),
            lines=[ValidationLine(line_item_id="1", partner_id_on_record=pid)],
        ),
        source="/tests",
    )


# ------------------------------------------------------------------------- which are parked


@pytest.mark.parametrize(
    ("distributors", "unanswered", "queued", "parked"),
    [
        ([A, B, C], {}, set(), {}),
        ([A, B, A], {A: "down"}, set(), {0: "down", 2: "down"}),
        ([A, B, A], {}, {A}, {0: BEHIND_PARKED, 2: BEHIND_PARKED}),
        ([A, B, C], {A: "down"}, {C}, {0: "down", 2: BEHIND_PARKED}),
        ([A, B], {A: "down"}, {A}, {0: "down"}),  # its own reason wins
        ([B], {A: "down"}, {A}, {}),  # not in this batch
    ],
)
def test_a_distributors_requests_are_parked_without_an_answer_or_behind_parked_ones(
    distributors, unanswered, queued, parked
):
    events = [request(f"o-{i}", d) for i, d in enumerate(distributors)]
    assert to_park(events, unanswered, queued) == parked


def test_what_each_event_emits_keeps_the_batch_order_with_nothing_for_the_parked_ones():
    assert merge(5, {1: "x", 3: "x"}, [["a"], ["c"], ["e"]]) == [["a"], (), ["c"], (), ["e"]]
    assert merge(2, {0: "x", 1: "x"}, []) == [(), ()]


async def test_the_batch_parks_one_distributors_requests_in_order_and_decides_the_others():
    uow = FakeValidatorUnitOfWork()
    events = [request("o-1", A), request("o-2", B), request("o-1b", A), request("o-3", C)]
    parked_for: list[set[str]] = []
    decide = _decider()
    emitted = await decide_or_park(
        events,
        uow,
        decide=decide,
        answers={B: {}, C: {}},
        unanswered={A: "no answer from Partner Center"},
        on_parked=parked_for.append,
    )
    assert [len(e) for e in emitted] == [0, 1, 0, 1]
    assert [(e.id, reason) for e, reason in uow.parked] == [
        (events[0].id, "no answer from Partner Center"),
        (events[2].id, "no answer from Partner Center"),
    ]
    assert {r.order_id for r, _ in uow.decisions.values()} == {"o-2", "o-3"}
    assert parked_for == [{A}]

    # Partner Center answers A again; A's new request still queues behind the parked ones.
    later = [request("o-1c", A), request("o-4", B)]
    emitted = await decide_or_park(
        later,
        uow,
        decide=decide,
        answers={A: {}, B: {}},
        unanswered={},
        on_parked=parked_for.append,
    )
    assert [len(e) for e in emitted] == [0, 1]
    assert uow.parked[-1] == (later[0], BEHIND_PARKED)
    assert "o-1c" not in {r.order_id for r, _ in uow.decisions.values()}


async def test_a_batch_with_nothing_to_park_is_decided_as_a_whole():
    uow = FakeValidatorUnitOfWork()
    parked_for: list[set[str]] = []
    emitted = await decide_or_park(
        [request("o-1", A), request("o-2", B)],
        uow,
        decide=_decider(),
        answers={A: {}, B: None},
        unanswered={},
        on_parked=parked_for.append,
    )
    assert [len(e) for e in emitted] == [1, 1]
    assert uow.parked == [] and parked_for == []


def _decider():
    validation = Validation(START, RegionTable.default())

    async def decide(events, uow, *, answers):
        return await decide_requests(events, uow, validation=validation, answers=answers)

    return decide


# ------------------------------------------------------------------------------ the gate


class ScriptedPartnerCenter:
    """CachedPartnerCenter's part the gate uses: per distributor, an error to raise, "hang",
    or answers (every id valid)."""

    def __init__(self) -> None:
        self.script: dict[str, object] = {}
        self.asked: list[tuple[str, bool]] = []  # (distributor, patient)

    async def answers(self, pool, distributor_id, partner_ids, *, event_id=None, patient=True):
        self.asked.append((distributor_id, patient))
        what = self.script.get(distributor_id)
        if isinstance(what, Exception):
            raise what
        if what == "hang":
            await asyncio.sleep(3600)
        return {pid: Answer(pid, True) for pid in partner_ids}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def gate(pc: ScriptedPartnerCenter, clock: Clock, **overrides) -> PartnerCenterGate:
    options = {
        "enforcement_start": START,
        "max_wait_s": 60.0,
        "when_unavailable": "wait",
        "park_after_s": 0.2,
        "decide": _decider(),
        "clock": clock,
    }
    return PartnerCenterGate(pc, **(options | overrides))  # type: ignore[arg-type]


async def prefetched(g: PartnerCenterGate, *distributors: str) -> tuple[dict, dict]:
    events = [request(f"o-{i}", d) for i, d in enumerate(distributors)]
    handler = await g.prefetch(None, None, events)  # type: ignore[arg-type]
    return dict(handler.keywords["answers"]), dict(handler.keywords["unanswered"])


async def test_a_batch_asks_once_per_distributor_without_retries_and_parks_the_one_down():
    pc, clock = ScriptedPartnerCenter(), Clock()
    g = gate(pc, clock)
    pc.script[A] = Unavailable(A, "HTTP 503")
    answers, unanswered = await prefetched(g, A, B, A, C)
    assert sorted(pc.asked) == [(A, False), (B, False), (C, False)]
    assert set(answers) == {B, C} and set(unanswered) == {A}
    assert "HTTP 503" in unanswered[A]

    # Known down: the next batches park A's requests without asking (the drain probes).
    pc.asked.clear()
    answers, unanswered = await prefetched(g, A, B)
    assert pc.asked == [(B, False)] and set(unanswered) == {A}
    assert g.degraded() == {}  # not past the wait yet
    clock.now += 61
    assert set(g.degraded()) == {f"partner-center:{A}"}

    # The drain's probe (patient) finds it answering: batches ask it again.
    pc.script.pop(A)
    assert await g.ask(None, A, {"1000001"}, "e-1") == {"1000001": Answer("1000001", True)}  # type: ignore[arg-type]
    assert pc.asked[-1] == (A, True)
    assert g.degraded() == {}
    answers, unanswered = await prefetched(g, A)
    assert set(answers) == {A} and unanswered == {}


async def test_a_distributor_that_does_not_answer_in_time_is_parked_and_the_batch_goes_on():
    pc, clock = ScriptedPartnerCenter(), Clock()
    g = gate(pc, clock, park_after_s=0.1)
    pc.script[A] = "hang"
    started = asyncio.get_running_loop().time()
    answers, unanswered = await prefetched(g, A, B)
    assert asyncio.get_running_loop().time() - started < 1
    assert set(answers) == {B} and "no answer within 0.1 s" in unanswered[A]


@pytest.mark.parametrize(
    ("failure", "when_unavailable", "waited_s", "outcome"),
    [
        (NotConfigured(A, "no credentials"), "wait", 0, None),  # the registry is the authority
        (Rejected(A, "HTTP 400"), "wait", 0, {}),  # waiting will not help: registry fallback
        (Unavailable(A, "HTTP 503"), "wait", 0, Unanswered),
        (Unavailable(A, "HTTP 503"), "wait", 3600, Unanswered),  # wait means wait
        (Unavailable(A, "HTTP 503"), "registry", 0, Unanswered),  # within the wait
        (Unavailable(A, "HTTP 503"), "registry", 3600, {}),  # past it: registry fallback
        (Throttled(A, "429", retry_after_s=7.0), "wait", 0, Unanswered),
    ],
)
async def test_the_outage_policy_per_distributor(failure, when_unavailable, waited_s, outcome):
    pc, clock = ScriptedPartnerCenter(), Clock()
    g = gate(pc, clock, when_unavailable=when_unavailable)
    pc.script[A] = failure
    first = await g.ask(None, A, {"1000001"}, "e-1")  # type: ignore[arg-type]
    clock.now += waited_s
    got = await g.ask(None, A, {"1000001"}, "e-2")  # type: ignore[arg-type]
    if outcome is Unanswered:
        assert isinstance(first, Unanswered) and isinstance(got, Unanswered)
        expected = failure.retry_after_s if isinstance(failure, Throttled) else 0.0
        assert got.retry_after_s == expected
    else:
        assert got == outcome


async def test_past_the_wait_in_registry_mode_batches_ask_again_and_fall_back():
    pc, clock = ScriptedPartnerCenter(), Clock()
    g = gate(pc, clock, when_unavailable="registry", max_wait_s=10.0)
    pc.script[A] = Unavailable(A, "HTTP 503")
    _, unanswered = await prefetched(g, A)
    assert set(unanswered) == {A}
    clock.now += 11
    pc.asked.clear()
    answers, unanswered = await prefetched(g, A)
    assert pc.asked == [(A, False)]
    assert answers == {A: {}} and unanswered == {}


# ------------------------------------------------------------------------- the drain's pace


def test_the_drain_probes_with_doubling_backoff_and_never_before_retry_after():
    b = Backoff()
    b.failed(100.0, 0.5, 8.0)
    assert b.not_before == 100.5
    b.failed(100.0, 0.5, 8.0)
    b.failed(100.0, 0.5, 8.0)
    assert b.not_before == 102.0
    for _ in range(10):
        b.failed(100.0, 0.5, 8.0)
    assert b.not_before == 108.0  # capped
    b.failed(100.0, 0.5, 8.0, retry_after_s=30.0)
    assert b.not_before == 130.0
    b.succeeded()
    assert (b.failures, b.not_before) == (0, 0.0)
