"""Partner Center as the authority: agreement, drift, fallback and the decision's fields. Pure."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.codec import decode, encode, new_event
from contracts.events import OrderLineItem, OrderPlaced
from contracts.topics import DECISIONS
from services.domain.authority import (
    CODE_WHEN_NONE_GIVEN,
    Answer,
    Drift,
    agree,
    drifts,
    partner_ids_to_ask,
)
from services.domain.decisions import decide
from services.order_intake.intake import validation_request
from tests.unit.test_decisions import START, D, registry
from tests.unit.test_por_rules import DIST, registries

NOW = datetime(2026, 1, 10, 9, tzinfo=UTC)
VALID = Answer("1000001", True)


def order(*pids, placed_at=NOW, distributor=D):
    return validation_request(
        OrderPlaced(
            order_id="o-1",
            distributor_id=distributor,
            customer_id="c",
            placed_at=placed_at,
            line_items=[
                OrderLineItem(line_item_id=str(i), offer_id="x", quantity=1, partner_id_on_record=p)
                for i, p in enumerate(pids)
            ],
        ),
        "evt-1",
    )


def by_partner_center(request, answers, reg=None, mode="enforce"):
    return decide(
        request,
        reg or registry(),
        answers={a.partner_id: a for a in answers},
        enforcement_start=START,
        decided_at=NOW,
        mode=mode,
    )


@pytest.mark.parametrize(
    ("partner_center", "registry_codes", "agreed"),
    [
        ((), (), True),
        ((900400,), (900400, 900152), True),
        ((900152,), (900400, 900152), True),
        ((900151,), (900400,), False),
        ((), (900151,), False),
        ((900151,), (), False),
        ((999999,), (900151,), False),
    ],
)
def test_agreement_follows_partner_centers_rule(partner_center, registry_codes, agreed):
    assert agree(partner_center, registry_codes) is agreed


def test_partner_centers_code_decides_and_the_registrys_rides_along():
    # 1000001 is valid in the registry; Partner Center says its tenant is not active.
    d = by_partner_center(order("1000001"), [Answer("1000001", False, 900400, "not linked")])
    assert (d.outcome, d.error_codes, d.authority, d.registry_drift) == (
        "blocked",
        [900400],
        "partner_center",
        True,
    )
    line = d.lines[0]
    assert (line.error_codes, line.registry_error_codes) == ([900400], [])
    assert line.errors[0].remediation  # the catalogue's words for a code it knows
    assert drifts(d) == [Drift("1000001", 900400, ())]


def test_partner_center_accepting_what_the_registry_blocks_is_drift_and_accepted():
    # 1000002 is inactive in the registry.
    d = by_partner_center(order("1000002"), [Answer("1000002", True)])
    assert (d.outcome, d.error_codes, d.registry_drift) == ("accepted", [], True)
    assert d.lines[0].registry_error_codes == [900151]
    assert drifts(d) == [Drift("1000002", None, (900151,))]


def test_agreeing_answers_are_no_drift():
    d = by_partner_center(order("1000001", "1000003"), [VALID, Answer("1000003", False, 900152)])
    assert (d.outcome, d.registry_drift, drifts(d)) == ("blocked", False, [])
    assert [line.registry_error_codes for line in d.lines] == [[], [900400, 900152]]
    assert d.error_codes == [900152]


def test_a_line_without_an_answer_falls_back_to_the_registry_and_says_so():
    d = by_partner_center(order("1000001", "1000002"), [VALID])
    assert d.authority == "registry_fallback"
    assert [line.error_codes for line in d.lines] == [[], [900151]]
    # The fallen-back line was decided by the registry: nothing rides along.
    assert [line.registry_error_codes for line in d.lines] == [[], None]
    assert d.registry_drift is False


def test_a_code_the_catalogue_does_not_know_keeps_partner_centers_words():
    d = by_partner_center(order("1000001"), [Answer("1000001", False, 900999, "New reason.")])
    assert d.error_codes == [900999] and d.primary_error_code == 900999
    assert (d.lines[0].errors[0].message, d.lines[0].errors[0].remediation) == ("New reason.", [])


def test_unknown_codes_sort_after_the_catalogues():
    d = by_partner_center(
        order("1000001", "1000002"),
        [Answer("1000001", False, 900999), Answer("1000002", False, 900151)],
    )
    assert d.error_codes == [900151, 900999]


def test_invalid_without_a_code_is_the_most_general_code():
    assert Answer("1", False).codes == (CODE_WHEN_NONE_GIVEN,)
    assert VALID.codes == ()


def test_malformed_and_missing_ids_are_decided_by_their_shape_without_asking():
    request = order(None, "garbage", " 1000001 ")
    assert partner_ids_to_ask(request, START) == {"1000001"}
    d = by_partner_center(request, [VALID])
    assert [line.error_codes for line in d.lines] == [[800016], [800016], []]
    assert (d.authority, d.registry_drift) == ("partner_center", False)


def test_exempt_transactions_ask_nothing():
    request = order("1000002", placed_at=START - timedelta(days=1))
    assert partner_ids_to_ask(request, START) == set()
    d = by_partner_center(request, [])
    assert (d.outcome, d.basis, d.authority) == ("accepted", "before_enforcement", "partner_center")


def test_the_decision_id_does_not_depend_on_the_authority():
    request = order("1000001")
    by_registry = decide(request, registry(), enforcement_start=START, decided_at=NOW)
    assert by_partner_center(request, [VALID]).decision_id == by_registry.decision_id
    assert (by_registry.authority, by_registry.registry_drift) == ("registry", False)
    assert by_registry.lines[0].registry_error_codes is None


def test_drifts_lists_each_pair_once():
    d = by_partner_center(order("1000001", " 1000001"), [Answer("1000001", False, 900400)])
    assert drifts(d) == [Drift("1000001", 900400, ())]


def test_the_new_fields_travel_on_the_wire_in_camel_case_and_back():
    d = by_partner_center(order("1000001"), [Answer("1000001", False, 900400)])
    raw = encode(new_event(d, source="/test"))
    assert b'"registryDrift":true' in raw and b'"authority":"partner_center"' in raw
    assert b'"registryErrorCodes":[]' in raw
    back = decode(raw, DECISIONS.name).data
    assert back == d


@settings(max_examples=300, deadline=None)
@given(registries(), st.data())
def test_answers_that_agree_with_the_registry_never_drift(reg_ids, data):
    reg, ids = reg_ids
    pids = data.draw(st.lists(st.sampled_from(ids), min_size=1, max_size=4)) if ids else ["12345"]
    request = order(*pids, distributor=DIST)
    by_registry = decide(request, reg, enforcement_start=START, decided_at=NOW)
    answers = {}
    for line in by_registry.lines:
        pid = line.partner_id_on_record.strip()
        # Partner Center names one of the registry's codes: which one is its choice.
        code = data.draw(st.sampled_from(line.error_codes)) if line.error_codes else None
        answers[pid] = Answer(pid, code is None, code)
    d = decide(request, reg, answers=answers, enforcement_start=START, decided_at=NOW)
    assert d.registry_drift is False and drifts(d) == []
    assert d.outcome == by_registry.outcome
    assert [line.registry_error_codes for line in d.lines] == [
        line.error_codes for line in by_registry.lines
    ]


@settings(max_examples=300, deadline=None)
@given(registries(), st.data())
def test_the_outcome_is_always_partner_centers(reg_ids, data):
    reg, ids = reg_ids
    pids = data.draw(st.lists(st.sampled_from(ids), min_size=1, max_size=4)) if ids else ["12345"]
    request = order(*pids, distributor=DIST)
    valid = {pid: data.draw(st.booleans()) for pid in pids}
    answers = {pid: Answer(pid, ok, None if ok else 900400) for pid, ok in valid.items()}
    d = decide(request, reg, answers=answers, enforcement_start=START, decided_at=NOW)
    assert d.outcome == ("accepted" if all(valid.values()) else "blocked")
    assert d.authority == "partner_center"


def test_observe_mode_keeps_the_drift_partner_center_and_the_registry_had():
    # Partner Center and the registry agree on 900152: no drift, observed or not.
    agreeing = by_partner_center(order("1000003"), [Answer("1000003", False, 900152)])
    observed = by_partner_center(
        order("1000003"), [Answer("1000003", False, 900152)], mode="observe"
    )
    assert observed.would_block and drifts(observed) == drifts(agreeing) == []
    # Partner Center blocks what the registry accepts: the same drift, observed or not.
    drifting = by_partner_center(order("1000001"), [Answer("1000001", False, 900400)])
    seen = by_partner_center(order("1000001"), [Answer("1000001", False, 900400)], mode="observe")
    assert seen.registry_drift and seen.would_block
    assert drifts(seen) == drifts(drifting) == [Drift("1000001", 900400, ())]
