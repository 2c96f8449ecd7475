"""Orders through order-intake and por-validator, on the real broker and PostgreSQL."""

import asyncpg

from tests.e2e import registry_data as R
from tests.support import Bus, eventually, running

SERVICES = ["order-intake", "por-validator"]


async def load_registry(bus: Bus, events=None) -> None:
    for e in events or R.registry_events():
        await bus.send("csp.partner-registry.v1", e, key=R.key_of(e))


async def registry_loaded(settings, count: int):
    conn = await asyncpg.connect(settings.database_url)
    try:

        async def check():
            return (
                await conn.fetchval("SELECT count(*) FROM por_validator.partner_accounts") >= count
            )

        await eventually(check)
    finally:
        await conn.close()


async def test_orders_accepted_and_blocked_with_every_code(migrated):
    settings = migrated
    async with Bus(settings) as bus, running(settings, SERVICES):
        await load_registry(bus)
        await registry_loaded(settings, 8)
        cases = {
            "ord-valid": ([R.VALID], []),
            "ord-800016-missing": ([None], [800016]),
            "ord-800016-unknown": ([R.UNKNOWN], [800016]),
            "ord-800016-pga": ([R.PGA], [800016]),
            "ord-800016-malformed": (["12ab"], [800016]),
            "ord-900151": ([R.INACTIVE_PLA], [900151]),
            "ord-900400": ([R.SUSPENDED_TENANT], [900400]),
            "ord-900414-direct": ([R.DIRECT_BILL], [900414]),
            "ord-900154": ([R.NOT_AUTHORIZED], [900154]),
            "ord-900414-nopartner": ([R.NO_PARTNERSHIP], [900414]),
            "ord-900152": ([R.OTHER_REGION], [900152]),
            "ord-multi": (
                [R.VALID, R.INACTIVE_PLA, R.OTHER_REGION, None],
                [800016, 900151, 900152],
            ),
            "ord-padded": ([f"  {R.VALID} "], []),
        }
        for order_id, (pids, _) in cases.items():
            await bus.send("csp.orders.v1", R.order(order_id, *pids), key=order_id)
        decisions = await bus.events("por.decisions.v1", len(cases))
        by_order = {d["data"]["orderId"]: d for d in decisions}
        assert set(by_order) == set(cases)
        for order_id, (_, codes) in cases.items():
            d = by_order[order_id]
            data = d["data"]
            assert data["errorCodes"] == codes, order_id
            assert data["outcome"] == ("blocked" if codes else "accepted"), order_id
            assert d["type"] == (
                "por.transaction.blocked.v1" if codes else "por.transaction.accepted.v1"
            )
            assert data["primaryErrorCode"] == (codes[0] if codes else None)
            assert data["basis"] == "validated"
        multi = by_order["ord-multi"]["data"]
        assert [line["errorCodes"] for line in multi["lines"]] == [[], [900151], [900152], [800016]]
        assert (
            multi["lines"][3]["errors"][0]["code"] == 800016
            and multi["lines"][3]["errors"][0]["remediation"]
        )


async def test_order_before_enforcement_is_accepted_without_validation(migrated):
    settings = migrated
    async with Bus(settings) as bus, running(settings, SERVICES):
        await bus.send(
            "csp.orders.v1",
            R.order("ord-old", R.UNKNOWN, placed_at="2025-11-30T23:59:59Z"),
            key="ord-old",
        )
        await bus.send(
            "csp.orders.v1",
            R.order("ord-new", R.UNKNOWN, placed_at="2025-12-01T00:00:00Z"),
            key="ord-new",
        )
        decisions = {
            d["data"]["orderId"]: d["data"] for d in await bus.events("por.decisions.v1", 2)
        }
        assert decisions["ord-old"]["basis"] == "before_enforcement"
        assert decisions["ord-old"]["outcome"] == "accepted"
        assert decisions["ord-new"]["errorCodes"] == [800016]


async def test_decisions_are_logged_with_ids_and_counted_in_metrics(migrated, caplog):
    import logging

    from prometheus_client import REGISTRY

    settings = migrated
    before = (
        REGISTRY.get_sample_value(
            "porgate_decisions_total",
            {"outcome": "blocked", "basis": "validated", "code": "800016"},
        )
        or 0
    )
    caplog.set_level(logging.INFO, logger="services.por_validator.handlers")
    async with Bus(settings) as bus, running(settings, SERVICES):
        await bus.send("csp.orders.v1", R.order("ord-obs", None, event_id="evt-obs"), key="ord-obs")
        (decision,) = await bus.events("por.decisions.v1", 1)
    after = REGISTRY.get_sample_value(
        "porgate_decisions_total", {"outcome": "blocked", "basis": "validated", "code": "800016"}
    )
    assert after == before + 1
    logged = [d for r in caplog.records if r.getMessage() == "decided" for d in r.decisions]
    assert [d["decision_id"] for d in logged] == [decision["data"]["decisionId"]]
    assert logged[0]["event_id"] and logged[0]["codes"] == [800016]  # the request's CloudEvents id
    assert REGISTRY.get_sample_value(
        "porgate_batch_processing_seconds_count", {"service": "por-validator"}
    )
