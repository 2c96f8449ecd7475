"""The explanation walks the same table as the validator: every row, every generated registry."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.errors import CATALOGUE
from contracts.events import DecisionLine, ExplainedFact, ExplainedStep
from services.domain.explain import Provenance, explain, from_wire, to_wire
from services.domain.por_rules import STEPS, evaluate_por
from services.rendering.explanation import render
from tests.unit.test_por_rules import (
    COMBOS,
    DIST,
    PID,
    ROWS,
    TEN,
    TEXT,
    registries,
    registry,
    registry_for_combo,
)

# The step that fails in each single-fault row of test_por_rules' table.
FAILING_STEPS = {
    "valid": set(),
    "4 inactive PLA": {4},
    "5 no tenant linked": {5, 8},
    "5 tenant missing": {5},
    "5 tenant suspended": {5},
    "5 tenant deleted": {5},
    "5 tenant pending onboarding": {5},
    "6 direct-bill tenant": {6},
    "7 not authorized": {7},
    "8 no partnership": {8},
    "9 region mismatch": {9},
    "9 tenant region unknown": set(),
    "9 distributor without region": set(),
    "unknown distributor: no partnerships, no region": {8},
}


@pytest.mark.parametrize(("name", "kw", "codes"), ROWS, ids=[r[0] for r in ROWS])
def test_each_row_fails_exactly_its_step_with_the_rows_codes(name, kw, codes):
    e = explain(PID, DIST, registry(**kw))
    assert tuple(e.codes) == codes
    assert {s.step for s in e.steps if s.outcome == "fail"} == FAILING_STEPS[name]
    assert [s.step for s in e.steps] == list(range(1, 10))
    # A tenant step that applied leaves the later alternatives unevaluated; nothing else is.
    skipped = {s.step for s in e.steps if s.outcome == "skipped"}
    tenant_failed = FAILING_STEPS[name] & {5, 6, 7}
    assert skipped == (set(range(min(tenant_failed) + 1, 8)) if tenant_failed else set())
    for s in e.steps:
        assert (s.code is not None) is (s.outcome == "fail")
        assert (s.outcome == "skipped") is (not s.facts)


@pytest.mark.parametrize(
    ("pid", "stop_at"), [("12ab", 1), (None, 1), ("7654321", 2), (PID, 3)], ids=str
)
def test_a_stopping_step_skips_everything_after_it(pid, stop_at):
    e = explain(pid, DIST, registry(account_type="PGA", active=False))
    assert e.codes == [800016]
    assert [s.outcome for s in e.steps] == ["pass"] * (stop_at - 1) + ["fail"] + ["skipped"] * (
        9 - stop_at
    )


@pytest.mark.parametrize("combo", COMBOS)
def test_every_combination_explains_the_validators_codes(combo):
    r = registry_for_combo(combo)
    assert explain(PID, DIST, r).codes == [int(c) for c in evaluate_por(PID, DIST, r)]


@settings(max_examples=300, deadline=None)
@given(registries(), TEXT, st.data())
def test_for_every_pla_id_of_a_generated_registry_the_explanation_codes_are_the_decisions(
    reg_ids, extra, data
):
    reg, ids = reg_ids
    distributors = [DIST, "dist-unknown", data.draw(st.text(max_size=6))]
    for pid in [*ids, extra, *(f" {i} " for i in ids)]:
        for did in distributors:
            e = explain(pid, did, reg)
            assert e.codes == [int(c) for c in evaluate_por(pid, did, reg)], (pid, did)
            failed = [s for s in e.steps if s.outcome == "fail"]
            assert all(s.code == STEPS[s.step - 1].code for s in failed)


def test_facts_of_the_distributors_own_rows_carry_their_provenance():
    at = datetime(2026, 1, 10, 9, tzinfo=UTC)
    provenance = {
        ("partnership", DIST, TEN): Provenance(at, "evt-partnership"),
        ("distributor", DIST): Provenance(at, None),
    }
    e = explain(PID, DIST, registry(tenant_region="Japan"), provenance)
    facts = {f.fact: f for s in e.steps for f in s.facts}
    assert facts["partnerIdOnRecord"].event_id is None  # the transaction's input
    assert facts["resellerTenant.cspRegion"].value == "Japan"
    assert facts["partnership.active"].event_id == "evt-partnership"
    assert facts["partnership.active"].as_of == at
    assert facts["distributor.cspRegion"].as_of == at
    assert facts["distributor.cspRegion"].event_id is None


FOREIGN = "dist-other"


def _shared_and_foreign_provenance(at: datetime) -> dict:
    # Rows every distributor shares (an account, a tenant: another distributor's sync may
    # have set them) and rows of another distributor.
    return {
        ("partnerAccount", PID): Provenance(at, "evt-other-sync-account"),
        ("resellerTenant", TEN): Provenance(at, "evt-other-sync-tenant"),
        ("partnership", FOREIGN, TEN): Provenance(at, "evt-other-partnership"),
        ("distributor", FOREIGN): Provenance(at, "evt-other-distributor"),
        ("partnership", DIST, TEN): Provenance(at, "evt-own-partnership"),
    }


def _provenance_shown(steps) -> set:
    return {
        (f["fact"], f["asOf"], f["eventId"])
        for s in steps
        for f in s["facts"]
        if f["asOf"] is not None or f["eventId"] is not None
    }


def test_an_explanation_reveals_no_provenance_the_callers_distributor_did_not_set():
    at = datetime(2026, 1, 10, 9, tzinfo=UTC)
    e = explain(PID, DIST, registry(tenant_region="Japan"), _shared_and_foreign_provenance(at))
    shown = _provenance_shown(render(e, "en")["steps"])
    assert shown == {("partnership.active", "2026-01-10T09:00:00Z", "evt-own-partnership")}


def test_a_stored_walk_that_named_shared_rows_events_is_shown_without_them():
    # A decision decided before the rule carries the ids and times of shared rows: the
    # console, the notifier and the CLI render it through from_wire, which drops them.
    at = datetime(2026, 1, 10, 9, tzinfo=UTC)
    reg = registry(tenant_region="Japan")
    leaky = explain(PID, DIST, reg)
    leaky_wire = [
        step.model_copy(
            update={
                "facts": [
                    f.model_copy(update={"as_of": at, "event_id": "evt-x"}) for f in step.facts
                ]
            }
        )
        for step in to_wire(leaky)
    ]
    shown = _provenance_shown(render(from_wire(PID, DIST, leaky_wire), "en")["steps"])
    assert {fact for fact, _, _ in shown} <= {
        "partnership.active",
        "distributor.known",
        "distributor.cspRegion",
    }
    assert ("partnership.active", "2026-01-10T09:00:00Z", "evt-x") in shown


@pytest.mark.parametrize("language", ["en", "ja", "ja-JP", "fr"])
def test_rendering_gives_each_failed_step_its_catalogue_text_in_the_language(language):
    e = explain(PID, DIST, registry(status="suspended", tenant_region="Japan"))
    out = render(e, language)
    lang = "ja" if language.startswith("ja") else "en"
    assert out["language"] == lang and out["errorCodes"] == [900400, 900152]
    assert out["isValidPartnerIdOnRecord"] is False
    for step in out["steps"]:
        assert step["condition"]
        if step["outcome"] == "fail":
            text = CATALOGUE[step["errorCode"]].text(lang)
            assert step["message"] == text.message
            assert step["remediation"] == list(text.remediation)
        else:
            assert step["message"] is None and step["remediation"] == []
    if lang == "ja":
        assert "リージョン" in out["steps"][8]["condition"]
    json.dumps(out)  # the API's and the CLI's JSON


def test_the_wire_form_round_trips_through_a_decision_line():
    at = datetime(2026, 1, 10, 9, tzinfo=UTC)
    e = explain(PID, DIST, registry(active=False), {("partnerAccount", PID): Provenance(at, "x")})
    line = DecisionLine(
        line_item_id="1",
        partner_id_on_record=PID,
        error_codes=e.codes,
        errors=[],
        explanation=to_wire(e),
    )
    back = DecisionLine.model_validate_json(line.model_dump_json(by_alias=True))
    assert from_wire(PID, DIST, back.explanation) == e


@pytest.mark.parametrize("language", ["en", "ja"])
def test_a_blocked_notification_renders_each_lines_walk_in_the_distributors_language(language):
    from contracts.events import ValidationLine, ValidationRequested
    from services.domain.decisions import decision_line, make_decision
    from services.notifier.notifications import transaction_blocked

    at = datetime(2026, 1, 10, 9, tzinfo=UTC)
    reg = registry(kind="direct_bill", tenant_region="Japan")
    walk = explain(PID, DIST, reg)
    line = decision_line("1", PID, evaluate_por(PID, DIST, reg))
    line = line.model_copy(update={"explanation": to_wire(walk)})
    request = ValidationRequested(
        source_event_id="evt-1",
        transaction_kind="new_order",
        order_id="ord-1",
        distributor_id=DIST,
        customer_id="cust-1",
        requested_at=at,
        lines=[ValidationLine(line_item_id="1", partner_id_on_record=PID)],
    )
    decision = make_decision(request, basis="validated", lines=[line], decided_at=at)
    payload = transaction_blocked(
        decision, cause_event_id="evt-1", language=language, created_at=at
    ).payload
    steps = payload["lines"][0]["explanation"]
    assert steps == render(walk, language)["steps"]
    failed = [s for s in steps if s["outcome"] == "fail"]
    assert [s["errorCode"] for s in failed] == [900414, 900152]
    assert failed[0]["message"] == CATALOGUE[900414].text(language).message
    # A decision from before explanations: the line says so with null.
    old = decision.model_copy(update={"lines": [line.model_copy(update={"explanation": None})]})
    payload = transaction_blocked(old, cause_event_id="e", language=language, created_at=at).payload
    assert payload["lines"][0]["explanation"] is None


def test_blocked_lines_carry_their_walk_up_to_a_bound_and_accepted_lines_none():
    from contracts.events import ValidationLine, ValidationRequested
    from services.domain.decisions import MAX_EXPLAINED_LINES, decide

    at = datetime(2026, 1, 10, 9, tzinfo=UTC)
    reg = registry(active=False)
    pids = [PID, "12ab"] + [PID] * (MAX_EXPLAINED_LINES + 5)
    valid = registry()
    requests = [
        ValidationRequested(
            source_event_id=f"evt-{n}",
            transaction_kind="new_order",
            order_id=f"ord-{n}",
            distributor_id=DIST,
            customer_id="cust-1",
            requested_at=at,
            lines=[
                ValidationLine(line_item_id=str(i), partner_id_on_record=p)
                for i, p in enumerate(ps)
            ],
        )
        for n, ps in enumerate([pids, [PID]])
    ]
    big = decide(requests[0], reg, enforcement_start=at, decided_at=at, provenance={})
    fine = decide(requests[1], valid, enforcement_start=at, decided_at=at, provenance={})
    assert [line.explanation for line in fine.lines] == [None]
    walks = [line.explanation for line in big.lines]
    assert all(w is not None for w in walks[:MAX_EXPLAINED_LINES])
    assert walks[MAX_EXPLAINED_LINES:] == [None] * (len(pids) - MAX_EXPLAINED_LINES)
    for line, walk in zip(big.lines, walks[:MAX_EXPLAINED_LINES], strict=False):
        assert {s.error_code for s in walk if s.outcome == "fail"} == set(line.error_codes)
    # Without the registry's provenance no walk is attached (automatic release's accepted
    # decisions need none), and in observe mode no line is blocked, so none carries one.
    assert all(
        line.explanation is None
        for line in decide(requests[0], reg, enforcement_start=at, decided_at=at).lines
    )
    observed = decide(
        requests[0], reg, enforcement_start=at, decided_at=at, provenance={}, mode="observe"
    )
    assert observed.would_block and all(line.explanation is None for line in observed.lines)


@given(reg_ids=registries(), at=st.datetimes(timezones=st.just(UTC)), event=st.text(max_size=8))
@settings(max_examples=50, deadline=None)
def test_a_walk_on_the_wire_is_the_one_built_anew_whatever_the_walks_before_it(reg_ids, at, event):
    # to_wire shares each step's model between the decisions that carry it (a cache): a
    # walk must come out as it would built afresh, with its own provenance, whichever walks
    # filled the cache before it.
    reg, ids = reg_ids
    for pid in ids:
        for provenance in ({}, {("partnership", DIST, TEN): Provenance(at, event or None)}):
            e = explain(pid, DIST, reg, provenance)
            fresh = [
                ExplainedStep(
                    step=s.step,
                    check=s.check,
                    outcome=s.outcome,
                    error_code=s.code,
                    facts=[
                        ExplainedFact(
                            fact=f.fact, value=f.value, as_of=f.as_of, event_id=f.event_id
                        )
                        for f in s.facts
                    ],
                )
                for s in e.steps
            ]
            wire = to_wire(e)
            assert wire == fresh
            assert [s.model_dump_json(by_alias=True) for s in wire] == [
                s.model_dump_json(by_alias=True) for s in fresh
            ]
