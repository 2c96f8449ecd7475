"""Hostile and broken records on the topics porgate publishes and consumes itself: decisions and
GDAP revocations, which the notifier turns into distributors' notifications. Each broken record
is dead-lettered once, with its reason; a hostile but valid one is notified verbatim; a good
record after the corpus is notified once. With test_bad_input.py, every consumer group of every
service gets the corpus (the first test here holds that, so a new consumer cannot be missed).
The dead letters they leave are then read as people read them (the console, `porgate dlq`)."""

from __future__ import annotations

import json
import secrets

from aiokafka.errors import MessageSizeTooLargeError

from services.catalog import all_services
from services.common.runtime import group_id
from services.notifier.notifications import notification_id
from services.settings import Settings
from tests.e2e import registry_data as R
from tests.reliability import test_bad_input
from tests.reliability import world as W
from tests.reliability.harness import (
    Kafka,
    LocalServer,
    Webhook,
    eventually,
    fetch,
    fetchval,
    note,
    read_topic,
    tally,
)
from tests.reliability.kafka_corpus import (
    HOSTILE,
    Case,
    dead_letter_problems,
    generic_corpus,
    h,
    nested,
    operators_read,
    raw,
    with_data,
)
from tests.support import envelope

GROUPS = {
    W.DECISIONS: ["porgate.notifier.decisions"],
    W.REVOCATIONS: ["porgate.notifier.revocations"],
}
T = "2026-01-10T09:00:00Z"
TENANT = "ten-valid"  # partnered with R.DIST in the registry: a revocation's recipient


def decision(order_id: str, blocked: bool = True, id: str | None = None, **over) -> dict:
    codes = [800016] if blocked else []
    line = {
        "lineItemId": "1",
        "partnerIdOnRecord": R.UNKNOWN if blocked else R.VALID,
        "errorCodes": codes,
        "errors": [{"code": 800016, "message": "unknown PLA", "remediation": ["check it"]}]
        if blocked
        else [],
    }
    data = {
        "sourceEventId": f"src-{order_id}",
        "transactionKind": "new_order",
        "orderId": order_id,
        "distributorId": R.DIST,
        "customerId": "cust-1",
        "decisionId": f"dec-{order_id}",
        "outcome": "blocked" if blocked else "accepted",
        "basis": "validated",
        "errorCodes": codes,
        "primaryErrorCode": codes[0] if codes else None,
        "lines": [line],
        "decidedAt": T,
        **over,
    }
    kind = "por.transaction.blocked.v1" if blocked else "por.transaction.accepted.v1"
    return envelope(kind, data, id=id)


def revoked(rel: str, id: str | None = None, **over) -> dict:
    data = {
        "relationshipId": rel,
        "customerId": "cust-1",
        "resellerTenantId": TENANT,
        "reason": "reseller_suspended",
        "causeEventId": f"cause-{rel}",
        "revokedAt": T,
        "confirmedBy": "terminated",
        **over,
    }
    return envelope("gdap.privileges.revoked.v1", data, id=id)


def failed(rel: str, id: str | None = None, **over) -> dict:
    data = {
        "relationshipId": rel,
        "customerId": "cust-1",
        "resellerTenantId": TENANT,
        "distributorId": R.DIST,
        "reason": "reseller_suspended",
        "causeEventId": f"cause-{rel}",
        "attempts": 5,
        "lastError": "Graph answered 403",
        "failedAt": T,
        **over,
    }
    return envelope("gdap.termination.failed.v1", data, id=id)


def line_with(e: dict, **over) -> dict:
    return with_data(e, lines=[{**e["data"]["lines"][0], **over}])


