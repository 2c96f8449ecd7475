"""Remediation: every step of the decision table has its remedy in both languages; the
remedies name the facts that make them concrete; suggestions are what the rules accept."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.errors import CATALOGUE
from services.domain.alternatives import (
    organisation_of,
    organisation_pla_ids,
    passing_alternatives,
)
from services.domain.authority import Answer
from services.domain.explain import explain
from services.domain.por_rules import (
    STEPS,
    Distributor,
    PartnerAccount,
    Registry,
    ResellerTenant,
    evaluate_por,
)
from services.domain.remediation import (
    AUDIENCE,
    MPA_SIGNED,
    PARTNER_CENTER_CODE,
    STEP_FOR_CODE,
    Context,
    Remediation,
    Remedy,
    parts_for,
    remediate,
)
from services.rendering.remediation import fill, remedy_words, to_html, to_json, to_text
from services.rendering.remediation_text import TEXT
from tests.unit.test_explain import FAILING_STEPS
from tests.unit.test_por_rules import DIST, PID, ROWS, TEN, registry

LANGUAGES = ("en", "ja")
EXTRA_CHECKS = (PARTNER_CENTER_CODE, MPA_SIGNED)
# Every placeholder a remedy may use, filled so that a missing one raises (KeyError).
FACTS = {
    "pid": "1234567",
    "distributor": DIST,
    "url": "https://partner.example/invite?x=1",
    "tenant_region": "Japan",
    "distributor_region": "Europe",
    "tenant_state": "suspended",
    "org_ids": "2345678",
    "region_ids": "2345678",
    "code": "900999",
    "description": "Partner Center's own words.",
}


def only_remedy(result: Remediation) -> tuple[Remedy, str, tuple[str, ...]]:
    """The one remedy, with its cause and actions in the result's language."""
    (remedy,) = result.remedies
    return (remedy, *remedy_words(remedy, result.language))


# ----------------------------------------------------------------------------- the table


@pytest.mark.parametrize("step", STEPS, ids=[s.check for s in STEPS])
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_step_of_the_decision_table_has_its_remedy_in_both_languages(step, language):
    parts = TEXT[language].get(step.check)
    assert parts is not None, f"step {step.number} ({step.check}) has no {language} remedy"
    assert step.check in AUDIENCE
    for facts in (FACTS, {**FACTS, "org_ids": "", "region_ids": "", "url": ""}):
        chosen = parts_for(step.check, facts)
        assert chosen and all(parts[p] for p in chosen)
        assert fill(str(parts["cause"]), facts).strip()
        for part in chosen:
            assert all(fill(a, facts).strip() for a in parts[part])


@pytest.mark.parametrize("check", [s.check for s in STEPS] + list(EXTRA_CHECKS))
def test_each_remedy_has_the_same_parts_and_placeholders_in_english_and_japanese(check):
    en, ja = TEXT["en"][check], TEXT["ja"][check]
    assert set(en) == set(ja)
    for part in en:
        en_items = [en[part]] if isinstance(en[part], str) else list(en[part])
        ja_items = [ja[part]] if isinstance(ja[part], str) else list(ja[part])
        assert len(en_items) == len(ja_items), part

        def fields(items):
            return {f for t in items for _, f, _, _ in string.Formatter().parse(t) if f}

        assert fields(en_items) == fields(ja_items), part
        assert fields(en_items) <= set(FACTS)


def test_nothing_but_the_tables_steps_and_the_two_extra_checks_has_text():
    for language in LANGUAGES:
        assert set(TEXT[language]) == {s.check for s in STEPS} | set(EXTRA_CHECKS)


def test_every_catalogue_code_maps_to_a_step_that_yields_it():
    assert set(STEP_FOR_CODE) == {int(c) for c in CATALOGUE}
    by_number = {s.number: s for s in STEPS}
    for code, number in STEP_FOR_CODE.items():
        assert int(by_number[number].code) == code


@pytest.mark.parametrize(("name", "kw", "codes"), ROWS, ids=[r[0] for r in ROWS])
@pytest.mark.parametrize("language", LANGUAGES)
def test_each_row_of_the_table_gets_one_remedy_per_failed_step(name, kw, codes, language):
    result = remediate(PID, DIST, registry(**kw), language)
    assert result.error_codes == tuple(codes)
    assert {m.step for m in result.remedies} == FAILING_STEPS[name]
    text = to_text(result)
    for m in result.remedies:
        cause, actions = remedy_words(m, result.language)
        assert cause in text and all(a in text for a in actions)
        assert m.audience == AUDIENCE[m.check] and m.code is not None
        if "{pid}" in str(TEXT[language][m.check]["cause"]):
            assert PID in cause


# ----------------------------------------------------------------------------- the facts


