"""por-validator with Partner Center as the authority: the stand-in answers, the real broker
and PostgreSQL carry everything else."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest

from contracts.errors import ErrorCode
from services.partner_center.standin import (
    VALIDATE,
    PartnerCenterStandin,
    StandinTenant,
    Verdict,
    serving,
)
from services.settings import Settings
from tests.e2e import registry_data as R
from tests.e2e.test_notifier import configured, delivered
from tests.e2e.test_orders import load_registry, registry_loaded
from tests.e2e.webhook_receiver import SECRET, Receiver
from tests.support import Bus, api_client, eventually, running

SERVICES = ["order-intake", "por-validator"]
NOT_LINKED = Verdict(False, ErrorCode.NO_ACTIVE_RESELLER_TENANT, "Not linked.")


def standin_tenants() -> dict[str, StandinTenant]:
    return {
        "tenant-eu": StandinTenant(
            client_id="client-eu",
            client_secret="secret-eu",
            registry={
                R.VALID: NOT_LINKED,  # the registry says valid: drift
                R.INACTIVE_PLA: Verdict(True),  # the registry says 900151: drift
                R.OTHER_REGION: Verdict(False, ErrorCode.REGION_MISMATCH),  # agrees
            },
        ),
        # The same id answered the other way for another distributor's tenant.
        "tenant-jp": StandinTenant(
            client_id="client-jp", client_secret="secret-jp", registry={R.VALID: Verdict(True)}
        ),
    }


@pytest.fixture
async def standin() -> AsyncIterator[tuple[PartnerCenterStandin, str]]:
    s = PartnerCenterStandin(standin_tenants(), hang_s=2.0)
    async with serving(s) as url:
        yield s, url


@pytest.fixture
def pc_settings(migrated: Settings, standin, tmp_path) -> Settings:
    _, url = standin
    credentials = tmp_path / "partner-center.json"
    credentials.write_text(
        json.dumps(
            {
                R.DIST: {
                    "tenantId": "tenant-eu",
                    "clientId": "client-eu",
                    "clientSecret": "secret-eu",
                }
            }
        )
    )
    return migrated.model_copy(
        update={
            "por_authority": "partner-center",
            "partner_center_url": url,
            "entra_authority_url": url,
            "partner_center_credentials_file": str(credentials),
            "partner_center_retry_initial_s": 0.01,
            "partner_center_retry_max_s": 0.05,
            "partner_center_timeout_s": 1.0,
            "partner_center_max_wait_s": 0.3,
            "partner_center_breaker_cooldown_s": 0.2,
        }
    )


async def decisions_by_order(bus: Bus, count: int, settle: float = 0.0) -> dict[str, dict]:
    events = await bus.events("por.decisions.v1", count, settle=settle)
    return {e["data"]["orderId"]: e["data"] for e in events}


async def test_decisions_follow_partner_center_with_the_registry_riding_along(pc_settings, standin):
    pc, _ = standin
    async with Receiver(SECRET) as receiver:
        await _decide_and_tell_drift(configured(pc_settings, receiver), pc, receiver)


async def _decide_and_tell_drift(pc_settings, pc, receiver):
    async with Bus(pc_settings) as bus, running(pc_settings, [*SERVICES, "notifier"]):
        await load_registry(bus)
        await registry_loaded(pc_settings, 8)
        for order_id, pid in [
            ("o-valid", R.VALID),
            ("o-inactive", R.INACTIVE_PLA),
            ("o-region", R.OTHER_REGION),
            ("o-missing", None),
        ]:
            await bus.send("csp.orders.v1", R.order(order_id, pid), key=order_id)
        d = await decisions_by_order(bus, 4)

        assert {k: (v["outcome"], v["errorCodes"], v["registryDrift"]) for k, v in d.items()} == {
            "o-valid": ("blocked", [900400], True),
            "o-inactive": ("accepted", [], True),
            "o-region": ("blocked", [900152], False),
            "o-missing": ("blocked", [800016], False),
        }
        assert {v["authority"] for v in d.values()} == {"partner_center"}
        assert d["o-valid"]["lines"][0]["registryErrorCodes"] == []
        assert d["o-inactive"]["lines"][0]["registryErrorCodes"] == [900151]
        assert d["o-region"]["lines"][0]["registryErrorCodes"] == [900152]

        # One call for the three ids (a missing id is never asked), each answer kept with it.
        calls = pc.calls_to(VALIDATE)
        conn = await asyncpg.connect(pc_settings.database_url)
        try:
            rows = await conn.fetch(
                "SELECT partner_id, correlation_id, request_id, answered_at"
                " FROM por_validator.partner_center_answers ORDER BY partner_id"
            )
        finally:
            await conn.close()
        assert [r["partner_id"] for r in rows] == sorted([R.VALID, R.INACTIVE_PLA, R.OTHER_REGION])
        sent = {c.headers["ms-correlationid"] for c in calls}
        assert {r["correlation_id"] for r in rows} <= sent

        # The same ids again within the TTL: answered from the cache, no call.
        before = len(calls)
        for order_id, pid in [("o-valid-2", R.VALID), ("o-region-2", R.OTHER_REGION)]:
            await bus.send("csp.orders.v1", R.order(order_id, pid), key=order_id)
        again = await decisions_by_order(bus, 6)
        assert again["o-valid-2"]["errorCodes"] == [900400]
        assert again["o-region-2"]["errorCodes"] == [900152]
        assert len(pc.calls_to(VALIDATE)) == before

        # One drift notice per PLA id and codes pair per day: o-valid-2 drifts as o-valid did.
        await delivered(receiver, 2, kind="registry_drift")
        await asyncio.sleep(1.0)
        drift = receiver.of_kind("registry_drift")
        assert sorted((n["partnerId"], n["partnerCenterErrorCode"]) for n in drift) == [
            (R.VALID, 900400),
            (R.INACTIVE_PLA, None),
        ]


async def test_a_throttled_distributor_is_asked_again_only_once_retry_after_has_passed(
    pc_settings, standin
):
    pc, _ = standin
    async with Bus(pc_settings) as bus, running(pc_settings, SERVICES):
        await load_registry(bus)
        await registry_loaded(pc_settings, 8)
        pc.throttle(calls=1, retry_after_s=1.0)
        await bus.send("csp.orders.v1", R.order("o-1", R.OTHER_REGION), key="o-1")
        d = await decisions_by_order(bus, 1)
        assert d["o-1"]["errorCodes"] == [900152]
        # The batch did not wait it out (its order was parked): the drain asked, after it.
        first, second = pc.calls_to(VALIDATE)
        assert second.at - first.at >= 1.0
        assert first.headers["ms-correlationid"] != second.headers["ms-correlationid"]


async def test_wait_parks_every_order_and_decides_each_once_when_partner_center_returns(
    pc_settings, standin
):
    pc, _ = standin
    async with Bus(pc_settings) as bus, running(pc_settings, SERVICES) as runtimes:
        validator = next(r for r in runtimes if r.service.name == "por-validator")
        await load_registry(bus)
        await registry_loaded(pc_settings, 8)
        pc.fail(calls=10**9)
        orders = [f"o-{n}" for n in range(6)]
        for order_id in orders:
            await bus.send("csp.orders.v1", R.order(order_id, R.OTHER_REGION), key=order_id)

        async def degraded():
            return validator.service.degraded()

        reasons = await eventually(degraded, what="por-validator reporting degraded")
        assert list(reasons) == [f"partner-center:{R.DIST}"]
        await eventually(lambda: _parked(pc_settings, len(orders)), what="every order parked")
        await asyncio.sleep(1.0)  # a few of the drain's probes
        assert await bus.read("por.decisions.v1", lambda rs: True, timeout=1) == []

        pc.clear_faults()
        decisions = await bus.events("por.decisions.v1", len(orders), settle=1.5)
        assert sorted(e["data"]["orderId"] for e in decisions) == orders  # each exactly once
        assert {e["data"]["authority"] for e in decisions} == {"partner_center"}
        await eventually(lambda: _empty(validator.service.degraded()), what="recovered")
        await eventually(lambda: _parked(pc_settings, 0), what="the parked queue empty")


async def _parked(settings, n: int) -> bool:
    conn = await asyncpg.connect(settings.database_url)
    try:
        return await conn.fetchval("SELECT count(*) FROM por_validator.parked_requests") == n
    finally:
        await conn.close()


async def _empty(d: dict) -> bool:
    return not d


async def test_registry_mode_falls_back_when_partner_center_stays_down(pc_settings, standin):
    pc, _ = standin
    settings = pc_settings.model_copy(update={"partner_center_unavailable": "registry"})
    async with Bus(settings) as bus, running(settings, SERVICES):
        await load_registry(bus)
        await registry_loaded(settings, 8)
        pc.fail(calls=10**9)
        started = time.monotonic()
        for order_id, pid in [("o-valid", R.VALID), ("o-inactive", R.INACTIVE_PLA)]:
            await bus.send("csp.orders.v1", R.order(order_id, pid), key=order_id)
        d = await decisions_by_order(bus, 2)
        assert time.monotonic() - started < 15
        # The registry's verdicts, named as a fallback.
        assert (d["o-valid"]["outcome"], d["o-inactive"]["errorCodes"]) == ("accepted", [900151])
        assert {v["authority"] for v in d.values()} == {"registry_fallback"}
        assert {v["registryDrift"] for v in d.values()} == {False}


async def test_a_distributor_without_credentials_is_decided_by_the_registry(pc_settings, standin):
    pc, _ = standin
    async with Bus(pc_settings) as bus, running(pc_settings, SERVICES):
        await load_registry(bus)
        await registry_loaded(pc_settings, 8)
        await bus.send("csp.orders.v1", R.order("o-jp", R.VALID, dist=R.DIST_JA), key="o-jp")
        d = await decisions_by_order(bus, 1)
        assert d["o-jp"]["authority"] == "registry"
        assert pc.calls_to(VALIDATE) == []


async def test_the_api_answers_through_partner_center_for_the_keys_distributor_only(
    pc_settings, standin, tmp_path
):
    pc, _ = standin
    both = tmp_path / "both.json"
    both.write_text(
        json.dumps(
            {
                R.DIST: {
                    "tenantId": "tenant-eu",
                    "clientId": "client-eu",
                    "clientSecret": "secret-eu",
                },
                R.DIST_JA: {
                    "tenantId": "tenant-jp",
                    "clientId": "client-jp",
                    "clientSecret": "secret-jp",
                },
            }
        )
    )
    settings = pc_settings.model_copy(update={"partner_center_credentials_file": str(both)})
    body = {"partnerIds": [R.VALID, "12ab"]}
    async with api_client(
        settings, f"key-eu-6b8d0f2a4c1e3a57={R.DIST},key-jp-1c3e5a7b9d0f2e48={R.DIST_JA}"
    ) as http:

        async def ask(key: str) -> tuple[dict, dict]:
            r = await http.post(
                "/v1/partners/validateresellers",
                json=body,
                headers={"Authorization": f"Bearer {key}"},
            )
            assert r.status_code == 200, r.text
            assert r.headers["x-porgate-authority"] == "partner_center"
            results = r.json()["validationResults"]
            return results[0], results[1]

        eu, malformed = await ask("key-eu-6b8d0f2a4c1e3a57")
        jp, _ = await ask("key-jp-1c3e5a7b9d0f2e48")
        assert (eu["isValidPartnerIdOnRecord"], eu["errorCode"]) == (False, 900400)
        assert (jp["isValidPartnerIdOnRecord"], jp["errorCode"]) == (True, None)
        assert malformed["errorCode"] == 800016  # never asked: not a PLA id's shape
        # Each asked with its own distributor's token, once; the second asks are cached.
        assert sorted(c.tenant_id for c in pc.calls_to(VALIDATE)) == ["tenant-eu", "tenant-jp"]
        assert (await ask("key-eu-6b8d0f2a4c1e3a57"))[0]["errorCode"] == 900400
        assert (await ask("key-jp-1c3e5a7b9d0f2e48"))[0]["isValidPartnerIdOnRecord"] is True
        assert len(pc.calls_to(VALIDATE)) == 2

        pc.fail(calls=10**9)
        r = await http.post(
            "/v1/partners/validateresellers",
            json={"partnerIds": [R.OTHER_REGION]},
            headers={"Authorization": "Bearer key-eu-6b8d0f2a4c1e3a57"},
        )
        assert r.status_code == 503 and "retry-after" in r.headers
        assert r.json()["code"] == "partner_center_unavailable"
