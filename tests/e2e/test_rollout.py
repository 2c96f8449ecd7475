"""Safe rollout on the real broker and PostgreSQL: observe mode, and blocked transactions
released the moment the registry fact that blocked them is fixed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY as REGISTRY_METRICS

from services.ops.replay import replay_topic
from services.por_validator.report import observe_report
from tests.e2e import registry_data as R
from tests.e2e.test_notifier import configured, delivered
from tests.e2e.test_orders import load_registry, registry_loaded
from tests.e2e.test_replay import count
from tests.e2e.webhook_receiver import SECRET, Receiver
from tests.support import Bus, envelope, running

SERVICES = ["order-intake", "por-validator", "notifier"]
REGISTRY = "csp.partner-registry.v1"


def later() -> str:
    # After every registry event loaded so far: an upsert only wins if it is newer.
    return (datetime.now(UTC) + timedelta(seconds=1)).isoformat()


def _active_tenant() -> dict:
    return envelope(
        "csp.reseller-tenant.upserted.v1",
        {
            "resellerTenantId": "ten-suspended",
            "name": "Tenant ten-suspended",
            "kind": "csp_indirect_reseller",
            "status": "active",
            "indirectResellerAuthorized": True,
            "country": "DE",
        },
        time_=later(),
    )


def _released(result: str) -> float:
    return REGISTRY_METRICS.get_sample_value("porgate_released_total", {"result": result}) or 0.0


async def by_order(bus: Bus, count_: int, settle: float = 0.0) -> dict[str, list[dict]]:
    """Every decision so far, by order id, oldest first."""
    decisions: dict[str, list[dict]] = {}
    for event in await bus.events("por.decisions.v1", count_, settle=settle):
        decisions.setdefault(event["data"]["orderId"], []).append(event["data"])
    return decisions


async def test_observe_mode_accepts_says_what_would_block_and_reports_it(migrated):
    async with Receiver(SECRET) as receiver:
        settings = configured(migrated, receiver, enforcement_mode="observe")
        async with Bus(settings) as bus, running(settings, SERVICES):
            await load_registry(bus)
            # The Japanese distributor enforces, whatever the setting says: its event wins.
            await bus.send(
                REGISTRY,
                envelope(
                    "csp.distributor.upserted.v1",
                    {
                        "distributorId": R.DIST_JA,
                        "name": "JP Dist",
                        "country": "JP",
                        "preferredLanguage": "ja",
                        "enforcementMode": "enforce",
                    },
                    time_=later(),
                ),
                key=R.DIST_JA,
            )
            await registry_loaded(settings, 8)
            await asyncio.sleep(0.5)
            orders = {
                "o-susp": (R.SUSPENDED_TENANT, R.DIST),
                "o-region": (R.OTHER_REGION, R.DIST),
                "o-ok": (R.VALID, R.DIST),
                "o-jp": (R.SUSPENDED_TENANT, R.DIST_JA),
            }
            for order_id, (pid, dist) in orders.items():
                await bus.send("csp.orders.v1", R.order(order_id, pid, dist=dist), key=order_id)
            d = {k: v[-1] for k, v in (await by_order(bus, 4)).items()}

            assert (d["o-susp"]["outcome"], d["o-susp"]["wouldBlock"]) == ("accepted", True)
            assert d["o-susp"]["observedErrorCodes"] == [900400]
            assert d["o-susp"]["errorCodes"] == [] and d["o-susp"]["lines"][0]["errorCodes"] == []
            assert d["o-susp"]["lines"][0]["observedErrorCodes"] == [900400]
            assert d["o-region"]["observedErrorCodes"] == [900152]
            assert (d["o-ok"]["outcome"], d["o-ok"]["wouldBlock"]) == ("accepted", False)
            assert (d["o-jp"]["outcome"], d["o-jp"]["wouldBlock"]) == ("blocked", False)

            await delivered(receiver, 2, kind="transaction_would_block")
            await delivered(receiver, 1, kind="transaction_blocked")
            notices = {n["orderId"]: n for n in receiver.of_kind("transaction_would_block")}
            assert set(notices) == {"o-susp", "o-region"}
            assert notices["o-susp"]["lines"][0]["errors"][0]["code"] == 900400
            assert "would have been blocked" in notices["o-susp"]["title"]
            assert [n["orderId"] for n in receiver.of_kind("transaction_blocked")] == ["o-jp"]

        report = await observe_report(settings, R.DIST, datetime.now(UTC) - timedelta(days=7))
        assert report["transactions"] == 2
        assert {c["code"]: c["transactions"] for c in report["byCode"]} == {900400: 1, 900152: 1}
        assert {r["partnerId"] for r in report["byReseller"]} == {
            R.SUSPENDED_TENANT,
            R.OTHER_REGION,
        }
        assert report["customersMostAffected"] == [{"customerId": "cust-42", "transactions": 2}]


async def test_a_suspended_tenant_made_active_releases_exactly_what_it_blocked_once(migrated):
    async with Receiver(SECRET) as receiver:
        settings = configured(migrated, receiver)
        async with Bus(settings) as bus, running(settings, SERVICES):
            await load_registry(bus)
            await registry_loaded(settings, 8)
            orders = {
                "o-susp-1": R.SUSPENDED_TENANT,
                "o-susp-2": R.SUSPENDED_TENANT,
                "o-inactive": R.INACTIVE_PLA,
                "o-ok": R.VALID,
            }
            for order_id, pid in orders.items():
                await bus.send("csp.orders.v1", R.order(order_id, pid), key=order_id)
            first = await by_order(bus, 4)
            blocked = {
                k: v[0]["decisionId"] for k, v in first.items() if v[0]["outcome"] == "blocked"
            }
            assert sorted(blocked) == ["o-inactive", "o-susp-1", "o-susp-2"]

            # The reseller fixes its tenant.
            await bus.send(REGISTRY, _active_tenant(), key="ten-suspended")
            after = await by_order(bus, 6, settle=1.0)
            released = {k: v[1] for k, v in after.items() if len(v) > 1}
            assert sorted(released) == ["o-susp-1", "o-susp-2"]
            for order_id, decision in released.items():
                assert decision["outcome"] == "accepted"
                assert decision["supersedesDecisionId"] == blocked[order_id]
            await delivered(receiver, 2, kind="transaction_released")
            assert sorted(n["orderId"] for n in receiver.of_kind("transaction_released")) == [
                "o-susp-1",
                "o-susp-2",
            ]

            # A replay of the registry topic releases nothing twice; nor does the same fact
            # sent again as a new event (a second sync): the blocked decisions are superseded.
            await replay_topic(settings, REGISTRY)
            await bus.send(REGISTRY, _active_tenant(), key="ten-suspended")
            await asyncio.sleep(2.0)
            assert len(await bus.events("por.decisions.v1", 6, settle=1.0)) == 6
            assert (
                await count(
                    settings,
                    "SELECT count(*) FROM por_validator.decisions"
                    " WHERE supersedes_decision_id IS NOT NULL",
                )
                == 2
            )


async def test_a_partnership_made_active_releases_only_that_distributors_transactions(migrated):
    settings = migrated
    async with Bus(settings) as bus, running(settings, ["order-intake", "por-validator"]):
        await load_registry(bus)
        await registry_loaded(settings, 8)
        await bus.send("csp.orders.v1", R.order("o-eu", R.NO_PARTNERSHIP), key="o-eu")
        await bus.send(
            "csp.orders.v1", R.order("o-jp", R.NO_PARTNERSHIP, dist=R.DIST_JA), key="o-jp"
        )
        first = await by_order(bus, 2)
        assert {k: v[0]["outcome"] for k, v in first.items()} == {
            "o-eu": "blocked",
            "o-jp": "blocked",
        }
        before = _released("released"), _released("still_blocked")
        await bus.send(
            REGISTRY,
            envelope(
                "csp.partnership.upserted.v1",
                {"distributorId": R.DIST, "resellerTenantId": "ten-nopartner", "status": "active"},
                time_=later(),
            ),
            key="ten-nopartner",
        )
        after = await by_order(bus, 3, settle=1.5)
        assert [d["outcome"] for d in after["o-eu"]] == ["blocked", "accepted"]
        assert [d["outcome"] for d in after["o-jp"]] == ["blocked"]
        # The other distributor's transaction was not even looked at.
        assert (_released("released") - before[0], _released("still_blocked") - before[1]) == (
            1,
            0,
        )


async def test_automatic_release_off_releases_nothing(migrated):
    settings = migrated.model_copy(update={"auto_release": False})
    async with Bus(settings) as bus, running(settings, ["order-intake", "por-validator"]):
        await load_registry(bus)
        await registry_loaded(settings, 8)
        await bus.send("csp.orders.v1", R.order("o-eu", R.NO_PARTNERSHIP), key="o-eu")
        await by_order(bus, 1)
        await bus.send(
            REGISTRY,
            envelope(
                "csp.partnership.upserted.v1",
                {"distributorId": R.DIST, "resellerTenantId": "ten-nopartner", "status": "active"},
                time_=later(),
            ),
            key="ten-nopartner",
        )
        await asyncio.sleep(2.0)
        assert len(await bus.events("por.decisions.v1", 1, settle=1.0)) == 1