def organisation() -> Registry:
    """A PGA 1000001 with PLA 1234567 (Japan), 2345678 (Europe, partnered) and 3456789
    (Europe, no partnership); the distributor is in Europe."""
    r = Registry()
    r.accounts["1000001"] = PartnerAccount("1000001", "PGA", True)
    for pid, tenant, region in (
        (PID, TEN, "Japan"),
        ("2345678", "ten-2", "Europe"),
        ("3456789", "ten-3", "Europe"),
    ):
        r.accounts[pid] = PartnerAccount(pid, "PLA", True, tenant, "1000001")
        r.tenants[tenant] = ResellerTenant(tenant, "csp_indirect_reseller", "active", True, region)
    r.distributors[DIST] = Distributor(DIST, "Europe")
    r.active_partnerships |= {(DIST, TEN), (DIST, "ten-2")}
    return r


def test_a_region_mismatch_names_both_regions_and_the_organisations_ids_in_the_distributors():
    r = organisation()
    remedy, cause, actions = only_remedy(remediate(PID, DIST, r, "en"))
    assert remedy.code == 900152 and "Japan" in cause and "Europe" in cause
    assert "2345678, 3456789" in actions[0]


def test_a_region_mismatch_without_an_id_in_the_region_says_to_onboard_there():
    r = organisation()
    del r.accounts["2345678"], r.accounts["3456789"]
    _, _, actions = only_remedy(remediate(PID, DIST, r, "ja"))
    assert "オンボード" in actions[0] and "Europe" in actions[0]


def test_a_pga_id_lists_the_organisations_pla_ids():
    remedy, _, actions = only_remedy(remediate("1000001", DIST, organisation(), "en"))
    assert remedy.step == 3 and f"{PID}, 2345678, 3456789" in actions[0]


def test_a_missing_partnership_gives_the_articles_steps_and_the_distributors_own_link():
    r = registry(partnership=False)
    url = "https://partner.example/invite?code=a&b=<c>"
    for language, word in (("en", "Request a partnership"), ("ja", "パートナーシップを要求します")):
        result = remediate(PID, DIST, r, language, Context(partnership_request_url=url))
        remedy, _, actions = only_remedy(result)
        assert remedy.audience == "distributor" and any(word in a for a in actions)
        assert actions[-1].endswith(url)
        assert '<a href="https://partner.example/invite?code=a&amp;b=&lt;c&gt;">' in to_html(result)
    _, _, actions = only_remedy(remediate(PID, DIST, r, "en"))
    assert "partnershipRequestUrl" in actions[-1]


def test_a_code_partner_center_has_and_porgate_has_not_passes_its_description_verbatim():
    answer = Answer(PID, False, 900999, "Some {new} reason Microsoft gives.")
    result = remediate(PID, DIST, registry(), "ja", Context(partner_center=answer))
    remedy, cause, actions = only_remedy(result)
    assert result.authority == "partner_center" and result.error_codes == (900999,)
    assert remedy.check == PARTNER_CENTER_CODE and cause == answer.error_description
    assert "900999" in actions[0] and "パートナー センター" in actions[0]


def test_partner_centers_code_uses_the_registrys_failed_step_where_they_agree_else_its_own():
    direct_bill = registry(kind="direct_bill")
    answer = Answer(PID, False, 900414, "x")
    (remedy,) = remediate(PID, DIST, direct_bill, "en", Context(partner_center=answer)).remedies
    assert remedy.step == 6
    (remedy,) = remediate(PID, DIST, registry(), "en", Context(partner_center=answer)).remedies
    assert remedy.step == 8


def test_an_unsigned_mpa_is_named_as_the_cause_when_partner_center_blocks():
    answer = Answer(PID, False, 900414, "x")
    context = Context(partner_center=answer, mpa_signed=False)
    for language, words in (
        ("en", "MPA not signed in this region"),
        ("ja", "MPA が署名されていません"),
    ):
        result = remediate(PID, DIST, registry(), language, context)
        cause, _ = remedy_words(result.remedies[0], result.language)
        assert result.remedies[0].check == MPA_SIGNED and words in cause
        assert to_json(result)["mpaSigned"] is False
    passing = Context(partner_center=Answer(PID, True), mpa_signed=False)
    assert remediate(PID, DIST, registry(), "en", passing).remedies == ()


def test_a_decisions_own_walk_gives_the_remedies_though_the_registry_has_moved_on():
    # The notifier writes the message after the decision: its failed steps are the decision's.
    walk = explain(PID, DIST, registry(status="suspended"))
    result = remediate(PID, DIST, registry(), "en", Context(walk=walk))
    assert result.error_codes == (900400,) and [m.step for m in result.remedies] == [5]
    assert "suspended" in remedy_words(result.remedies[0], "en")[0]
    assert remediate(PID, DIST, registry(), "en").valid


