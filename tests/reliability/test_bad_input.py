"""Hostile and broken messages on every inbound topic: each is dead-lettered with a clear reason
or yields the decision the contract says; none stops a consumer or changes state it should not."""

from __future__ import annotations

import json
import secrets
from collections import Counter, defaultdict

from aiokafka.errors import MessageSizeTooLargeError

from tests.e2e import registry_data as R
from tests.reliability import world as W
from tests.reliability.harness import (
    Kafka,
    LocalServer,
    Webhook,
    dlq_headers,
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
    raw,
    with_data,
)
from tests.support import envelope

# Which consumer groups read each inbound topic: each dead-letters a bad message on its own.
GROUPS = {
    W.ORDERS: ["porgate.order-intake.orders"],
    W.CHANGES: ["porgate.subscription-change.changes"],
    W.REGISTRY: [
        "porgate.por-validator.registry",
        "porgate.gdap-revoker.registry",
        "porgate.notifier.registry",
    ],
    W.REQUESTS: ["porgate.por-validator.requests"],
}
SERVICES = ["order-intake", "subscription-change", "por-validator", "gdap-revoker", "notifier"]

T = "2026-01-10T09:00:00Z"


def order_data(order_id: str, *lines: dict, **over) -> dict:
    return {
        "orderId": order_id,
        "distributorId": R.DIST,
        "customerId": "cust-1",
        "placedAt": T,
        "lineItems": list(lines) or [line()],
        **over,
    }


def line(pid: str | None = R.VALID, **over) -> dict:
    out = {
        "lineItemId": "1",
        "offerId": "CFQ7TTC0LH18:0001",
        "quantity": 5,
        "billingPlan": "monthly",
        "termDuration": "P1Y",
        **over,
    }
    if pid is not None:
        out["partnerIdOnRecord"] = pid
    return out


def order(order_id: str, *lines: dict, id: str | None = None, **over) -> dict:
    return envelope("csp.order.placed.v1", order_data(order_id, *lines, **over), id=id)


def change_data(sub: str, **over) -> dict:
    return {
        "changeId": f"chg-{sub}",
        "subscriptionId": sub,
        "distributorId": R.DIST,
        "customerId": "cust-1",
        "kind": "seat_count",
        "requestedAt": T,
        "partnerIdOnRecord": R.VALID,
        "scheduledChangeSetAt": None,
        "details": {"quantity": 8},
        **over,
    }


def change(sub: str, id: str | None = None, **over) -> dict:
    return envelope("csp.subscription.change-requested.v1", change_data(sub, **over), id=id)


def request_data(order_id: str, **over) -> dict:
    return {
        "sourceEventId": f"src-{order_id}",
        "transactionKind": "new_order",
        "orderId": order_id,
        "distributorId": R.DIST,
        "customerId": "cust-1",
        "requestedAt": T,
        "lines": [{"lineItemId": "1", "partnerIdOnRecord": R.VALID}],
        **over,
    }


def request(order_id: str, id: str | None = None, **over) -> dict:
    return envelope("por.validation.requested.v1", request_data(order_id, **over), id=id)


def account(pid: str, tid: str = "ten-valid", id: str | None = None, **over) -> dict:
    return envelope(
        "csp.partner-account.upserted.v1",
        {
            "partnerId": pid,
            "accountType": "PLA",
            "status": "active",
            "name": f"Reseller {pid}",
            "resellerTenantId": tid,
            **over,
        },
        id=id,
    )


def valid_for(topic: str, tag: str) -> dict:
    return {
        W.ORDERS: lambda: order(f"ord-x-{tag}"),
        W.CHANGES: lambda: change(f"sub-x-{tag}"),
        W.REGISTRY: lambda: account("1000999"),
        W.REQUESTS: lambda: request(f"req-x-{tag}"),
    }[topic]()


