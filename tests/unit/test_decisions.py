"""Decisions, classification, the eligibility report and the API's results: pure, no I/O."""

from datetime import UTC, datetime, timedelta

import pytest

from contracts.events import (
    OrderLineItem,
    OrderPlaced,
    SubscriptionChangeRequested,
    ValidationLine,
    ValidationRequested,
)
from contracts.ids import decision_id_for
from services.api.validation import BadRequest, parse_request, validation_results
from services.domain.decisions import decide, exempt_decision
from services.domain.eligibility import eligibility_rows
from services.domain.por_rules import Distributor, PartnerAccount, Registry, ResellerTenant
from services.order_intake.intake import validation_request
from services.rendering.eligibility import eligibility_record
from services.subscription_change.classify import classify

START = datetime(2025, 12, 1, tzinfo=UTC)
NOW = datetime(2026, 1, 10, 9, tzinfo=UTC)
D = "dist-eu-1"


def registry() -> Registry:
    r = Registry()
    r.distributors[D] = Distributor(D, "Europe")
    r.accounts["1000001"] = PartnerAccount("1000001", "PLA", True, "t-ok")
    r.accounts["1000002"] = PartnerAccount("1000002", "PLA", False, "t-ok")
    r.accounts["1000003"] = PartnerAccount("1000003", "PLA", True, "t-us")
    r.accounts["2000001"] = PartnerAccount("2000001", "PGA", True, "t-ok")
    r.tenants["t-ok"] = ResellerTenant("t-ok", "csp_indirect_reseller", "active", True, "Europe")
    r.tenants["t-us"] = ResellerTenant(
        "t-us", "csp_indirect_reseller", "suspended", True, "United States"
    )
    r.active_partnerships |= {(D, "t-ok"), (D, "t-us")}
    return r


def order(*pids, placed_at=NOW) -> OrderPlaced:
    return OrderPlaced(
        order_id="o-1",
        distributor_id=D,
        customer_id="c",
        placed_at=placed_at,
        line_items=[
            OrderLineItem(line_item_id=str(i), offer_id="x", quantity=1, partner_id_on_record=p)
            for i, p in enumerate(pids)
        ],
    )


def test_multi_line_order_union_and_primary():
    d = decide(
        validation_request(order("1000001", "1000002", "1000003", None), "evt-1"),
        registry(),
        enforcement_start=START,
        decided_at=NOW,
    )
    assert d.outcome == "blocked" and d.basis == "validated"
    assert [line.error_codes for line in d.lines] == [[], [900151], [900400, 900152], [800016]]
    assert d.error_codes == [800016, 900151, 900400, 900152]
    assert d.primary_error_code == 800016
    assert [e.code for e in d.lines[2].errors] == [900400, 900152]
    assert all(e.message and e.remediation for line in d.lines for e in line.errors)


def test_accepted_and_before_enforcement():
    ok = decide(
        validation_request(order("1000001"), "e"),
        registry(),
        enforcement_start=START,
        decided_at=NOW,
    )
    assert (ok.outcome, ok.error_codes, ok.primary_error_code) == ("accepted", [], None)
    early = decide(
        validation_request(order("garbage", placed_at=START - timedelta(seconds=1)), "e"),
        registry(),
        enforcement_start=START,
        decided_at=NOW,
    )
    assert (early.outcome, early.basis, early.lines[0].error_codes) == (
        "accepted",
        "before_enforcement",
        [],
    )


def test_decision_ids_are_derived_from_the_source_event():
    assert decision_id_for("evt-1") == decision_id_for("evt-1") != decision_id_for("evt-2")
    assert decision_id_for("evt-1", "old-decision") not in (
        decision_id_for("evt-1"),
        decision_id_for("evt-1", "x"),
    )
    d1 = decide(
        validation_request(order("1000001"), "evt-1"),
        registry(),
        enforcement_start=START,
        decided_at=NOW,
    )
    d2 = decide(
        validation_request(order("1000002"), "evt-1"),
        registry(),
        enforcement_start=START,
        decided_at=NOW,
    )
    assert d1.decision_id == d2.decision_id == decision_id_for("evt-1")


