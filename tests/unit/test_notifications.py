"""notifier's pure parts: who is told what, in which language, and the webhook signature."""

from datetime import UTC, datetime, timedelta

import pytest

from contracts.errors import describe
from contracts.events import GdapPrivilegesRevoked, TransactionBlocked
from services.domain.authority import Answer, drifts
from services.domain.decisions import decide
from services.domain.explain import explain, to_wire
from services.notifier import decision_notices as dn
from services.notifier import notifications as nt
from services.notifier.delivery import delivery_outcome
from services.notifier.remediation import line_remediations
from services.notifier.signing import sign, verify
from services.notifier.webhook import body_of
from services.settings import Settings
from tests.unit.test_authority import order
from tests.unit.test_decisions import START, D, registry

T0 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=1)


@pytest.mark.parametrize(
    ("previous", "previous_as_of", "status", "as_of", "expected"),
    [
        ("active", T0, "removed", T1, True),
        ("requested", T0, "removed", T1, True),
        (None, None, "removed", T0, True),  # unknown before: still a removal
        ("removed", T0, "removed", T1, False),  # re-sent removal
        ("removed", T0, "removed", T0, False),
        ("active", T1, "removed", T0, False),  # stale: older than what is known
        ("active", T0, "removed", T0, True),  # same instant wins, as in the upsert
        ("removed", T0, "active", T1, False),
        (None, None, "active", T0, False),
        ("active", T0, "requested", T1, False),
    ],
)
def test_is_removal_transition(previous, previous_as_of, status, as_of, expected):
    assert nt.is_removal_transition(previous, previous_as_of, status, as_of) is expected


@pytest.mark.parametrize(
    ("assigned", "partnered", "expected"),
    [
        (["d1"], ["d1", "d2"], ["d1"]),
        (["d2", "d1", "d2"], ["d3"], ["d1", "d2"]),
        ([], ["d3", "d1"], ["d1", "d3"]),
        ([], [], []),
    ],
)
def test_revocation_recipients(assigned, partnered, expected):
    assert nt.revocation_recipients(assigned, partnered) == expected


def test_still_administered_groups_by_customer_in_order():
    rows = [
        {"customer_id": "c2", "relationship_id": "r3", "roles": ["Reader"]},
        {"customer_id": "c1", "relationship_id": "r2", "roles": None},
        {"customer_id": "c1", "relationship_id": "r1", "roles": ["A", "B"]},
    ]
    assert nt.still_administered(rows) == [
        {
            "customerId": "c1",
            "relationships": [
                {"relationshipId": "r1", "roles": ["A", "B"]},
                {"relationshipId": "r2", "roles": []},
            ],
        },
        {"customerId": "c2", "relationships": [{"relationshipId": "r3", "roles": ["Reader"]}]},
    ]


def _decision(**over):
    d = {
        "decisionId": "dec-1",
        "sourceEventId": "src-1",
        "transactionKind": "new_order",
        "orderId": "ord-1",
        "changeId": None,
        "subscriptionId": None,
        "changeKind": None,
        "distributorId": "dist-jp",
        "customerId": "cust-1",
        "outcome": "blocked",
        "basis": "validated",
        "errorCodes": [900414, 900152],
        "primaryErrorCode": 900414,
        "lines": [
            {"lineItemId": "1", "partnerIdOnRecord": "1000001", "errorCodes": [], "errors": []},
            {
                "lineItemId": "2",
                "partnerIdOnRecord": "1000007",
                "errorCodes": [900414, 900152],
                "errors": [
                    {"code": 900414, "message": "en", "remediation": ["x"]},
                    {"code": 900152, "message": "en", "remediation": ["y"]},
                ],
            },
        ],
        "decidedAt": "2026-01-10T09:00:00Z",
    }
    d.update(over)
    return TransactionBlocked.model_validate(d)


@pytest.mark.parametrize("language", ["en", "ja"])
def test_transaction_blocked_is_localized(language):
    n = nt.transaction_blocked(
        _decision(), cause_event_id="evt-1", language=language, created_at=T0
    )
    p = n.payload
    assert n.kind == p["kind"] == "transaction_blocked"
    assert n.distributor_id == p["distributorId"] == "dist-jp"
    assert p["language"] == language and p["notificationId"] == n.notification_id
    assert p["errorCodes"] == [900414, 900152] and p["primaryErrorCode"] == 900414
    assert p["orderId"] == "ord-1" and p["decisionId"] == "dec-1"
    assert "ord-1" in p["title"] and "900414" in p["title"]
    assert ("ブロック" in p["title"]) is (language == "ja")
    # Only the line that needs a person, its text in the distributor's language.
    assert [line["lineItemId"] for line in p["lines"]] == ["2"]
    for err in p["lines"][0]["errors"]:
        text = describe(err["code"], language)
        assert err["message"] == text.message and err["remediation"] == list(text.remediation)