def test_a_valid_id_needs_nothing_and_says_so():
    result = remediate(PID, DIST, registry(), "en", Context(suggestions=("2345678",)))
    assert result.valid and result.remedies == () and result.suggestions == ()
    assert "nothing to do" in to_text(result)


def test_the_json_and_the_text_carry_the_same_message():
    result = remediate(PID, DIST, organisation(), "en", Context(suggestions=("2345678",)))
    body = to_json(result)
    assert body["message"] == to_text(result)
    assert body["suggestedPartnerIds"] == ["2345678"] and "2345678" in body["message"]
    assert body["recheck"] in body["message"]


def test_braces_in_a_malformed_id_are_not_read_as_a_template():
    result = remediate("{distributor}", DIST, Registry(), "en")
    assert "{distributor}" in remedy_words(result.remedies[0], "en")[0]


# ----------------------------------------------------------------------------- suggestions


@st.composite
def organisations(draw):
    """A registry of several organisations, each a PGA and PLAs in assorted states."""
    r = Registry()
    pgas = draw(st.lists(st.from_regex(r"1[0-9]{5}", fullmatch=True), min_size=1, max_size=3))
    for pga in pgas:
        r.accounts[pga] = PartnerAccount(pga, "PGA", True)
    plas = draw(st.lists(st.from_regex(r"2[0-9]{5}", fullmatch=True), max_size=8, unique=True))
    for n, pid in enumerate(plas):
        tenant = f"t{n}"
        r.accounts[pid] = PartnerAccount(
            pid,
            "PLA",
            draw(st.booleans()),
            draw(st.sampled_from([tenant, None, "t-missing"])),
            draw(st.sampled_from([*pgas, None])),
        )
        r.tenants[tenant] = ResellerTenant(
            tenant,
            draw(st.sampled_from(["csp_indirect_reseller", "direct_bill"])),
            draw(st.sampled_from(["active", "suspended", "pending_onboarding", "deleted"])),
            draw(st.booleans()),
            draw(st.sampled_from([None, "Europe", "Japan"])),
        )
        if draw(st.booleans()):
            r.active_partnerships.add((DIST, tenant))
    if draw(st.booleans()):
        r.distributors[DIST] = Distributor(DIST, draw(st.sampled_from([None, "Europe", "Japan"])))
    return r


@settings(max_examples=300, deadline=None)
@given(organisations(), st.data())
def test_every_suggestion_passes_and_no_passing_id_of_the_organisation_is_missed(r, data):
    pid = data.draw(st.sampled_from(sorted(r.accounts)))
    suggested = passing_alternatives(r, pid, DIST)
    for s in suggested:
        assert evaluate_por(s, DIST, r) == ()
    organisation = organisation_of(r, pid)
    expected = sorted(
        a.partner_id
        for a in r.accounts.values()
        if organisation is not None
        and a.partner_id != pid
        and a.global_partner_id == organisation
        and evaluate_por(a.partner_id, DIST, r) == ()
    )
    assert suggested == expected


@settings(max_examples=200, deadline=None)
@given(organisations(), st.data())
def test_with_partner_center_as_the_authority_its_answers_decide_the_suggestions(r, data):
    pid = data.draw(st.sampled_from(sorted(r.accounts)))
    candidates = organisation_pla_ids(r, pid)
    valid = (
        set(data.draw(st.lists(st.sampled_from(candidates), unique=True))) if candidates else set()
    )
    suggested = passing_alternatives(r, pid, DIST, passes=valid.__contains__)
    assert suggested == sorted(valid)


# ----------------------------------------------------------------------------- the words


def test_the_remedies_are_the_same_in_every_language_and_only_their_words_differ():
    r = registry(status="suspended")
    en, ja = remediate(PID, DIST, r, "en"), remediate(PID, DIST, r, "ja")
    assert en.remedies == ja.remedies and en.remedies
    assert remedy_words(en.remedies[0], "en") != remedy_words(ja.remedies[0], "ja")


@pytest.mark.parametrize(
    ("language", "state", "region", "description"),
    [
        ("en", "suspended", "an unknown region", "Partner Center gave no description."),
        ("ja", "停止", "不明なリージョン", "パートナー センターの説明はありません。"),
    ],
)
def test_states_unknown_regions_and_missing_descriptions_are_worded_in_the_language(
    language, state, region, description
):
    facts = {**FACTS, "tenant_state": "suspended", "tenant_region": "", "description": ""}
    cause, _ = remedy_words(Remedy("tenant_active", 5, 900400, "reseller", (), facts), language)
    assert state in cause
    cause, _ = remedy_words(Remedy("same_csp_region", 9, 900152, "reseller", (), facts), language)
    assert region in cause
    cause, _ = remedy_words(
        Remedy(PARTNER_CENTER_CODE, None, 1, "distributor", (), facts), language
    )
    assert cause == description