async def test_hostile_and_broken_input_on_every_inbound_topic(migrated, procs):
    settings = migrated
    hook = Webhook(W.SECRET)

    # ------------------------------------------------------------ valid, however they look
    ten_h, cust_h, rel_h = h("ten")[:200], h("cust")[:200], h("rel")[:200]
    hostile_world = [
        envelope(
            "csp.distributor.upserted.v1",
            {"distributorId": h("dist"), "name": h("name"), "country": "DE"},
        ),
        envelope(
            "csp.reseller-tenant.upserted.v1",
            {
                "resellerTenantId": ten_h,
                "name": h("tenant-name"),
                "kind": "csp_indirect_reseller",
                "status": "active",
                "indirectResellerAuthorized": True,
                "country": "DE",
            },
        ),
        envelope(
            "csp.partnership.upserted.v1",
            {"distributorId": R.DIST, "resellerTenantId": ten_h, "status": "active"},
        ),
        envelope(
            "csp.customer-assignment.upserted.v1",
            {
                "customerId": cust_h,
                "resellerTenantId": ten_h,
                "distributorId": R.DIST,
                "status": "assigned",
            },
        ),
        envelope(
            "csp.gdap-relationship.upserted.v1",
            {
                "relationshipId": rel_h,
                "customerId": cust_h,
                "resellerTenantId": ten_h,
                "roles": [h("role")],
                "status": "active",
            },
        ),
        account("1000200", ten_h, name=h("account-name")),
        account("  1000201 ", "ten-valid"),  # stored trimmed
    ]
    sql_order = order(
        h("orderId"),
        line(
            R.VALID,
            lineItemId=h("lineItemId"),
            offerId=h("offerId"),
            billingPlan=h("billingPlan"),
            termDuration=h("termDuration"),
        ),
        customerId=h("customerId"),
        id=h("event-id"),
    )
    sql_order["source"], sql_order["subject"] = h("source"), h("subject")
    sql_blocked = order(h("blocked-orderId"), line(h("pid")), distributorId=h("distributorId"))
    decided: dict[str, tuple[str, list[int]]] = {  # decision subject -> (basis, codes)
        sql_order["data"]["orderId"]: ("validated", []),
        sql_blocked["data"]["orderId"]: ("validated", [800016]),
    }
    valid_orders = [sql_order, sql_blocked]
    for label, pid, codes in [
        ("arabic-indic", "١٠٠٠٠٠١", [800016]),
        ("fullwidth", "１０００００１", [800016]),
        ("devanagari", "१०००००१", [800016]),
        ("superscript", "¹⁰⁰⁰⁰⁰¹", [800016]),
        ("mixed", "100000١", [800016]),
        ("zero-width space", "\u200b1000001", [800016]),
        ("sign", "+1000001", [800016]),
        ("spaces", "  1000001 ", []),
        ("tab and newline", "\t1000001\n", []),
        ("missing", None, [800016]),
        ("null", "__null__", [800016]),
    ]:
        li = line(None) if pid in (None, "__null__") else line(pid)
        if pid == "__null__":
            li["partnerIdOnRecord"] = None
        valid_orders.append(order(f"ord-pla-{label}", li))
        decided[f"ord-pla-{label}"] = ("validated", codes)
    extra_fields = order(
        "ord-extra-fields",
        **{"x-unknown": {"deep": json.loads(nested(300)), "nan": "NaN", "q": HOSTILE}},
    )
    valid_orders.append(extra_fields)
    decided["ord-extra-fields"] = ("validated", [])
    dup_first = order("ord-dup-first", id="evt-dup-order")

    valid_changes = [
        change(h("sub")[:200], changeId=h("changeId"), customerId=h("change-customer")),
        change("sub-kind-hostile", kind=h("kind")[:120]),
        change("sub-pla-arabic", partnerIdOnRecord="١٠٠٠٠٠١"),
    ]
    decided[h("sub")[:200]] = ("validated", [])
    decided["sub-kind-hostile"] = ("not_in_scope", [])
    decided["sub-pla-arabic"] = ("validated", [800016])
    valid_requests = [
        request(h("request-orderId"), sourceEventId=h("sourceEventId"), customerId=h("rc"))
    ]
    decided[h("request-orderId")] = ("validated", [])

    # ------------------------------------------------------------ broken or hostile
    corpus: list[Case] = []
    for topic in GROUPS:
        corpus += generic_corpus(topic, valid_for(topic, topic.split(".")[1]))
    o = order("ord-bad")
    corpus += [
        Case("orders: orderId a number", W.ORDERS, raw(with_data(o, orderId=123)), "data.orderId"),
        Case(
            "orders: orderId of 300 characters",
            W.ORDERS,
            raw(with_data(o, orderId="o" * 300)),
            "data.orderId",
        ),
        Case(
            "orders: lineItems an object",
            W.ORDERS,
            raw(with_data(o, lineItems={"1": line()})),
            "data.lineItems",
        ),
        Case("orders: no line items", W.ORDERS, raw(with_data(o, lineItems=[])), "data.lineItems"),
        Case(
            "orders: quantity 'five'",
            W.ORDERS,
            raw(with_data(o, lineItems=[line(quantity="five")])),
            "quantity",
        ),
        Case(
            "orders: quantity 0",
            W.ORDERS,
            raw(with_data(o, lineItems=[line(quantity=0)])),
            "quantity",
        ),
        Case(
            "orders: partnerIdOnRecord a number",
            W.ORDERS,
            raw(with_data(o, lineItems=[line(1000001)])),
            "partnerIdOnRecord",
        ),
        Case(
            "orders: placedAt without a zone",
            W.ORDERS,
            raw(with_data(o, placedAt="2026-01-10T09:00:00")),
            "data.placedAt",
        ),
        Case(
            "orders: placedAt a date",
            W.ORDERS,
            raw(with_data(o, placedAt="2026-01-10")),
            "data.placedAt",
        ),
        Case(
            "orders: lone surrogate",
            W.ORDERS,
            raw(with_data(o, orderId="a\ud800b")),
            "Invalid JSON",
        ),
        Case("orders: NUL in orderId", W.ORDERS, raw(with_data(o, orderId="ord\u0000x")), "NUL"),
    ]
    c = change("sub-bad")
    corpus += [
        Case(
            "changes: requestedAt without a zone",
            W.CHANGES,
            raw(with_data(c, requestedAt="2026-02-01T10:00:00")),
            "data.requestedAt",
        ),
        Case(
            "changes: scheduledChangeSetAt without a zone",
            W.CHANGES,
            raw(
                with_data(
                    c, kind="scheduled_change_execution", scheduledChangeSetAt="2025-11-01T00:00:00"
                )
            ),
            "data.scheduledChangeSetAt",
        ),
        Case("changes: empty kind", W.CHANGES, raw(with_data(c, kind="")), "data.kind"),
        Case(
            "changes: details a list", W.CHANGES, raw(with_data(c, details=[1, 2])), "data.details"
        ),
        Case(
            "changes: NUL in details", W.CHANGES, raw(with_data(c, details={"q": "\u0000"})), "NUL"
        ),
        Case(
            "changes: subscriptionId null",
            W.CHANGES,
            raw(with_data(c, subscriptionId=None)),
            "data.subscriptionId",
        ),
        Case(
            "changes: same id, another body",
            W.CHANGES,
            raw(change("sub-dup-second", id="evt-dup-change")),
            "different body",
            key="sub-dup",
        ),
    ]
    a = account("1000300")
    corpus += [
        Case(
            "registry: accountType XYZ",
            W.REGISTRY,
            raw(with_data(a, accountType="XYZ")),
            "data.accountType",
        ),
        Case("registry: status a number", W.REGISTRY, raw(with_data(a, status=5)), "data.status"),
        Case(
            "registry: authorized 'maybe'",
            W.REGISTRY,
            raw(
                envelope(
                    "csp.reseller-tenant.upserted.v1",
                    {
                        "resellerTenantId": "ten-maybe",
                        "name": "n",
                        "kind": "csp_indirect_reseller",
                        "status": "active",
                        "indirectResellerAuthorized": "maybe",
                        "country": "DE",
                    },
                )
            ),
            "data.indirectResellerAuthorized",
        ),
        Case(
            "registry: country of 40 characters",
            W.REGISTRY,
            raw(
                envelope(
                    "csp.distributor.upserted.v1",
                    {"distributorId": "dist-long", "name": "n", "country": "D" * 40},
                )
            ),
            "data.country",
        ),
        Case(
            "registry: unknown language",
            W.REGISTRY,
            raw(
                envelope(
                    "csp.distributor.upserted.v1",
                    {
                        "distributorId": "dist-lang",
                        "name": "n",
                        "country": "DE",
                        "preferredLanguage": "xx",
                    },
                )
            ),
            "data.preferredLanguage",
        ),
        Case(
            "registry: roles not a list",
            W.REGISTRY,
            raw(
                envelope(
                    "csp.gdap-relationship.upserted.v1",
                    {
                        "relationshipId": "rel-bad",
                        "customerId": "c",
                        "resellerTenantId": "t",
                        "roles": "admin",
                        "status": "active",
                    },
                )
            ),
            "data.roles",
        ),
        Case(
            "registry: same id, another body",
            W.REGISTRY,
            raw(account("1000101", id="evt-dup-account", status="inactive")),
            "different body",
            key="1000101",
        ),
    ]
    r = request("req-bad")
    corpus += [
        Case("requests: no lines", W.REQUESTS, raw(with_data(r, lines=[])), "data.lines"),
        Case(
            "requests: transactionKind refund",
            W.REQUESTS,
            raw(with_data(r, transactionKind="refund")),
            "data.transactionKind",
        ),
        Case(
            "requests: requestedAt without a zone",
            W.REQUESTS,
            raw(with_data(r, requestedAt="2026-01-10T09:00:00")),
            "data.requestedAt",
        ),
        Case("requests: NUL in orderId", W.REQUESTS, raw(with_data(r, orderId="req\u0000")), "NUL"),
        # Valid JSON the database cannot index (a btree row holds ~2.7 kB): a poison message.
        Case(
            "requests: sourceEventId of 8000 characters",
            W.REQUESTS,
            raw(with_data(r, sourceEventId=secrets.token_hex(4000))),
            "processing failed",
        ),
        Case(
            "requests: lineItemId of 8000 characters",
            W.REQUESTS,
            raw(
                with_data(
                    r, lines=[{"lineItemId": secrets.token_hex(4000), "partnerIdOnRecord": R.VALID}]
                )
            ),
            "processing failed",
        ),
        Case(
            "requests: same id, another body",
            W.REQUESTS,
            raw(request("req-dup-second", id="evt-dup-request")),
            "different body",
            key="req-dup",
        ),
    ]

    async with LocalServer(hook.app()) as server, Kafka(settings) as kafka:
        for name in SERVICES:
            procs.spawn(
                name,
                notify_webhook_url=f"{server.base}/hook",
                notify_webhook_secret=W.SECRET,
                graph_timeout_s=1,
            )
        await kafka.send_many(W.REGISTRY, W.registry() + [(None, e) for e in hostile_world])
        first_account = account("1000101", id="evt-dup-account")
        await kafka.send(W.REGISTRY, first_account, key="1000101")

        async def loaded():
            return (
                await fetchval(settings, "SELECT count(*) FROM por_validator.partner_accounts")
                >= 11
                and await fetchval(settings, "SELECT count(*) FROM gdap_revoker.gdap_relationships")
                == 1
                and await fetchval(settings, "SELECT count(*) FROM notifier.customer_assignments")
                == 1
                and await fetchval(settings, "SELECT count(*) FROM notifier.inbox")
                >= len(W.registry()) + 8
            )

        await eventually(loaded, 60, what="registry loaded", describe=procs.report)
        tables_before = await fetch(
            settings,
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
            " ORDER BY 1, 2",
        )

        # The first copies of the reused ids, then the corpus, then a good message on each topic.
        await kafka.send(W.ORDERS, dup_first, key="ord-dup")
        await kafka.send(W.REQUESTS, request("req-dup-first", id="evt-dup-request"), key="req-dup")
        await kafka.send(W.CHANGES, change("sub-dup-first", id="evt-dup-change"), key="sub-dup")
        decided["ord-dup-first"] = ("validated", [])
        decided["sub-dup-first"] = ("validated", [])
        decided["req-dup-first"] = ("validated", [])
        for e in valid_orders:
            await kafka.send(W.ORDERS, e, key=e["data"]["orderId"])
        for e in valid_changes:
            await kafka.send(W.CHANGES, e, key=e["data"]["subscriptionId"])
        for e in valid_requests:
            await kafka.send(W.REQUESTS, e, key=e["data"]["orderId"])
        await kafka.send(W.REGISTRY, W.tenant(ten_h, "suspended"), key=ten_h)

        # An order event's id reused for another order: order-intake keeps no inbox (its only
        # effect is the request, under an id derived from the order event's), so the second
        # request meets the first's id in por-validator's inbox, which dead-letters it. Sent
        # once the first is decided: the two requests' keys may fall on different partitions.
        async def first_copy_decided():
            return await fetchval(
                settings,
                "SELECT count(*) FROM por_validator.decisions WHERE order_id = 'ord-dup-first'",
            )

        await eventually(first_copy_decided, 60, what="the first copy of the reused order id")
        await kafka.send(W.ORDERS, order("ord-dup-second", id="evt-dup-order"), key="ord-dup")
        for case in corpus:
            try:
                md = await kafka.send(case.topic, case.value, key=case.key)
                case.sent = (md.partition, md.offset)
            except MessageSizeTooLargeError as exc:  # the broker refused it: fine, and said so
                case.producer_error = repr(exc)
        after = {
            W.ORDERS: order("ord-after-corpus"),
            W.CHANGES: change("sub-after-corpus"),
            W.REQUESTS: request("req-after-corpus"),
            W.REGISTRY: account("1000400"),
        }
        for topic, e in after.items():
            await kafka.send(topic, e, key="after")
        decided.update(
            {
                "ord-after-corpus": ("validated", []),
                "sub-after-corpus": ("validated", []),
                "req-after-corpus": ("validated", []),
            }
        )

        # ------------------------------------------------------------ wait for every outcome
        expected_dead = [(c, g) for c in corpus if c.sent is not None for g in GROUPS[c.topic]]

        def subjects(rs):
            return {
                (
                    json.loads(r.value)["data"].get("orderId")
                    or json.loads(r.value)["data"]["subscriptionId"]
                )
                for r in rs
            }

        decisions = await read_topic(
            settings, W.DECISIONS, lambda rs: subjects(rs) >= set(decided), timeout=90, settle=1.0
        )
        dead = await read_topic(
            settings, W.DLQ, lambda rs: len(rs) >= len(expected_dead) + 1, timeout=90, settle=2.0
        )

        async def accounts_after():
            return (
                await fetchval(
                    settings,
                    "SELECT count(*) FROM por_validator.partner_accounts"
                    " WHERE partner_id = '1000400'",
                )
                == 1
            )

        await eventually(accounts_after, 30, what="the good registry event after the corpus")
        blocked_ids = {
            W.blocked_notification_id(sql_blocked["id"], sql_blocked["data"]["distributorId"]),
            W.revoked_notification_id(rel_h),
        }

        async def notified():
            return hook.accepted_ids() >= blocked_ids

        await eventually(notified, 30, what="hostile notifications delivered")
        procs.check_alive()

    # ------------------------------------------------------------ decisions: normal, verbatim, once
    by_subject: dict[str, list[dict]] = defaultdict(list)
    for rec in decisions:
        d = json.loads(rec.value)["data"]
        subject = d.get("orderId") or d["subscriptionId"]
        by_subject[subject].append(d)
        assert rec.key.decode() == subject  # keyed by orderId/subscriptionId, verbatim
    assert set(by_subject) == set(decided), (
        f"unexpected decisions: {set(by_subject) ^ set(decided)}"
    )
    for subject, (basis, codes) in decided.items():
        ds = by_subject[subject]
        assert len({d["decisionId"] for d in ds}) == 1, subject
        assert ds[0]["basis"] == basis and ds[0]["errorCodes"] == codes, (subject, ds[0])
    d = by_subject[sql_order["data"]["orderId"]][0]
    assert d["sourceEventId"] == sql_order["id"] and d["customerId"] == h("customerId")
    assert d["lines"][0]["lineItemId"] == h("lineItemId") and d["outcome"] == "accepted"
    d = by_subject[h("request-orderId")][0]
    assert d["sourceEventId"] == h("sourceEventId") and d["customerId"] == h("rc")
    d = by_subject[sql_blocked["data"]["orderId"]][0]
    assert d["distributorId"] == h("distributorId") and d["lines"][0]["partnerIdOnRecord"] == h(
        "pid"
    )
    assert by_subject[h("sub")[:200]][0]["changeId"] == h("changeId")
    assert by_subject["sub-kind-hostile"][0]["changeKind"] == h("kind")[:120]
    for second in ("ord-dup-second", "req-dup-second", "sub-dup-second"):
        assert second not in by_subject  # the first copy's effect only

    # Stored verbatim: the order as received is the request stored with its decision.
    stored = await fetchval(
        settings, "SELECT request FROM por_validator.decisions WHERE order_id = $1", h("orderId")
    )
    assert json.loads(stored)["customerId"] == h("customerId")
    assert json.loads(stored)["sourceEventId"] == h("event-id")
    assert await fetchval(
        settings, "SELECT name FROM por_validator.distributors WHERE distributor_id = $1", h("dist")
    ) == h("name")
    assert await fetchval(
        settings, "SELECT name FROM por_validator.partner_accounts WHERE partner_id = '1000200'"
    ) == h("account-name")
    assert (
        await fetchval(
            settings,
            "SELECT count(*) FROM por_validator.partner_accounts WHERE partner_id = '1000201'",
        )
        == 1
    )
    assert (
        await fetchval(
            settings,
            "SELECT status FROM por_validator.partner_accounts WHERE partner_id = '1000101'",
        )
        == "active"
    ), "a reused id with another body changed the registry"
    assert (
        await fetchval(
            settings,
            "SELECT reason FROM gdap_revoker.termination_ledger WHERE relationship_id = $1",
            rel_h,
        )
        == "reseller_suspended"
    )
    accepted = {
        json.loads(rc.body)["notificationId"]: json.loads(rc.body)
        for rc in hook.receipts
        if rc.answered == 204
    }
    blocked_note = accepted[W.blocked_notification_id(sql_blocked["id"], h("distributorId"))]
    assert blocked_note["orderId"] == h("blocked-orderId") and blocked_note["distributorId"] == h(
        "distributorId"
    )
    revoked_note = accepted[W.revoked_notification_id(rel_h)]
    assert revoked_note["relationshipId"] == rel_h and revoked_note["customerId"] == cust_h
    # Bad messages left no rows: only the valid orders and requests were decided.
    recorded = {
        r["order_id"]
        for r in await fetch(
            settings, "SELECT order_id FROM por_validator.decisions WHERE order_id IS NOT NULL"
        )
    }
    assert recorded == {e["data"]["orderId"] for e in valid_orders + valid_requests} | {
        "ord-dup-first",
        "ord-after-corpus",
        "req-dup-first",
        "req-after-corpus",
    }
    # Every table is still there.
    tables_after = await fetch(
        settings,
        "SELECT table_schema, table_name FROM information_schema.tables"
        " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        " ORDER BY 1, 2",
    )
    assert tables_after == tables_before

    # ------------------------------------------------------------ dead letters: each once per group, with why
    reused = [r for r in dead if b"ord-dup-second" in (r.value or b"")]
    assert len(reused) == 1, reused
    hd = dlq_headers(reused[0])
    assert hd["x-dlq-source-topic"] == W.REQUESTS, hd
    assert hd["x-dlq-consumer-group"].endswith("porgate.por-validator.requests"), hd
    assert "different body" in hd["x-dlq-error"], hd
    copy = json.loads(reused[0].value)["data"]
    assert (copy["orderId"], copy["sourceEventId"]) == ("ord-dup-second", "evt-dup-order")
    problems = dead_letter_problems(settings, expected_dead, [r for r in dead if r not in reused])
    assert not problems, "\n".join(problems)
    refused = [c.label for c in corpus if c.producer_error]
    for c in corpus:
        if c.producer_error:
            assert "MessageSizeTooLarge" in c.producer_error and "1.5 MB" in c.label, (
                c.producer_error
            )

    bad = (
        len(corpus)
        + len(valid_orders)
        + len(valid_changes)
        + len(valid_requests)
        + len(hostile_world)
    )
    tally(
        **{
            "events pushed": bad + len(W.registry()) + 8,
            "bad inputs tried": bad,
            "lost": 0,
            "hostile corpus: Kafka": bad,
        }
    )
    reasons = Counter(c.reason for c in corpus)
    note(
        f"bad input: {len(corpus)} broken messages on 4 topics -> {len(expected_dead)} dead letters (one per "
        f"consumer group), each with its reason ({len(reasons)} distinct); {len(refused)} refused by the broker; "
        f"{len(valid_orders) + len(valid_changes) + len(valid_requests) + len(hostile_world)} hostile-but-valid "
        f"messages decided or stored verbatim; a good message after the corpus still decided on every topic"
    )