def test_transaction_blocked_for_a_subscription_change_names_the_subscription():
    d = _decision(
        transactionKind="subscription_change",
        orderId=None,
        subscriptionId="sub-9",
        changeId="chg-9",
        errorCodes=[800016],
        primaryErrorCode=800016,
        lines=[
            {"lineItemId": "sub-9", "partnerIdOnRecord": None, "errorCodes": [800016], "errors": []}
        ],
    )
    p = nt.transaction_blocked(d, cause_event_id="evt-2", language="en", created_at=T0).payload
    assert "sub-9" in p["title"] and p["changeId"] == "chg-9" and p["subscriptionId"] == "sub-9"


def test_unknown_code_keeps_the_decisions_own_text():
    d = _decision(
        errorCodes=[123456],
        primaryErrorCode=123456,
        lines=[
            {
                "lineItemId": "1",
                "partnerIdOnRecord": "1",
                "errorCodes": [123456],
                "errors": [{"code": 123456, "message": "new", "remediation": ["do"]}],
            }
        ],
    )
    p = nt.transaction_blocked(d, cause_event_id="evt-3", language="ja", created_at=T0).payload
    assert p["lines"][0]["errors"] == [{"code": 123456, "message": "new", "remediation": ["do"]}]


@pytest.mark.parametrize(("language", "marker"), [("en", "revoked"), ("ja", "取り消され")])
def test_privileges_revoked(language, marker):
    r = GdapPrivilegesRevoked.model_validate(
        {
            "relationshipId": "rel-7",
            "customerId": "cust-42",
            "resellerTenantId": "ten-5",
            "reason": "reseller_suspended",
            "causeEventId": "c",
            "revokedAt": "2026-01-10T09:00:00Z",
        }
    )
    p = nt.privileges_revoked(
        r, distributor_id="d1", cause_event_id="e1", language=language, created_at=T0
    ).payload
    assert p["kind"] == "privileges_revoked"
    assert {
        k: p[k] for k in ("relationshipId", "customerId", "resellerTenantId", "reason", "revokedAt")
    } == {
        "relationshipId": "rel-7",
        "customerId": "cust-42",
        "resellerTenantId": "ten-5",
        "reason": "reseller_suspended",
        "revokedAt": "2026-01-10T09:00:00Z",
    }
    assert marker in p["title"] and p["reasonText"]


@pytest.mark.parametrize("language", ["en", "ja"])
def test_partnership_removed(language):
    customers = [
        {"customerId": "c1", "relationships": [{"relationshipId": "r1", "roles": ["Reader"]}]}
    ]
    p = nt.partnership_removed(
        distributor_id="d1",
        reseller_tenant_id="ten-5",
        customers=customers,
        cause_event_id="e1",
        language=language,
        created_at=T0,
    ).payload
    assert p["kind"] == "partnership_removed" and p["resellerTenantId"] == "ten-5"
    assert p["customersStillAdministered"] == customers
    assert p["note"] and ("アクセス権は取り消されません" in p["note"]) is (language == "ja")


def test_notification_ids_are_deterministic_and_distinct():
    a = nt.notification_id("evt-1", "privileges_revoked", "d1")
    assert a == nt.notification_id("evt-1", "privileges_revoked", "d1")
    assert (
        len(
            {
                a,
                nt.notification_id("evt-1", "privileges_revoked", "d2"),
                nt.notification_id("evt-2", "privileges_revoked", "d1"),
                nt.notification_id("evt-1", "transaction_blocked", "d1"),
            }
        )
        == 4
    )


# ----------------------------------------------------------------------------- signing

SECRET = b"s3cret"
BODY = body_of({"notificationId": "n1", "title": "注文"})
NOW = 1_767_000_000


@pytest.mark.parametrize(
    ("secret", "body", "header", "now", "expected"),
    [
        (SECRET, BODY, sign(SECRET, BODY, NOW), NOW, True),
        (SECRET, BODY, sign(SECRET, BODY, NOW), NOW + 299, True),
        (SECRET, BODY, sign(SECRET, BODY, NOW), NOW - 299, True),  # small clock skew
        (SECRET, BODY + b" ", sign(SECRET, BODY, NOW), NOW, False),  # tampered body
        (SECRET, BODY.replace(b"n1", b"n2"), sign(SECRET, BODY, NOW), NOW, False),
        (b"other", BODY, sign(SECRET, BODY, NOW), NOW, False),  # wrong secret
        (SECRET, BODY, sign(SECRET, BODY, NOW), NOW + 301, False),  # stale
        (
            SECRET,
            BODY,
            sign(SECRET, BODY, NOW).replace(f"t={NOW}", f"t={NOW + 1}"),
            NOW,
            False,
        ),  # moved t
        (
            SECRET,
            BODY,
            f"t={NOW},v1=deadbeef,v1={sign(SECRET, BODY, NOW).split('v1=')[1]}",
            NOW,
            True,
        ),  # rotation
        (SECRET, BODY, f"v1={sign(SECRET, BODY, NOW).split('v1=')[1]}", NOW, False),  # no timestamp
        (SECRET, BODY, f"t={NOW}", NOW, False),
        (SECRET, BODY, "t=abc,v1=00", NOW, False),
        (SECRET, BODY, "garbage", NOW, False),
        (SECRET, BODY, "", NOW, False),
        (SECRET, BODY, None, NOW, False),
    ],
)
def test_verify(secret, body, header, now, expected):
    assert verify(secret, body, header, now=now) is expected


