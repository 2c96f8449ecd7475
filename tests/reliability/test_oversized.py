"""Messages too large to forward must not wedge a consumer.

Two ways to get there with input the broker accepted: a message of several megabytes (the
embedded broker takes it; the dead-letter copy is then over the producer's 2 MiB limit), and
a valid order of 1000 lines whose decision event, with every line's error texts, is over that
limit (on Apache Kafka with its default 1 MB message.max.bytes, far smaller orders do it).
Either way the message can never be sent, and one message must not stop the partition: the
next message on the topic still has to be decided.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from contracts.codec import decision_event, encode
from contracts.events import ValidationLine, ValidationRequested
from services.common.kafka import MAX_REQUEST_SIZE
from services.domain.decisions import decide
from services.domain.por_rules import Distributor, PartnerAccount, Registry, ResellerTenant
from services.por_validator.handlers import SOURCE
from tests.e2e import registry_data as R
from tests.reliability import world as W
from tests.reliability.harness import (
    Kafka,
    dlq_headers,
    eventually,
    fetchval,
    note,
    read_topic,
    tally,
)
from tests.reliability.test_bad_input import change, line, order
from tests.support import envelope

PRODUCER_LIMIT = MAX_REQUEST_SIZE
WORST_PID = (
    "1000666"  # inactive PLA, suspended reseller in another region, no partnership: 4 codes a line
)


def worst_reseller() -> list[tuple[str, dict]]:
    return [
        (
            "ten-worst",
            envelope(
                "csp.reseller-tenant.upserted.v1",
                {
                    "resellerTenantId": "ten-worst",
                    "name": "Worst",
                    "kind": "csp_indirect_reseller",
                    "status": "suspended",
                    "indirectResellerAuthorized": True,
                    "country": "US",
                },
            ),
        ),
        (
            WORST_PID,
            envelope(
                "csp.partner-account.upserted.v1",
                {
                    "partnerId": WORST_PID,
                    "accountType": "PLA",
                    "status": "inactive",
                    "name": "Worst",
                    "resellerTenantId": "ten-worst",
                },
            ),
        ),
    ]


def huge_order() -> dict:
    # Long line ids and a padded PLA id (trimmed, and valid) are within the contract's limits.
    lines = [line(WORST_PID + " " * 150, lineItemId=f"{i:04d}-" + "L" * 250) for i in range(1000)]
    return order("ord-huge", *lines)


def decision_size(order_event: dict) -> int:
    """The size of the decision event por-validator publishes for this order (pure, same code)."""
    data = order_event["data"]
    request = ValidationRequested(
        source_event_id=order_event["id"],
        transaction_kind="new_order",
        order_id=data["orderId"],
        distributor_id=data["distributorId"],
        customer_id=data["customerId"],
        requested_at=datetime(2026, 1, 10, tzinfo=UTC),
        lines=[
            ValidationLine(
                line_item_id=li["lineItemId"], partner_id_on_record=li["partnerIdOnRecord"]
            )
            for li in data["lineItems"]
        ],
    )
    registry = Registry()
    registry.accounts[WORST_PID] = PartnerAccount(WORST_PID, "PLA", False, "ten-worst")
    registry.tenants["ten-worst"] = ResellerTenant(
        "ten-worst", "csp_indirect_reseller", "suspended", True, "US"
    )
    registry.distributors[R.DIST] = Distributor(R.DIST, "Europe", "en")
    decision = decide(
        request,
        registry,
        enforcement_start=datetime(2025, 12, 1, tzinfo=UTC),
        decided_at=datetime.now(UTC),
    )
    assert decision.error_codes == [900151, 900400, 900414, 900152]
    return len(encode(decision_event(decision, source=SOURCE)))


async def test_messages_too_large_to_forward_never_wedge_a_consumer(migrated, procs):
    settings = migrated
    big_order = huge_order()
    order_bytes = len(json.dumps(big_order).encode())
    decision_bytes = decision_size(big_order)
    assert order_bytes < 1_000_000 < PRODUCER_LIMIT < decision_bytes, (order_bytes, decision_bytes)
    big_change = change("sub-3mb", details={"padding": "x" * 3_000_000})

    async with Kafka(settings) as kafka:
        running = {
            name: procs.spawn(name)
            for name in ("order-intake", "subscription-change", "por-validator")
        }
        await kafka.send_many(W.REGISTRY, W.registry() + worst_reseller())

        async def loaded():
            return (
                await fetchval(
                    settings,
                    "SELECT count(*) FROM por_validator.partner_accounts WHERE partner_id = $1",
                    WORST_PID,
                )
                == 1
                and await fetchval(
                    settings,
                    "SELECT count(*) FROM por_validator.reseller_tenants"
                    " WHERE reseller_tenant_id = 'ten-worst'",
                )
                == 1
                and await fetchval(settings, "SELECT count(*) FROM por_validator.distributors") >= 1
            )

        await eventually(loaded, 60, what="registry loaded", describe=procs.report)
        await kafka.send(W.ORDERS, big_order, key="ord-huge")
        md = await kafka.send(W.CHANGES, big_change, key="sub-3mb")

        async def huge_decided():
            return (
                await fetchval(
                    settings,
                    "SELECT count(*) FROM por_validator.decisions WHERE order_id = 'ord-huge'",
                )
                == 1
            )

        # The decision is made and committed; only publishing it is left.
        await eventually(
            huge_decided, 30, what="the 1000-line order decided", describe=procs.report
        )
        await asyncio.sleep(1.0)
        # Then the next message on each topic: a consumer that is not wedged decides it.
        await kafka.send(W.ORDERS, order("ord-after-huge"), key="ord-after-huge")
        await kafka.send(W.CHANGES, change("sub-after-3mb"), key="sub-after-3mb")

        def subjects(records) -> set[str]:
            out = set()
            for r in records:
                d = json.loads(r.value)["data"]
                out.add(d.get("orderId") or d.get("subscriptionId"))
            return out

        wanted = {"ord-after-huge", "sub-after-3mb"}
        try:
            decisions = await read_topic(
                settings, W.DECISIONS, lambda rs: subjects(rs) >= wanted, timeout=20
            )
            decided = subjects(decisions)
        except AssertionError:
            decided = subjects(
                await read_topic(settings, W.DECISIONS, lambda rs: True, timeout=5, settle=1.0)
            )
        dead = await read_topic(settings, W.DLQ, lambda rs: True, timeout=5, settle=1.0)
        procs.check_alive()

    def evidence(name: str) -> str:
        log = running[name].log_path.read_text(errors="replace")
        retries = log.count("transient failure, retrying")
        return f" [{retries} retries logged; MessageSizeTooLargeError in its log: {'MessageSizeTooLarge' in log}]"

    stuck = []
    if "ord-after-huge" not in decided:
        stuck.append(
            f"por-validator: the order after a valid 1000-line order (decision of {decision_bytes} bytes, "
            f"over the producer's {PRODUCER_LIMIT}) was never decided: publishing the oversized decision "
            f"is retried for ever (MessageSizeTooLargeError counts as transient)"
            + evidence("por-validator")
        )
    if "sub-after-3mb" not in decided:
        stuck.append(
            f"subscription-change: the change after a {len(json.dumps(big_change))}-byte message was never "
            f"decided: its dead-letter copy is over the producer's limit and the send is retried for ever"
            + evidence("subscription-change")
        )
    assert not stuck, "\n".join(stuck)

    # Not wedged, and nothing dropped silently either: decided, or dead-lettered with the reason.
    reasons = {
        dlq_headers(r).get("x-dlq-source-offset"): dlq_headers(r).get("x-dlq-error", "")
        for r in dead
        if dlq_headers(r).get("x-dlq-source-topic") == W.CHANGES
    }
    assert str(md.offset) in reasons and "exceed" in reasons[str(md.offset)].lower(), reasons
    huge_dead = [
        dlq_headers(r)
        for r in dead
        if dlq_headers(r).get("x-dlq-source-topic") in (W.ORDERS, W.REQUESTS)
    ]
    assert "ord-huge" in decided or huge_dead, (
        "the 1000-line order was neither decided nor dead-lettered"
    )

    tally(**{"events pushed": len(W.registry()) + 6, "bad inputs tried": 2, "lost": 0})
    note(
        f"oversized: a {len(json.dumps(big_change)) // 1_000_000} MB change and a valid 1000-line order whose "
        f"decision is {decision_bytes} bytes; neither stopped its consumer"
    )
