"""Observe mode and automatic release, pure: no I/O."""

from datetime import UTC, datetime

import pytest

from contracts.events import (
    DistributorUpserted,
    GdapRelationshipUpserted,
    PartnerAccountUpserted,
    PartnershipUpserted,
    ResellerTenantUpserted,
)
from services.domain.decisions import decide
from services.domain.observe import mode_for, observe_summary, would_block_from
from services.domain.por_rules import Distributor
from services.domain.release import Dependents, dependents_of, release_id, released
from tests.unit.test_authority import order
from tests.unit.test_decisions import START, D, registry

NOW = datetime(2026, 1, 10, 9, tzinfo=UTC)


def decided(*pids, reg=None, mode="enforce"):
    return decide(
        order(*pids), reg or registry(), enforcement_start=START, decided_at=NOW, mode=mode
    )


def test_observe_mode_accepts_what_would_block_and_keeps_the_codes_and_the_id():
    blocked = decided("1000001", "1000003")
    seen = decided("1000001", "1000003", mode="observe")
    assert (seen.outcome, seen.would_block, seen.decision_id) == (
        "accepted",
        True,
        blocked.decision_id,
    )
    assert seen.error_codes == [] and seen.primary_error_code is None
    assert seen.observed_error_codes == blocked.error_codes == [900400, 900152]
    assert [line.error_codes for line in seen.lines] == [[], []]
    assert [line.observed_error_codes for line in seen.lines] == [[], [900400, 900152]]
    assert all(line.errors == [] for line in seen.lines)


def test_observe_mode_leaves_an_accepted_decision_alone():
    accepted = decided("1000001")
    assert decided("1000001", mode="observe") == accepted


@pytest.mark.parametrize(
    ("own", "setting", "mode"),
    [(None, "enforce", "enforce"), (None, "observe", "observe"), ("enforce", "observe", "enforce"),
     ("observe", "enforce", "observe")],
)  # fmt: skip
def test_the_distributors_own_mode_wins_over_the_setting(own, setting, mode):
    reg = registry()
    reg.distributors[D] = Distributor(D, "Europe", enforcement_mode=own)
    assert mode_for(D, reg, setting) == mode
    assert mode_for("unknown-distributor", reg, setting) == setting


def test_the_observe_report_counts_by_code_reseller_and_customer():
    rows = [
        would_block_from(decided(*pids, mode="observe").model_dump(by_alias=True, mode="json"))
        for pids in (["1000002"], ["1000002", "1000003"], ["1000003"])
    ]
    summary = observe_summary(rows)
    assert summary["transactions"] == 3
    # Ties in count are ordered by code.
    assert summary["byCode"] == [
        {"code": 900151, "transactions": 2},
        {"code": 900152, "transactions": 2},
        {"code": 900400, "transactions": 2},
    ]
    assert {r["partnerId"]: r["transactions"] for r in summary["byReseller"]} == {
        "1000002": 2,
        "1000003": 2,
    }
    assert summary["customersMostAffected"] == [{"customerId": "c", "transactions": 3}]


@pytest.mark.parametrize(
    ("fact", "dependents"),
    [
        (
            PartnerAccountUpserted(partner_id=" 1000002 ", account_type="PLA", status="active", name="n"),
            Dependents(partner_ids=("1000002",)),
        ),
        (PartnerAccountUpserted(partner_id="1000002", account_type="PLA", status="inactive", name="n"), None),
        (
            ResellerTenantUpserted(reseller_tenant_id="t", name="n", kind="csp_indirect_reseller",
                                   status="active", indirect_reseller_authorized=True, country="DE"),
            Dependents(tenant_id="t"),
        ),
        (
            ResellerTenantUpserted(reseller_tenant_id="t", name="n", kind="csp_indirect_reseller",
                                   status="suspended", indirect_reseller_authorized=True, country="DE"),
            None,
        ),
        (
            PartnershipUpserted(distributor_id=D, reseller_tenant_id="t", status="active"),
            Dependents(tenant_id="t", distributor_id=D),
        ),
        (PartnershipUpserted(distributor_id=D, reseller_tenant_id="t", status="removed"), None),
        (DistributorUpserted(distributor_id=D, name="n", country="DE"), Dependents(distributor_id=D)),
        (
            GdapRelationshipUpserted(relationship_id="r", customer_id="c", reseller_tenant_id="t",
                                     roles=[], status="active"),
            None,
        ),
    ],
)  # fmt: skip
def test_only_a_fact_that_can_free_a_transaction_looks_for_dependents(fact, dependents):
    assert dependents_of(fact) == dependents


def test_a_transaction_that_passes_now_is_released_superseding_the_blocked_one():
    reg = registry()
    blocked = decided("1000003", reg=reg)
    reg.tenants["t-us"] = reg.tenants["t-us"].__class__(
        "t-us", "csp_indirect_reseller", "active", True, "Europe"
    )
    request, decision = released(
        blocked.decision_id,
        order("1000003"),
        reg,
        registry_event_id="evt-9",
        enforcement_start=START,
        decided_at=NOW,
    )
    assert decision.outcome == "accepted"
    assert decision.supersedes_decision_id == request.supersedes_decision_id == blocked.decision_id
    assert decision.decision_id == release_id(blocked.decision_id, "evt-9") != blocked.decision_id
    # Another registry event would release it under another id; the same one, the same id.
    assert release_id(blocked.decision_id, "evt-10") != decision.decision_id


def test_a_transaction_still_blocked_is_not_released():
    reg = registry()
    blocked = decided("1000002", reg=reg)
    assert (
        released(
            blocked.decision_id,
            order("1000002"),
            reg,
            registry_event_id="evt-9",
            enforcement_start=START,
            decided_at=NOW,
        )
        is None
    )