def test_sign_format():
    header = sign(SECRET, b"{}", 42)
    t, v1 = header.split(",")
    assert t == "t=42" and v1.startswith("v1=") and len(v1) == 3 + 64


@pytest.mark.parametrize(
    ("status", "delivered", "retryable"),
    [
        (200, True, False),
        (204, True, False),
        (500, False, True),
        (503, False, True),
        (429, False, True),
        (408, False, True),
        (400, False, False),
        (401, False, False),
        (404, False, False),
        (301, False, False),
    ],
)
def test_a_webhook_status_says_delivered_retry_or_give_up(status, delivered, retryable):
    outcome = delivery_outcome(status)
    assert (outcome.delivered, outcome.retryable) == (delivered, retryable)


def test_backoff_is_exponential_and_capped():
    s = Settings(delivery_retry_initial_s=0.5, delivery_retry_max_s=4.0)
    assert [s.delivery_backoff_s(a) for a in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 4.0]


# ----------------------------------------------------------------------------- registry drift


def _drifting(order_id: str, decided_at: datetime, pc_code: int | None = 900400):

    request = order("1000001").model_copy(update={"order_id": order_id})
    answer = Answer("1000001", pc_code is None, pc_code)
    return decide(
        request,
        registry(),
        answers={"1000001": answer},
        enforcement_start=START,
        decided_at=decided_at,
    )


def test_a_drift_is_told_once_per_pla_id_and_codes_pair_per_day():

    morning = datetime(2026, 1, 10, 9, tzinfo=UTC)

    def told(decision, language="en"):
        (drift,) = drifts(decision)
        return dn.registry_drift(
            decision, drift, cause_event_id="e", language=language, created_at=morning
        )

    first = told(_drifting("o-1", morning))
    same_day = told(_drifting("o-2", morning.replace(hour=23)))
    next_day = told(_drifting("o-3", morning.replace(day=11)))
    other_code = told(_drifting("o-4", morning, pc_code=900151))
    assert first.notification_id == same_day.notification_id
    assert len({first.notification_id, next_day.notification_id, other_code.notification_id}) == 3
    assert first.kind == "registry_drift"
    assert (first.payload["partnerCenterErrorCode"], first.payload["registryErrorCodes"]) == (
        900400,
        [],
    )
    assert "1000001" in told(_drifting("o-1", morning), "ja").payload["title"]
    assert "パートナー センター" in told(_drifting("o-1", morning), "ja").payload["title"]


# ----------------------------------------------------------------------------- remediation


def test_a_blocked_notice_carries_the_remediation_of_the_walk_the_decision_carries():
    reg = registry()
    decision = decide(
        order("1000001", "1000002", "1000003"),
        reg,
        answers={},
        enforcement_start=START,
        decided_at=T0,
    )
    # The line's walk, as por-validator attaches it; the registry then moves on.
    walked = decision.model_copy(
        update={
            "lines": [
                line.model_copy(
                    update={
                        "explanation": to_wire(explain(line.partner_id_on_record, D, reg))
                        if line.error_codes
                        else None
                    }
                )
                for line in decision.lines
            ]
        }
    )
    reg.tenants["t-us"] = reg.tenants["t-ok"]  # 1000003's tenant is fixed since
    found = line_remediations(walked, reg, "https://partner.example/invite", "ja")
    assert sorted(found) == ["1", "2"]  # the valid line needs nothing
    assert found["2"]["errorCodes"] == [900400, 900152]
    assert "停止" in found["2"]["message"] and "United States" in found["2"]["message"]
    notice = nt.transaction_blocked(
        walked, cause_event_id="e", language="ja", created_at=T0, remediations=found
    )
    assert [line["remediation"] for line in notice.payload["lines"]] == [found["1"], found["2"]]


def test_a_line_partner_center_decided_is_remediated_from_its_code_with_no_suggestion():
    decision = decide(
        order("1000001"),
        registry(),
        answers={"1000001": Answer("1000001", False, 900999, "A reason of Microsoft's own.")},
        enforcement_start=START,
        decided_at=T0,
    )
    (found,) = line_remediations(decision, registry(), None, "en").values()
    assert found["authority"] == "partner_center" and found["errorCodes"] == [900999]
    assert found["remedies"][0]["cause"] == "A reason of Microsoft's own."
    assert found["suggestedPartnerIds"] == []
