"""partner-center-sync's core: the list against what was seen, event ids, the schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.codec import decode, encode
from services.partner_center.models import PartnerRelationship
from services.partner_center_sync import changes as c
from services.partner_center_sync.schedule import decide, next_slot
from services.settings import Settings

D = "dist-a"
T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def rel(n: int | str, state="active", mpn: str | None = "auto", location="DE", name="auto"):
    tid = n if isinstance(n, str) else f"ten-{n}"
    return PartnerRelationship.model_validate(
        {
            "id": tid,
            "name": f"Reseller {n}" if name == "auto" else name,
            "relationshipType": "IsIndirectCloudSolutionProviderOf",
            "state": state,
            "mpnId": f"{1000 + n}" if mpn == "auto" and isinstance(n, int) else mpn,
            "location": location,
        }
    )


def apply(seen: dict[str, c.Seen], plan: c.Plan) -> dict[str, c.Seen]:
    """What the store records after the plan: the seen state the next sync reads."""
    out = dict(seen)
    for change in plan.changes:
        out[change.reseller_tenant_id] = c.Seen(
            change.reseller_tenant_id, change.entities, change.version
        )
    return out


def summary(plan: c.Plan) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(ch.kind, ch.reseller_tenant_id, ch.publish) for ch in plan.changes]


ALL = (c.TENANT, c.ACCOUNT, c.PARTNERSHIP)


def test_an_active_relationship_stands_for_an_active_partnership_tenant_and_pla():
    entities = c.entities_of(D, rel(1, location="de"))
    assert entities == {
        c.PARTNERSHIP: {"distributorId": D, "resellerTenantId": "ten-1", "status": "active"},
        c.TENANT: {
            "resellerTenantId": "ten-1",
            "name": "Reseller 1",
            "kind": "csp_indirect_reseller",
            "status": "active",
            "indirectResellerAuthorized": True,
            "country": "DE",
            "cspRegion": None,
        },
        c.ACCOUNT: {
            "partnerId": "1001",
            "accountType": "PLA",
            "status": "active",
            "name": "Reseller 1",
            "resellerTenantId": "ten-1",
        },
    }


@pytest.mark.parametrize(
    ("relationship", "expected"),
    [
        # Any state but active: listed, not active, and nothing claimed of the tenant.
        (rel(1, state="pending"), {c.PARTNERSHIP: "requested"}),
        (rel(1, state=None), {c.PARTNERSHIP: "requested"}),
        (rel(1, state="suspended"), {c.PARTNERSHIP: "requested"}),
        (
            rel(1, state=" ACTIVE "),
            {c.PARTNERSHIP: "active", c.TENANT: "active", c.ACCOUNT: "active"},
        ),
        # No PLA id: no account to link.
        (rel(1, mpn=None), {c.PARTNERSHIP: "active", c.TENANT: "active"}),
        (rel(1, mpn="  "), {c.PARTNERSHIP: "active", c.TENANT: "active"}),
    ],
)
def test_which_facts_a_relationship_carries_depends_on_its_state_and_pla(relationship, expected):
    entities = c.entities_of(D, relationship)
    assert {k: v["status"] for k, v in entities.items()} == expected


@pytest.mark.parametrize(
    ("location", "country"),
    [("DE", "DE"), (" jp ", "JP"), ("Germany", ""), ("", ""), (None, ""), ("D1", ""), ("ÄÖ", "")],
)
def test_only_a_two_letter_location_is_taken_as_the_country(location, country):
    assert c.entities_of(D, rel(1, location=location))[c.TENANT]["country"] == country


def test_a_missing_name_falls_back_to_the_tenant_id():
    entities = c.entities_of(D, rel(1, name=None))
    assert entities[c.TENANT]["name"] == entities[c.ACCOUNT]["name"] == "ten-1"


def test_a_first_sync_adds_every_listed_reseller_with_all_its_facts():
    plan = c.plan(D, [rel(2), rel(1), rel(3, state="pending")], {})
    assert summary(plan) == [
        ("added", "ten-1", ALL),
        ("added", "ten-2", ALL),
        ("added", "ten-3", (c.PARTNERSHIP,)),
    ]
    assert (plan.listed, plan.upserts, plan.count("added")) == (3, 7, 3)
    assert all(ch.version == 1 for ch in plan.changes)


def test_an_unchanged_list_publishes_nothing_the_second_time():
    listing = [rel(1), rel(2), rel(3, state="pending")]
    seen = apply({}, c.plan(D, listing, {}))
    again = c.plan(D, listing, seen)
    assert again.changes == () and again.listed == 3


def test_a_changed_fact_publishes_only_the_upsert_that_changed():
    seen = apply({}, c.plan(D, [rel(1), rel(2)], {}))
    plan = c.plan(D, [rel(1, location="FR"), rel(2, mpn="7777")], seen)
    assert summary(plan) == [("changed", "ten-1", (c.TENANT,)), ("changed", "ten-2", (c.ACCOUNT,))]
    assert [ch.version for ch in plan.changes] == [2, 2]


def test_a_reseller_that_left_the_list_is_removed_once_and_keeps_its_other_facts():
    seen = apply({}, c.plan(D, [rel(1), rel(2)], {}))
    plan = c.plan(D, [rel(1)], seen)
    assert summary(plan) == [("removed", "ten-2", (c.PARTNERSHIP,))]
    (removed,) = plan.changes
    assert removed.entities[c.PARTNERSHIP]["status"] == "removed"
    assert removed.entities[c.TENANT] == seen["ten-2"].entities[c.TENANT]
    seen = apply(seen, plan)
    assert c.plan(D, [rel(1)], seen).changes == ()  # removed once, not at every sync
    assert c.plan(D, [], seen).changes[0].reseller_tenant_id == "ten-1"


def test_a_reseller_back_on_the_list_is_added_again_under_new_event_ids():
    first = c.plan(D, [rel(1)], {})
    seen = apply({}, first)
    seen = apply(seen, c.plan(D, [], seen))
    back = c.plan(D, [rel(1)], seen)
    assert summary(back) == [("added", "ten-1", (c.PARTNERSHIP,))]  # tenant and PLA unchanged
    assert back.changes[0].version == 3
    ids = {e.event.id for p in (first, back) for e in c.outgoing(p, T0)}
    assert len(ids) == 4  # three upserts, then the partnership again with an id of its own


def test_an_active_relationship_turning_pending_is_a_change_to_requested():
    seen = apply({}, c.plan(D, [rel(1)], {}))
    plan = c.plan(D, [rel(1, state="pending")], seen)
    assert summary(plan) == [("changed", "ten-1", (c.PARTNERSHIP,))]
    assert plan.changes[0].entities == {
        c.PARTNERSHIP: {"distributorId": D, "resellerTenantId": "ten-1", "status": "requested"}
    }


def test_entries_without_an_id_are_skipped_and_a_repeated_id_counts_once_active_first():
    plan = c.plan(
        D, [rel(1), rel(" "), rel(2, state="pending"), rel(1, state="pending"), rel(2)], {}
    )
    assert plan.skipped == ("entry 2 of the list: no reseller tenant id",)
    assert plan.listed == 2
    assert [ch.entities[c.PARTNERSHIP]["status"] for ch in plan.changes] == ["active", "active"]


def test_an_entry_breaking_the_contract_is_skipped_not_removed():
    seen = apply({}, c.plan(D, [rel(1)], {}))
    plan = c.plan(D, [rel(1, mpn="9" * 300)], seen)
    assert plan.changes == ()
    assert len(plan.skipped) == 1 and "ten-1" in plan.skipped[0]


def test_events_are_contract_upserts_keyed_by_their_entity_with_ids_that_do_not_vary():
    plan = c.plan(D, [rel(1)], {})
    events = c.outgoing(plan, T0)
    assert [(e.event.type, e.key) for e in events] == [
        ("csp.reseller-tenant.upserted.v1", "ten-1"),
        ("csp.partner-account.upserted.v1", "1001"),
        ("csp.partnership.upserted.v1", f"{D}:ten-1"),
    ]
    for e in events:
        assert e.topic.name == "csp.partner-registry.v1"
        assert decode(encode(e.event), e.topic.name) == e.event
        assert e.event.source == c.SOURCE and e.event.time == T0
    later = c.outgoing(c.plan(D, [rel(1)], {}), T0 + timedelta(hours=1))
    assert [e.event.id for e in events] == [e.event.id for e in later]
    other = c.outgoing(c.plan("dist-b", [rel(1)], {}), T0)
    assert not {e.event.id for e in events} & {e.event.id for e in other}


states = st.sampled_from(["active", "Active", "pending", None])
listings = st.lists(
    st.builds(
        rel,
        st.integers(0, 6),
        state=states,
        location=st.sampled_from(["DE", "FR", "xx1", None]),
        mpn=st.sampled_from(["auto", None, "555"]),
    ),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(listings, min_size=1, max_size=5))
def test_any_sequence_of_lists_ends_in_exactly_the_last_lists_state_and_repeats_nothing(lists):
    seen: dict[str, c.Seen] = {}
    published: set[str] = set()
    for listing in lists:
        plan = c.plan(D, listing, seen)
        ids = [e.event.id for e in c.outgoing(plan, T0)]
        assert len(set(ids)) == len(ids) and not published & set(ids)
        published |= set(ids)
        seen = apply(seen, plan)
        assert c.plan(D, listing, seen).changes == ()  # idempotent
    listed = {r.id for r in lists[-1]}
    status = {t: s.entities[c.PARTNERSHIP]["status"] for t, s in seen.items()}
    assert {t for t, s in status.items() if s != "removed"} == listed
    for t in listed:
        active = any(c.is_active(r) for r in lists[-1] if r.id == t)
        assert status[t] == ("active" if active else "requested")


# ----------------------------------------------------------------------------- schedule

EVERY = 900.0


@pytest.mark.parametrize(
    ("next_due", "last_started", "now", "run", "next_or_due", "wait"),
    [
        (None, None, T0, True, T0 + timedelta(minutes=15), 0),  # never ran: now
        (T0, T0 - timedelta(minutes=15), T0 - timedelta(minutes=5), False, T0, 300),
        (T0, T0 - timedelta(minutes=15), T0, True, T0 + timedelta(minutes=15), 0),
        # Late by 2 s: the next slot stays on the timetable, no drift.
        (T0, None, T0 + timedelta(seconds=2), True, T0 + timedelta(minutes=15), 0),
        # Every replica was down for 40 minutes: one run, then the next slot ahead.
        (T0, None, T0 + timedelta(minutes=40), True, T0 + timedelta(minutes=45), 0),
        # The period was shortened from a day: due 15 minutes after the last start.
        (
            T0 + timedelta(days=1),
            T0,
            T0 + timedelta(minutes=16),
            True,
            T0 + timedelta(minutes=30),
            0,
        ),
    ],
)
def test_the_schedule_runs_on_fixed_slots_and_never_piles_up(
    next_due, last_started, now, run, next_or_due, wait
):
    slot = decide(next_due, last_started, EVERY, now)
    assert (slot.run, slot.next_due, slot.wait_s) == (run, next_or_due, wait)


@given(st.integers(0, 10**7), st.integers(1, 10**5))
def test_the_next_slot_is_the_first_on_the_timetable_after_now(elapsed_s, every_s):
    now = T0 + timedelta(seconds=elapsed_s)
    slot = next_slot(T0, every_s, now)
    assert now < slot <= now + timedelta(seconds=every_s)
    assert (slot - T0).total_seconds() % every_s == 0


@pytest.mark.parametrize(
    ("value", "seconds"), [("900", 900), ("15m", 900), ("1h", 3600), (" 90S ", 90), (30, 30)]
)
def test_the_sync_period_is_seconds_or_a_number_with_a_unit(value, seconds):
    assert Settings(partner_center_sync_every=value).partner_center_sync_every == seconds


@pytest.mark.parametrize("value", ["15w", "m", "fifteen", "0.5s", "0"])
def test_a_sync_period_that_is_not_a_duration_of_a_second_or_more_is_refused(value):
    with pytest.raises(ValueError):
        Settings(partner_center_sync_every=value)


@pytest.mark.parametrize(
    ("seen_active", "listed", "refused"),
    [
        (10, 10, False),  # nothing removed
        (10, 6, False),  # 4 removed: a real change
        (10, 5, False),  # 5 of 10: not more than half
        (10, 4, True),  # 6 of 10: more than half, and at least 5
        (4, 1, False),  # 3 of 4: more than half, but fewer than 5, and one is kept
        (3, 0, True),  # an empty list that would remove every reseller
        (0, 0, False),  # nothing seen, nothing to remove
    ],
)
def test_a_list_that_would_remove_most_resellers_needs_an_operator(seen_active, listed, refused):
    seen = apply({}, c.plan(D, [rel(n) for n in range(seen_active)], {}))
    plan = c.plan(D, [rel(n) for n in range(listed)], seen)
    why = c.mass_removal(plan, seen)
    assert (why is not None) is refused
    if refused:
        assert "--allow-mass-removal" in why


def _seen_active(n: int) -> dict[str, c.Seen]:
    return apply({}, c.plan(D, [rel(i) for i in range(n)], {}))


def test_downgrading_every_partnership_counts_as_removing_them():
    # Every reseller kept on the list, but no `state`: each partnership turns `requested`,
    # which blocks the reseller (900414) as surely as a removal.
    seen = _seen_active(10)
    plan = c.plan(D, [rel(n, state=None) for n in range(10)], seen)
    assert plan.count("removed") == 0 and c.lost(plan, seen) == 10
    assert c.mass_removal(plan, seen) is not None


@pytest.mark.parametrize("active", [1, 2, 4])
def test_a_list_that_keeps_none_of_the_active_resellers_is_refused_however_few(active):
    # A list of one stranger: nothing the distributor had stays active.
    seen = _seen_active(active)
    plan = c.plan(D, [rel("ten-stranger")], seen)
    why = c.mass_removal(plan, seen)
    assert why is not None and f"all {active}" in why


def test_runs_that_each_remove_under_half_are_added_up_over_the_window():
    # 10 -> 6 -> 3 -> 1: each run alone is under the share (or under the minimum).
    seen = _seen_active(10)
    recent = 0
    refused_at = None
    for step, keep in enumerate((6, 3, 1)):
        plan = c.plan(D, [rel(n) for n in range(keep)], seen)
        if c.mass_removal(plan, seen, recently_lost=recent) is not None:
            refused_at = step
            break
        recent += c.lost(plan, seen)
        seen = apply(seen, plan)
    assert refused_at == 1  # 4 then 3 more: 7 of the 10 active at the window's start


def test_removing_a_few_of_many_is_refused_only_when_the_window_already_lost_most():
    seen = _seen_active(20)
    plan = c.plan(D, [rel(n) for n in range(17)], seen)
    assert c.mass_removal(plan, seen, recently_lost=0) is None
    assert c.mass_removal(plan, seen, recently_lost=8) is None  # 11 of the 28 of the window
    assert c.mass_removal(plan, seen, recently_lost=20) is not None  # 23 of 40