def test_revalidation_names_what_it_supersedes():
    req = validation_request(order("1000001"), "evt-1").model_copy(
        update={"supersedes_decision_id": "dec-old"}
    )
    d = decide(req, registry(), enforcement_start=START, decided_at=NOW)
    assert d.supersedes_decision_id == "dec-old" and d.decision_id == decision_id_for(
        "evt-1", "dec-old"
    )


def change(kind, requested_at=NOW, set_at=None, pid="1000001") -> SubscriptionChangeRequested:
    return SubscriptionChangeRequested(
        change_id="c1",
        subscription_id="s1",
        distributor_id=D,
        customer_id="c",
        kind=kind,
        requested_at=requested_at,
        partner_id_on_record=pid,
        scheduled_change_set_at=set_at,
    )


@pytest.mark.parametrize(
    ("kind", "set_at", "basis"),
    [
        ("renewal", None, "exempt_renewal"),
        ("cancel", None, "not_in_scope"),
        (
            "scheduled_change_execution",
            START - timedelta(days=1),
            "exempt_scheduled_before_enforcement",
        ),
    ],
)
def test_exempt_changes_are_decided_by_subscription_change(kind, set_at, basis):
    got_basis, result = classify(change(kind, set_at=set_at, pid="junk"), "evt-9", START, NOW)
    assert got_basis == basis
    assert result.outcome == "accepted" and result.basis == basis
    assert result.lines[0].line_item_id == "s1" and result.lines[0].error_codes == []
    assert result.decision_id == decision_id_for("evt-9")


def test_validated_change_becomes_a_request():
    basis, result = classify(change("seat_count"), "evt-9", START, NOW)
    assert basis == "validated" and isinstance(result, ValidationRequested)
    assert result.lines == [ValidationLine(line_item_id="s1", partner_id_on_record="1000001")]
    assert result.transaction_kind == "subscription_change" and result.change_kind == "seat_count"
    d = decide(result, registry(), enforcement_start=START, decided_at=NOW)
    assert d.basis == "validated" and d.outcome == "accepted"


def test_exempt_decision_refuses_validated():
    with pytest.raises(AssertionError):
        exempt_decision(validation_request(order("1"), "e"), "validated", NOW)


def test_eligibility_rows_match_the_rules_engine():
    rows = {
        r.partner_id: r
        for r in eligibility_rows(
            ["1000001", " 1000002", "1000003", "2000001", "9", "9999999", "1000001"], D, registry()
        )
    }
    assert set(rows) == {"1000001", "1000002", "1000003", "2000001"}
    assert eligibility_record(rows["1000001"]) == {
        "PartnerId": "1000001",
        "IsCompliant": "True",
        "ErrorCodes": "",
        "ResellerStatus": "Active",
        "RegionMatch": "Yes",
        "ResellerAssociatedWithDistributor": "Yes",
        "ResellerAccountType": "PLA",
    }
    assert eligibility_record(rows["1000003"])["ErrorCodes"] == "900400,900152"
    assert rows["1000003"].reseller_status == "Inactive" and not rows["1000003"].region_match
    assert rows["2000001"].account_type == "PGA" and rows["2000001"].error_codes == (800016,)
    assert rows["1000002"].error_codes == (900151,)


def test_api_results_have_partner_centers_shape():
    out = validation_results(["1000001", "1000003", "x"], D, registry(), "ja")["validationResults"]
    assert out[0] == {
        "partnerId": "1000001",
        "isValidPartnerIdOnRecord": True,
        "errorCode": None,
        "errorDescription": None,
        "errorCodes": [],
    }
    assert out[1]["errorCode"] == 900400 and out[1]["errorCodes"] == [900400, 900152]
    assert "リセラー" in out[1]["errorDescription"]
    assert out[2]["errorCode"] == 800016


@pytest.mark.parametrize(
    "body", [b"", b"{}", b'{"partnerIds": null}', b'{"partnerIds": [null]}', b"\xff"]
)
def test_api_request_parsing_rejects_bad_bodies(body):
    with pytest.raises(BadRequest):
        parse_request(body)