def decision_corpus() -> list[Case]:
    b, a = decision("ord-bad"), decision("ord-bad-acc", blocked=False)
    step = {"step": 1, "check": "known", "outcome": "maybe"}
    cases = [
        ("blocked, outcome accepted", raw(with_data(b, outcome="accepted")), "data.outcome"),
        ("blocked, basis exempt_renewal", raw(with_data(b, basis="exempt_renewal")), "data.basis"),
        ("basis 'guess'", raw(with_data(a, basis="guess")), "data.basis"),
        ("errorCodes as strings", raw(with_data(b, errorCodes=["800016"])), "data.errorCodes"),
        ("errorCodes a string", raw(with_data(b, errorCodes="800016")), "data.errorCodes"),
        ("primaryErrorCode 1.5", raw(with_data(b, primaryErrorCode=1.5)), "primaryErrorCode"),
        ("lines an object", raw(with_data(b, lines={"1": {}})), "data.lines"),
        ("a line's errorCodes null", raw(line_with(b, errorCodes=None)), "errorCodes"),
        (
            "remediation a string",
            raw(line_with(b, errors=[{"code": 1, "message": "m", "remediation": "r"}])),
            "remediation",
        ),
        ("explanation step 'maybe'", raw(line_with(b, explanation=[step])), "outcome"),
        ("decidedAt without a zone", raw(with_data(b, decidedAt=T[:-1])), "data.decidedAt"),
        ("decidedAt a number", raw(with_data(b, decidedAt=1768035600)), "data.decidedAt"),
        ("transactionKind refund", raw(with_data(b, transactionKind="refund")), "transactionKind"),
        ("distributorId null", raw(with_data(b, distributorId=None)), "data.distributorId"),
        (
            "no decisionId",
            raw({**b, "data": {k: v for k, v in b["data"].items() if k != "decisionId"}}),
            "data.decisionId",
        ),
        ("wouldBlock 'yes'", raw(with_data(a, wouldBlock="yes")), "data.wouldBlock"),
        ("authority 'oracle'", raw(with_data(a, authority="oracle")), "data.authority"),
        ("lone surrogate", raw(with_data(b, orderId="a\ud800b")), "Invalid JSON"),
        # NaN is no JSON, though Python's parser takes it: what reads the letter must not echo it.
        (
            "basis 'guess', NaN beside it",
            raw(with_data(a, basis="guess"))[:-1] + b', "x": NaN}',
            "data.basis",
        ),
        # Whose letter is it? The console asks every letter's distributorId.
        (
            "distributorId a lone surrogate",
            raw(with_data(b, distributorId="\udc00")),
            "Invalid JSON",
        ),
        ("NUL in orderId", raw(with_data(b, orderId="ord\u0000")), "NUL"),
        # Valid JSON no btree row can hold (~2.7 kB a row): poison, retried then dead-lettered.
        (
            "accepted, orderId of 8000 characters",
            raw(with_data(a, orderId=secrets.token_hex(4000))),
            "processing failed",
        ),
        (
            "blocked, distributorId of 8000 characters",
            raw(with_data(b, distributorId=secrets.token_hex(4000))),
            "processing failed",
        ),
    ]
    return [Case(f"decisions: {label}", W.DECISIONS, v, why) for label, v, why in cases]


def revocation_corpus() -> list[Case]:
    r, f = revoked("rel-bad"), failed("rel-bad")
    cases = [
        ("reason 'bored'", raw(with_data(r, reason="bored")), "data.reason"),
        ("revokedAt without a zone", raw(with_data(r, revokedAt=T[:-1])), "data.revokedAt"),
        ("relationshipId a number", raw(with_data(r, relationshipId=5)), "data.relationshipId"),
        ("customerId null", raw(with_data(r, customerId=None)), "data.customerId"),
        (
            "no causeEventId",
            raw({**r, "data": {k: v for k, v in r["data"].items() if k != "causeEventId"}}),
            "data.causeEventId",
        ),
        ("confirmedBy a number", raw(with_data(r, confirmedBy=1)), "data.confirmedBy"),
        ("failed, attempts '5'", raw(with_data(f, attempts="5")), "data.attempts"),
        ("failed, attempts 2.5", raw(with_data(f, attempts=2.5)), "data.attempts"),
        (
            "failed, no lastError",
            raw({**f, "data": {k: v for k, v in f["data"].items() if k != "lastError"}}),
            "data.lastError",
        ),
        ("failed, failedAt a date", raw(with_data(f, failedAt="2026-01-10")), "data.failedAt"),
        ("failed, distributorId a list", raw(with_data(f, distributorId=[R.DIST])), "distributor"),
        ("NUL in relationshipId", raw(with_data(r, relationshipId="rel\u0000")), "NUL"),
        ("failed, NUL in lastError", raw(with_data(f, lastError="403\u0000")), "NUL"),
        (
            "relationshipId of 8000 characters",
            raw(with_data(r, relationshipId=secrets.token_hex(4000))),
            "processing failed",
        ),
    ]
    return [Case(f"revocations: {label}", W.REVOCATIONS, v, why) for label, v, why in cases]


