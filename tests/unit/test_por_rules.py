"""The decision table of domain.md, row by row, and every combination it allows."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.domain.por_rules import (
    Distributor,
    PartnerAccount,
    Registry,
    ResellerTenant,
    evaluate_por,
    normalize_partner_id,
    union_codes,
)

DIST = "dist-eu-1"
PID = "1234567"
TEN = "ten-1"


def registry(
    *,
    account_type="PLA",
    active=True,
    tenant_link=True,
    tenant="present",  # present | missing
    kind="csp_indirect_reseller",
    status="active",
    authorized=True,
    partnership=True,
    tenant_region="Europe",
    distributor="known",  # known | unknown | no_region
) -> Registry:
    r = Registry()
    r.accounts[PID] = PartnerAccount(PID, account_type, active, TEN if tenant_link else None)
    if tenant == "present":
        r.tenants[TEN] = ResellerTenant(TEN, kind, status, authorized, tenant_region)
    if distributor == "known":
        r.distributors[DIST] = Distributor(DIST, "Europe")
    elif distributor == "no_region":
        r.distributors[DIST] = Distributor(DIST, None)
    if partnership and distributor != "unknown":
        r.active_partnerships.add((DIST, TEN))
    return r


# Each row of the table, alone.
ROWS = [
    ("valid", {}, ()),
    ("4 inactive PLA", {"active": False}, (900151,)),
    ("5 no tenant linked", {"tenant_link": False}, (900400, 900414)),
    ("5 tenant missing", {"tenant": "missing"}, (900400,)),
    ("5 tenant suspended", {"status": "suspended"}, (900400,)),
    ("5 tenant deleted", {"status": "deleted"}, (900400,)),
    ("5 tenant pending onboarding", {"status": "pending_onboarding"}, (900400,)),
    ("6 direct-bill tenant", {"kind": "direct_bill"}, (900414,)),
    ("7 not authorized", {"authorized": False}, (900154,)),
    ("8 no partnership", {"partnership": False}, (900414,)),
    ("9 region mismatch", {"tenant_region": "Japan"}, (900152,)),
    ("9 tenant region unknown", {"tenant_region": None}, ()),
    ("9 distributor without region", {"distributor": "no_region", "tenant_region": "Japan"}, ()),
    (
        "unknown distributor: no partnerships, no region",
        {"distributor": "unknown", "tenant_region": "Japan"},
        (900414,),
    ),
]


@pytest.mark.parametrize(("name", "kw", "codes"), ROWS, ids=[r[0] for r in ROWS])
def test_each_row(name, kw, codes):
    assert evaluate_por(PID, DIST, registry(**kw)) == codes


@pytest.mark.parametrize(
    "pid",
    [
        None,
        "",
        "   ",
        "1234",
        "12345678901",
        "12a4567",
        "-123456",
        "1234567.0",
        "١٢٣٤٥٦٧",
        "１２３４５６７",
        "123 4567",
        1234567,
    ],
)
def test_step1_malformed_stops(pid):
    # Even a registry where everything else is wrong reports only 800016.
    assert evaluate_por(
        pid, DIST, registry(active=False, status="suspended", tenant_region="Japan")
    ) == (800016,)


def test_step1_trims_surrounding_whitespace():
    assert normalize_partner_id("  1234567\t") == "1234567"
    assert evaluate_por(" 1234567 ", DIST, registry()) == ()
    assert (
        normalize_partner_id("12345") == "12345"
        and normalize_partner_id("1234567890") == "1234567890"
    )


def test_step2_unknown_id_stops():
    assert evaluate_por("7654321", DIST, registry(active=False)) == (800016,)


def test_step3_pga_stops():
    assert evaluate_por(
        PID, DIST, registry(account_type="PGA", active=False, partnership=False)
    ) == (800016,)


# Every combination the "alternatives" and "stop" rules allow, against an oracle written
# straight from the table's prose.
def oracle(active, tenant_state, kind, authorized, partnership, tenant_region, dist_state):
    codes = []
    if not active:
        codes.append(900151)
    tenant_known = tenant_state not in ("unlinked", "missing")
    if not tenant_known or tenant_state != "active":
        codes.append(900400)
    elif kind == "direct_bill":
        codes.append(900414)
    elif not authorized:
        codes.append(900154)
    has_partnership = partnership and tenant_state != "unlinked" and dist_state != "unknown"
    if not has_partnership and 900414 not in codes:
        codes.append(900414)
    if (
        tenant_known
        and tenant_region is not None
        and dist_state == "known"
        and tenant_region != "Europe"
    ):
        codes.append(900152)
    order = [800016, 900151, 900400, 900154, 900414, 900152]
    return tuple(sorted(codes, key=order.index))


COMBOS = list(
    itertools.product(
        [True, False],
        ["active", "suspended", "deleted", "pending_onboarding", "missing", "unlinked"],
        ["csp_indirect_reseller", "direct_bill"],
        [True, False],
        [True, False],
        ["Europe", "Japan", None],
        ["known", "unknown", "no_region"],
    )
)


def registry_for_combo(combo) -> Registry:
    """The registry a combination of the table's facts describes."""
    active, tenant_state, kind, authorized, partnership, tenant_region, dist_state = combo
    return registry(
        active=active,
        tenant_link=tenant_state != "unlinked",
        tenant="missing" if tenant_state == "missing" else "present",
        status=tenant_state
        if tenant_state in ("active", "suspended", "deleted", "pending_onboarding")
        else "active",
        kind=kind,
        authorized=authorized,
        partnership=partnership,
        tenant_region=tenant_region,
        distributor=dist_state,
    )


