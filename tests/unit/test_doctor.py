"""`porgate doctor`'s pure parts: the report, Kafka's ACL decisions, the rights porgate needs."""

from __future__ import annotations

import base64
import json

import pytest

from contracts.topics import DLQ, ORDERS
from services.ops import acls
from services.ops.acls import ALLOW, DENY, GROUP, LITERAL, PREFIXED, READ, TOPIC, WRITE, Binding
from services.ops.doctor import Check, Report, Status
from services.ops.doctor_checks import acl_verdicts, needed_rights, principal_of
from services.ops.doctor_remote import _missing_role
from services.settings import Settings

ME = "User:porgate"


def bind(rtype, name, op, permission=ALLOW, pattern=LITERAL, principal=ME) -> Binding:
    return Binding(rtype, name, pattern, principal, "*", op, permission)


def test_a_report_with_a_failure_exits_1_and_says_how_many() -> None:
    report = Report(
        (
            Check("kafka", "b:9093", Status.OK, "reached"),
            Check("postgresql", "schema notifier", Status.FAIL, "not migrated", "porgate migrate"),
            Check("acls", "all", Status.UNCHECKED, "no DescribeAcls"),
            Check("webhook", "endpoint", Status.WARN, "unset"),
        )
    )
    assert report.exit_code == 1
    document = report.as_json()
    assert document["ok"] is False and document["failures"] == 1
    assert document["checks"][1] == {
        "area": "postgresql",
        "subject": "schema notifier",
        "status": "fail",
        "detail": "not migrated",
        "fix": "porgate migrate",
    }
    assert document["checks"][2]["status"] == "not checkable"
    text = "\n".join(report.as_text())
    assert "fix:[/] porgate migrate" in text and "1 failure(s)" in text


def test_warnings_and_unchecked_items_do_not_fail_the_report() -> None:
    report = Report(
        (Check("a", "x", Status.WARN, "w"), Check("b", "y", Status.UNCHECKED, "u")),
    )
    assert report.exit_code == 0 and report.as_json()["ok"] is True


@pytest.mark.parametrize(
    ("bindings", "need", "verdict"),
    [
        ([bind(TOPIC, "csp.orders.v1", READ)], acls.Need(TOPIC, "csp.orders.v1", READ), True),
        ([bind(TOPIC, "csp.orders.v1", READ)], acls.Need(TOPIC, "csp.orders.v1", WRITE), False),
        ([bind(TOPIC, "csp.", READ, pattern=PREFIXED)], acls.Need(TOPIC, "csp.x", READ), True),
        ([bind(TOPIC, "*", acls.ALL)], acls.Need(TOPIC, "anything", WRITE), True),
        (
            [bind(GROUP, "porgate.", READ, pattern=PREFIXED)],
            acls.Need(GROUP, "porgate.a.b", READ),
            True,
        ),
        ([bind(GROUP, "porgate.x", READ)], acls.Need(TOPIC, "porgate.x", READ), False),
        # DENY wins over any ALLOW.
        (
            [bind(TOPIC, "*", acls.ALL), bind(TOPIC, "csp.orders.v1", WRITE, DENY)],
            acls.Need(TOPIC, "csp.orders.v1", WRITE),
            False,
        ),
        # An ACL for everyone counts; one for another principal does not.
        ([bind(TOPIC, "t", READ, principal="User:*")], acls.Need(TOPIC, "t", READ), True),
        ([bind(TOPIC, "t", READ, principal="User:other")], acls.Need(TOPIC, "t", READ), False),
        # READ implies DESCRIBE, as Kafka's authorizer has it.
        ([bind(TOPIC, "t", READ)], acls.Need(TOPIC, "t", acls.DESCRIBE), True),
    ],
)
def test_acls_are_decided_as_kafkas_authorizer_decides(bindings, need, verdict) -> None:
    assert acls.allowed(bindings, ME, need) is verdict


def test_a_missing_right_comes_with_the_command_that_grants_it() -> None:
    need = acls.Need(GROUP, "porgate.notifier.decisions", READ)
    assert acls.grant_command(ME, need) == (
        "kafka-acls.sh --add --allow-principal User:porgate --operation Read"
        " --group porgate.notifier.decisions"
    )


def test_porgate_needs_to_read_its_groups_and_topics_and_write_what_it_publishes() -> None:
    needs = needed_rights(Settings(topic_prefix="env."))
    assert acls.Need(GROUP, "env.porgate.order-intake.orders", READ) in needs
    assert acls.Need(TOPIC, f"env.{ORDERS.name}", READ) in needs
    assert acls.Need(TOPIC, "env.por.validation-requests.v1", WRITE) in needs
    assert acls.Need(TOPIC, f"env.{DLQ.name}", WRITE) in needs
    assert len(needs) == len(set(needs))


def test_acls_naming_only_other_principals_are_not_checkable_rather_than_failing() -> None:
    # Confluent Cloud: an API key's principal is User:<service account id>, not the key.
    needs = [acls.Need(TOPIC, ORDERS.name, READ)]
    others = [bind(TOPIC, "*", acls.ALL, principal="User:sa-abc123")]
    (check,) = acl_verdicts(others, "User:APIKEY42", needs)
    assert check.status is Status.UNCHECKED
    assert "no ACL names User:APIKEY42" in check.detail
    assert "PORGATE_KAFKA_PRINCIPAL" in check.fix
    (named,) = acl_verdicts(others, "User:sa-abc123", needs)
    assert named.status is Status.OK
    (missing,) = acl_verdicts([bind(GROUP, "g", READ)], ME, needs)
    assert missing.status is Status.FAIL and missing.fix.startswith("kafka-acls.sh --add")


def test_the_principal_is_the_setting_else_the_sasl_user_else_unknown() -> None:
    scram = {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "SCRAM-SHA-512"}
    assert principal_of(Settings(**scram, kafka_sasl_username="porgate")) == "User:porgate"
    given = Settings(**scram, kafka_sasl_username="KEY", kafka_principal="User:sa-1")
    assert principal_of(given) == "User:sa-1"
    assert principal_of(Settings(kafka_security_protocol="SSL")) is None
    oauth = Settings(kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="OAUTHBEARER")
    assert principal_of(oauth) is None


def jwt(payload: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(payload)}.signature"


def test_a_graph_token_without_the_gdap_permission_is_a_refusal() -> None:
    role = "DelegatedAdminRelationship.ReadWrite.All"
    assert _missing_role(jwt({"roles": [role]}), role) is None
    assert "without the" in (_missing_role(jwt({"roles": ["User.Read.All"]}), role) or "")
    assert "roles: none" in (_missing_role(jwt({}), role) or "")
    assert _missing_role("opaque-token", role) is None
