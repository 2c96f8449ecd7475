"""At-risk subscriptions: which decisions show a subscription, which fail now, how they group;
the weekly digest's identity and payload."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.errors import describe
from contracts.events import ValidationLine, ValidationRequested
from services.domain.at_risk import (
    SeenSubscription,
    at_risk,
    seen_in,
    subscription_count,
)
from services.domain.decisions import decision_line, make_decision
from services.domain.por_rules import evaluate_por
from services.notifier.at_risk import digest, digest_id, iso_week
from services.rendering.at_risk import CSV_COLUMNS, as_csv_rows, as_json
from tests.unit.test_por_rules import DIST, PID, registries, registry

T = datetime(2026, 2, 4, 12, tzinfo=UTC)


def decision(kind: str, lines: list[tuple[str, str | None, tuple[int, ...]]], basis="validated"):
    request = ValidationRequested(
        source_event_id="evt-1",
        transaction_kind=kind,
        order_id="ord-1" if kind == "new_order" else None,
        subscription_id="sub-1" if kind == "subscription_change" else None,
        change_kind="seat_count" if kind == "subscription_change" else None,
        distributor_id=DIST,
        customer_id="cust-1",
        requested_at=T,
        lines=[ValidationLine(line_item_id=li, partner_id_on_record=p) for li, p, _ in lines],
    )
    return make_decision(
        request,
        basis=basis,
        lines=[decision_line(li, p, codes) for li, p, codes in lines],
        decided_at=T,
    )


def test_an_accepted_order_shows_each_line_as_a_subscription_without_an_id():
    seen = seen_in(decision("new_order", [("1", PID, ()), ("2", "7654321", ())]))
    assert [(s.subscription_id, s.order_id, s.line_item_id) for s in seen] == [
        (None, "ord-1", "1"),
        (None, "ord-1", "2"),
    ]


def test_a_blocked_order_created_no_subscription():
    assert seen_in(decision("new_order", [("1", PID, ()), ("2", None, (800016,))])) == []


@pytest.mark.parametrize("codes", [(), (900400,)])
def test_a_change_shows_its_subscription_whatever_its_outcome(codes):
    (s,) = seen_in(decision("subscription_change", [("sub-1", PID, codes)]))
    assert (s.subscription_id, s.partner_id_on_record, s.customer_id) == ("sub-1", PID, "cust-1")


def test_an_exempt_change_shows_its_subscription_too():
    (s,) = seen_in(decision("subscription_change", [("sub-1", PID, ())], basis="exempt_renewal"))
    assert s.subscription_id == "sub-1"


def seen(sub: str, pid: str | None) -> SeenSubscription:
    return SeenSubscription(sub, None, None, "cust-1", pid, T, f"dec-{sub}")


def test_only_failing_subscriptions_are_listed_grouped_by_reseller_with_the_rules_codes():
    reg = registry(status="suspended")
    subs = [seen("a", PID), seen("b", f" {PID} "), seen("c", None), seen("d", "12ab")]
    groups = at_risk(subs, DIST, reg)
    assert [(g.partner_id, g.codes) for g in groups] == [
        (PID, (900400,)),
        ("12ab", (800016,)),
        (None, (800016,)),  # no PLA ID on record: last
    ]
    assert [s.subscription_id for s in groups[0].subscriptions] == ["a", "b"]
    assert at_risk([seen("a", PID)], DIST, registry()) == []


@settings(max_examples=200, deadline=None)
@given(registries(), st.data())
def test_a_subscription_is_at_risk_exactly_when_the_rules_fail_its_por(reg_ids, data):
    reg, ids = reg_ids
    pool = [*ids, None, "x", " 00000 "]
    subs = [seen(f"s{i}", data.draw(st.sampled_from(pool))) for i in range(6)]
    listed = {s.subscription_id: g.codes for g in at_risk(subs, DIST, reg) for s in g.subscriptions}
    for s in subs:
        codes = tuple(int(c) for c in evaluate_por(s.partner_id_on_record, DIST, reg))
        assert listed.get(s.subscription_id, ()) == codes


@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_report_gives_codes_and_remediation_in_the_language(language):
    groups = at_risk([seen("a", PID), seen("b", PID)], DIST, registry(active=False))
    (entry,) = as_json(groups, language)
    assert entry["errorCodes"] == [900151]
    assert entry["errors"][0]["remediation"] == list(describe(900151, language).remediation)
    rows = as_csv_rows(groups, language)
    assert [r["SubscriptionId"] for r in rows] == ["a", "b"] and set(rows[0]) == set(CSV_COLUMNS)
    assert describe(900151, language).remediation[0] in rows[0]["Remediation"]
    assert subscription_count(groups) == 2


def test_one_digest_per_distributor_per_iso_week():
    monday = datetime(2026, 2, 2, 0, 0, tzinfo=UTC)
    assert iso_week(monday) == "2026-W06" == iso_week(monday + timedelta(days=6, hours=23))
    assert iso_week(monday - timedelta(seconds=1)) == "2026-W05"
    assert digest_id(DIST, "2026-W06") == digest_id(DIST, "2026-W06")
    assert digest_id(DIST, "2026-W06") != digest_id(DIST, "2026-W07")
    assert digest_id(DIST, "2026-W06") != digest_id("other", "2026-W06")
    # ISO years: 2026-12-31 is in 2026-W53, 2027-01-01 too.
    assert iso_week(datetime(2027, 1, 1, tzinfo=UTC)) == "2026-W53"


def test_the_digest_payload_lists_the_resellers_in_the_distributors_language():
    groups = at_risk([seen("a", PID)], DIST, registry(tenant_region="Japan"))
    n = digest(DIST, groups, week="2026-W06", language="ja", created_at=T)
    assert n.kind == n.payload["kind"] == "at_risk_digest"
    assert n.notification_id == digest_id(DIST, "2026-W06")
    assert n.payload["subscriptionCount"] == 1 and "1 件" in n.payload["title"]
    assert n.payload["resellers"][0]["errors"][0]["message"] == describe(900152, "ja").message