@pytest.mark.parametrize("combo", COMBOS)
def test_every_combination(combo):
    got = evaluate_por(PID, DIST, registry_for_combo(combo))
    assert got == oracle(*combo)
    assert len(set(got)) == len(got), "each code once"
    assert sum(c in got for c in (900400, 900154)) <= 1


def test_union_is_canonical_and_unique():
    assert union_codes([(900152,), (900414, 900152), (800016,), ()]) == [800016, 900414, 900152]
    assert union_codes([]) == []


TEXT = st.one_of(
    st.none(), st.text(max_size=20), st.from_regex(r"\s*[0-9]{3,12}\s*", fullmatch=True)
)


@st.composite
def registries(draw):
    ids = draw(st.lists(st.from_regex(r"[0-9]{5,10}", fullmatch=True), max_size=5))
    tenants = draw(st.lists(st.text(min_size=1, max_size=5), max_size=4))
    r = Registry()
    for pid in ids:
        r.accounts[pid] = PartnerAccount(
            pid,
            draw(st.sampled_from(["PLA", "PGA"])),
            draw(st.booleans()),
            draw(st.one_of(st.none(), st.sampled_from(tenants) if tenants else st.none())),
        )
    for t in tenants:
        r.tenants[t] = ResellerTenant(
            t,
            draw(st.sampled_from(["csp_indirect_reseller", "direct_bill"])),
            draw(st.sampled_from(["active", "suspended", "pending_onboarding", "deleted"])),
            draw(st.booleans()),
            draw(st.sampled_from([None, "Europe", "Japan"])),
        )
        if draw(st.booleans()):
            r.active_partnerships.add((DIST, t))
    if draw(st.booleans()):
        r.distributors[DIST] = Distributor(DIST, draw(st.sampled_from([None, "Europe", "Japan"])))
    return r, ids


@settings(max_examples=300, deadline=None)
@given(registries(), TEXT, st.data())
def test_engine_never_raises_and_codes_are_canonical(reg_ids, pid, data):
    reg, ids = reg_ids
    if ids and data.draw(st.booleans()):
        pid = data.draw(st.sampled_from(ids))
    codes = evaluate_por(pid, DIST, reg)
    order = [800016, 900151, 900400, 900154, 900414, 900152]
    assert list(codes) == sorted(set(codes), key=order.index)
    if 800016 in codes:
        assert codes == (800016,)