def test_every_consumer_group_of_every_service_gets_the_kafka_corpus():
    settings = Settings()
    consumed = {
        (topic.name, group_id(settings, service, consumer).removeprefix(settings.topic_prefix))
        for service in all_services(settings)
        for consumer in service.consumers
        for topic in consumer.topics
    }
    covered = {
        (topic, group)
        for groups in (test_bad_input.GROUPS, GROUPS)
        for topic, names in groups.items()
        for group in names
    }
    assert consumed == covered


async def test_hostile_and_broken_decisions_and_revocations(migrated, procs):
    settings = migrated
    hook = Webhook(W.SECRET)

    # ------------------------------------------------------------ valid, however they look
    hostile_blocked = decision(
        h("orderId"),
        distributorId=h("distributorId"),
        customerId=h("customerId"),
        sourceEventId=h("sourceEventId"),
        id=h("event-id"),
    )
    hostile_blocked = line_with(
        hostile_blocked, lineItemId=h("lineItemId"), partnerIdOnRecord=h("pid")
    )
    hostile_accepted = line_with(
        decision(h("accepted-orderId"), blocked=False, customerId=h("acc-customer")),
        lineItemId=h("acc-line"),
    )
    extra_fields = decision(
        "ord-extra-fields", **{"x-unknown": {"deep": json.loads(nested(300)), "q": HOSTILE}}
    )
    rel_h = h("rel")[:200]
    hostile_revoked = revoked(rel_h, customerId=h("rev-customer"), causeEventId=h("cause"))
    hostile_failed = failed(h("failed-rel")[:200], lastError=h("lastError"))
    valid = {
        W.DECISIONS: [hostile_blocked, hostile_accepted, extra_fields],
        W.REVOCATIONS: [hostile_revoked, hostile_failed],
    }
    # The first copies of reused ids; the second copies in the corpus must change nothing.
    first = {
        W.DECISIONS: decision("ord-dup-first", id="evt-dup-decision"),
        W.REVOCATIONS: revoked("rel-dup-first", id="evt-dup-revocation"),
    }
    after = {W.DECISIONS: decision("ord-after-corpus"), W.REVOCATIONS: revoked("rel-after")}

    corpus: list[Case] = []
    for topic, good in after.items():
        corpus += generic_corpus(topic, good)
    corpus += decision_corpus() + revocation_corpus()
    corpus += [
        Case(
            "decisions: same id, another body",
            W.DECISIONS,
            raw(decision("ord-dup-second", id="evt-dup-decision")),
            "different body",
        ),
        Case(
            "revocations: same id, another body",
            W.REVOCATIONS,
            raw(revoked("rel-dup-second", id="evt-dup-revocation")),
            "different body",
        ),
    ]

    # What the notifier must have queued, and nothing else: (cause event, kind, distributor).
    notices = {
        (hostile_blocked["id"], "transaction_blocked", h("distributorId")),
        (extra_fields["id"], "transaction_blocked", R.DIST),
        (hostile_revoked["id"], "privileges_revoked", R.DIST),
        (hostile_failed["id"], "gdap_termination_failed", R.DIST),
        (first[W.DECISIONS]["id"], "transaction_blocked", R.DIST),
        (first[W.REVOCATIONS]["id"], "privileges_revoked", R.DIST),
        (after[W.DECISIONS]["id"], "transaction_blocked", R.DIST),
        (after[W.REVOCATIONS]["id"], "privileges_revoked", R.DIST),
    }
    expected_ids = {notification_id(*n) for n in notices}

    async with LocalServer(hook.app()) as server, Kafka(settings) as kafka:
        procs.spawn(
            "notifier", notify_webhook_url=f"{server.base}/hook", notify_webhook_secret=W.SECRET
        )
        await kafka.send_many(W.REGISTRY, W.registry())

        async def loaded():
            return await fetchval(settings, "SELECT count(*) FROM notifier.inbox") >= len(
                W.registry()
            )

        await eventually(loaded, 60, what="the registry loaded", describe=procs.report)
        for topic, e in first.items():
            await kafka.send(topic, e, key="dup")
        for topic, events in valid.items():
            for e in events:
                await kafka.send(topic, e, key="hostile")
        for case in corpus:
            try:
                md = await kafka.send(case.topic, case.value, key=case.key)
                case.sent = (md.partition, md.offset)
            except MessageSizeTooLargeError as exc:  # the broker refused it: fine, and said so
                case.producer_error = repr(exc)
        for topic, e in after.items():
            await kafka.send(topic, e, key="after")

        expected_dead = [(c, g) for c in corpus if c.sent is not None for g in GROUPS[c.topic]]
        dead = await read_topic(
            settings, W.DLQ, lambda rs: len(rs) >= len(expected_dead), timeout=90, settle=2.0
        )

        async def notified():
            return hook.accepted_ids() >= expected_ids

        await eventually(notified, 60, what="every notice delivered", describe=procs.report)
        procs.check_alive()

    problems = dead_letter_problems(settings, expected_dead, dead)
    assert not problems, "\n".join(problems)
    reads = await operators_read(settings, expected_dead, dead)
    for c in corpus:
        if c.producer_error:
            assert "MessageSizeTooLarge" in c.producer_error and "1.5 MB" in c.label

    # Nothing lost, nothing twice, nothing from a broken record or a reused id's second body.
    rows = await fetch(
        settings,
        "SELECT notification_id, kind, distributor_id, payload FROM notifier.notifications",
    )
    assert sorted(r["notification_id"] for r in rows) == sorted(expected_ids)
    delivered = [rc for rc in hook.receipts if rc.answered == 204]
    assert sorted(rc.notification_id for rc in delivered) == sorted(expected_ids)
    # Verbatim, however they look.
    bodies = {json.loads(rc.body)["notificationId"]: json.loads(rc.body) for rc in delivered}
    blocked = bodies[
        notification_id(hostile_blocked["id"], "transaction_blocked", h("distributorId"))
    ]
    assert (blocked["orderId"], blocked["distributorId"]) == (h("orderId"), h("distributorId"))
    gone = bodies[notification_id(hostile_revoked["id"], "privileges_revoked", R.DIST)]
    assert (gone["relationshipId"], gone["customerId"]) == (rel_h, h("rev-customer"))
    assert await fetchval(
        settings,
        "SELECT customer_id FROM notifier.seen_subscriptions WHERE ref_id = $1",
        h("accepted-orderId"),
    ) == h("acc-customer")
    assert (
        await fetchval(
            settings,
            "SELECT count(*) FROM notifier.revoked_relationships WHERE relationship_id = $1",
            "rel-dup-second",
        )
        == 0
    )

    hostile = len(corpus) + sum(len(v) for v in valid.values())
    tally(
        **{
            "events pushed": hostile + len(W.registry()) + len(first) + len(after),
            "bad inputs tried": hostile,
            "lost": 0,
            "hostile corpus: Kafka": hostile,
        }
    )
    note(
        f"bad input: {len(corpus)} broken decisions and revocations -> {len(expected_dead)} dead"
        f" letters, each with its reason; {hostile - len(corpus)} hostile-but-valid ones notified"
        f" or stored verbatim; a good record after the corpus notified once on each topic;"
        f" the dead letters read {reads} times in the console and `porgate dlq`, never a 500"
    )
