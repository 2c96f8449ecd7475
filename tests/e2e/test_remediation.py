"""From blocked to fixed on the real broker and PostgreSQL: remediation through the API, and
re-check now releasing the blocked transactions that depend on a PLA id once and only once."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr

from tests.e2e import registry_data as R
from tests.e2e.test_cli import porgate
from tests.e2e.test_orders import load_registry, registry_loaded
from tests.e2e.test_replay import count
from tests.e2e.test_rollout import by_order
from tests.e2e.webhook_receiver import SECRET, Receiver
from tests.support import Bus, api_client, envelope, eventually, running

KEY_EU = "k-eu-remedy-3a5c7e9b1d2f4a68"
KEY_JA = "k-ja-remedy-6b8d0f2a4c1e3b57"
KEYS = f"{KEY_EU}={R.DIST}"
AUTH = {"Authorization": f"Bearer {KEY_EU}"}
REGISTRY = "csp.partner-registry.v1"
URL = "https://partner.microsoft.com/dashboard/v2/customers/indirectresellers/invite?x=eu1"
ORG = "3000001"
ORG_EU_PLA = "1000008"  # the OTHER_REGION reseller's location in Germany


def cli_env(settings) -> dict:
    return {
        **os.environ,
        "PORGATE_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "PORGATE_DATABASE_URL": settings.database_url,
        "PORGATE_TOPIC_PREFIX": settings.topic_prefix,
        "PORGATE_LOG_LEVEL": "WARNING",
    }


def later() -> str:
    return (datetime.now(UTC) + timedelta(seconds=1)).isoformat()


def organisation_events() -> list[dict]:
    """The distributor's request link; the US reseller (OTHER_REGION) as one location of an
    organisation that also has a partnered location in Germany."""
    at = later()
    return [
        envelope(
            "csp.distributor.upserted.v1",
            {
                "distributorId": R.DIST,
                "name": "EU Dist",
                "country": "DE",
                "partnershipRequestUrl": URL,
            },
            time_=at,
        ),
        envelope(
            "csp.partner-account.upserted.v1",
            {"partnerId": ORG, "accountType": "PGA", "status": "active", "name": "Org"},
            time_=at,
        ),
        *(
            envelope(
                "csp.partner-account.upserted.v1",
                {
                    "partnerId": pid,
                    "accountType": "PLA",
                    "status": "active",
                    "name": "Org",
                    "resellerTenantId": tid,
                    "globalPartnerId": ORG,
                },
                time_=at,
            )
            for pid, tid in ((R.OTHER_REGION, "ten-us"), (ORG_EU_PLA, "ten-org-de"))
        ),
        envelope(
            "csp.reseller-tenant.upserted.v1",
            {
                "resellerTenantId": "ten-org-de",
                "name": "Org DE",
                "kind": "csp_indirect_reseller",
                "status": "active",
                "indirectResellerAuthorized": True,
                "country": "DE",
            },
            time_=at,
        ),
        envelope(
            "csp.partnership.upserted.v1",
            {"distributorId": R.DIST, "resellerTenantId": "ten-org-de", "status": "active"},
            time_=at,
        ),
    ]


async def test_remediation_names_the_link_the_regions_and_what_would_pass(migrated):
    settings = migrated
    async with Bus(settings) as bus, running(settings, ["por-validator"]):
        await load_registry(bus, R.registry_events() + organisation_events())
        await registry_loaded(settings, 10)
        async with api_client(settings, KEYS) as api:

            async def remedy(pid: str, locale: str = "en-US") -> dict:
                response = await api.get(
                    f"/v1/partners/{pid}/remediation", headers={**AUTH, "X-Locale": locale}
                )
                assert response.status_code == 200, response.text
                return response.json()

            async def link_known() -> bool:
                return URL in (await remedy(R.NO_PARTNERSHIP))["message"]

            await eventually(link_known)
            partnership = await remedy(R.NO_PARTNERSHIP, "ja-JP")
            assert partnership["errorCodes"] == [900414] and partnership["language"] == "ja"
            (step,) = partnership["remedies"]
            assert step["step"] == 8 and step["audience"] == "distributor"
            assert "パートナーシップを要求します" in partnership["message"]
            assert step["actions"][-1].endswith(URL)

            region = await remedy(R.OTHER_REGION)
            assert region["errorCodes"] == [900152]
            assert "United States" in region["remedies"][0]["cause"]
            assert ORG_EU_PLA in region["remedies"][0]["actions"][0]
            assert region["suggestedPartnerIds"] == [ORG_EU_PLA]

            pga = await remedy(ORG)
            assert pga["remedies"][0]["step"] == 3
            assert f"{R.OTHER_REGION}, {ORG_EU_PLA}" in pga["remedies"][0]["actions"][0]
            assert pga["suggestedPartnerIds"] == [ORG_EU_PLA]

            # The same message from the command line, as text, HTML and JSON.
            env = cli_env(settings)
            args = ("remediation", R.NO_PARTNERSHIP, "--distributor", R.DIST, "--lang", "ja")
            text = await asyncio.to_thread(porgate, *args, env=env)
            assert text.returncode == 0, text.stderr[-2000:]
            assert text.stdout == partnership["message"]
            page = await asyncio.to_thread(porgate, *args, "--format", "html", env=env)
            assert f'<a href="{URL}">' in page.stdout
            body = await asyncio.to_thread(porgate, *args, "--format", "json", env=env)
            assert json.loads(body.stdout) == partnership

            valid = await remedy(R.VALID)
            assert valid["isValidPartnerIdOnRecord"] and valid["remedies"] == []
            unauthorized = await api.get(f"/v1/partners/{R.VALID}/remediation")
            assert unauthorized.status_code == 401


async def test_recheck_releases_the_dependent_blocked_transactions_once_and_only_once(migrated):
    # Automatic release off: only the re-check can release them.
    settings = migrated.model_copy(update={"auto_release": False, "recheck_rate_per_key": 0})
    async with (
        Bus(settings) as bus,
        running(settings, ["order-intake", "por-validator"]),
        api_client(settings, KEYS) as api,
    ):
        await load_registry(bus)
        await registry_loaded(settings, 8)
        orders = {
            "o-rc-1": (R.SUSPENDED_TENANT, R.DIST),
            "o-rc-2": (R.SUSPENDED_TENANT, R.DIST),
            "o-rc-other": (R.INACTIVE_PLA, R.DIST),
            "o-rc-ja": (R.SUSPENDED_TENANT, R.DIST_JA),
        }
        for order_id, (pid, dist) in orders.items():
            await bus.send("csp.orders.v1", R.order(order_id, pid, dist=dist), key=order_id)
        first = await by_order(bus, 4)
        blocked = {k: v[0]["decisionId"] for k, v in first.items()}
        assert {v[0]["outcome"] for v in first.values()} == {"blocked"}

        # Nothing changed yet: a re-check finds all still blocked and releases nothing.
        unchanged = (
            await api.post(f"/v1/partners/{R.SUSPENDED_TENANT}/recheck", headers=AUTH)
        ).json()
        assert unchanged["errorCodes"] == [900400] and unchanged["released"] == []
        assert sorted(unchanged["stillBlocked"]) == sorted([blocked["o-rc-1"], blocked["o-rc-2"]])

        # The reseller fixes its tenant; with automatic release off nothing happens by itself.
        await bus.send(
            REGISTRY,
            envelope(
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
            ),
            key="ten-suspended",
        )

        async def tenant_active() -> bool:
            return (
                await count(
                    settings,
                    "SELECT count(*) FROM por_validator.reseller_tenants"
                    " WHERE reseller_tenant_id = 'ten-suspended' AND status = 'active'",
                )
                == 1
            )

        await eventually(tenant_active)
        response = await api.post(f"/v1/partners/{R.SUSPENDED_TENANT}/recheck", headers=AUTH)
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["isValidPartnerIdOnRecord"] and result["authority"] == "registry"
        assert response.headers["x-porgate-authority"] == "registry"
        released = {r["orderId"]: r for r in result["released"]}
        assert sorted(released) == ["o-rc-1", "o-rc-2"]  # not the other id, not dist-jp-1's
        for order_id, r in released.items():
            assert r["supersedesDecisionId"] == blocked[order_id]
        after = await by_order(bus, 6, settle=1.0)
        for order_id in ("o-rc-1", "o-rc-2"):
            assert [d["outcome"] for d in after[order_id]] == ["blocked", "accepted"]
            assert after[order_id][1]["decisionId"] == released[order_id]["decisionId"]
        assert [d["outcome"] for d in after["o-rc-other"]] == ["blocked"]
        assert [d["outcome"] for d in after["o-rc-ja"]] == ["blocked"]

        # Twice in a row changes nothing, from the API or the command line.
        by_cli = await asyncio.to_thread(
            porgate, "recheck", R.SUSPENDED_TENANT, "--distributor", R.DIST, env=cli_env(settings)
        )
        assert by_cli.returncode == 0, by_cli.stderr[-2000:]
        assert json.loads(by_cli.stdout)["released"] == []
        again = (await api.post(f"/v1/partners/{R.SUSPENDED_TENANT}/recheck", headers=AUTH)).json()
        assert again["released"] == [] and again["stillBlocked"] == []
        await asyncio.sleep(1.0)
        assert len(await bus.events("por.decisions.v1", 6, settle=1.0)) == 6
        superseding = await count(
            settings,
            "SELECT count(*) FROM por_validator.decisions WHERE supersedes_decision_id IS NOT NULL",
        )
        assert superseding == 2
        assert await count(settings, "SELECT count(*) FROM por_validator.outbox") == 0


async def test_recheck_is_rate_limited_per_key(migrated):
    settings = migrated.model_copy(update={"recheck_rate_per_key": 0.01})
    keys = f"{KEYS},k-other-remedy-8b0d2f4a6c8e={R.DIST}"
    async with api_client(settings, keys) as api:
        first = await api.post(f"/v1/partners/{R.VALID}/recheck", headers=AUTH)
        second = await api.post(f"/v1/partners/{R.VALID}/recheck", headers=AUTH)
        other = await api.post(
            f"/v1/partners/{R.VALID}/recheck",
            headers={"Authorization": "Bearer k-other-remedy-8b0d2f4a6c8e"},
        )
    assert first.status_code == 200, first.text
    assert second.status_code == 429 and int(second.headers["retry-after"]) >= 1
    assert second.json()["code"] == "rate_limited"
    assert other.status_code == 200


URL_JA = "https://partner.microsoft.com/dashboard/v2/customers/indirectresellers/invite?x=jp1"


async def test_a_blocked_notification_carries_each_lines_remediation_in_the_distributors_language(
    migrated,
):
    async with Receiver(SECRET) as receiver:
        settings = migrated.model_copy(
            update={"notify_webhook_url": receiver.url, "notify_webhook_secret": SecretStr(SECRET)}
        )
        async with (
            Bus(settings) as bus,
            running(settings, ["order-intake", "por-validator", "notifier"]),
            api_client(settings, f"{KEYS},{KEY_JA}={R.DIST_JA}") as api,
        ):
            await load_registry(bus, R.registry_events() + organisation_events() + [ja_link()])
            await registry_loaded(settings, 10)

            async def notifier_knows_both_links() -> bool:
                return (
                    await count(
                        settings,
                        "SELECT count(*) FROM notifier.distributors"
                        " WHERE partnership_request_url IS NOT NULL",
                    )
                    == 2
                    and await count(
                        settings,
                        "SELECT count(*) FROM notifier.partner_accounts"
                        " WHERE global_partner_id IS NOT NULL",
                    )
                    == 2
                )

            await eventually(notifier_knows_both_links)
            orders = {
                "o-notice-en": (R.DIST, [R.NO_PARTNERSHIP, R.OTHER_REGION, R.VALID]),
                "o-notice-ja": (R.DIST_JA, [R.VALID]),
            }
            for order_id, (dist, pids) in orders.items():
                await bus.send("csp.orders.v1", R.order(order_id, *pids, dist=dist), key=order_id)
            await eventually(lambda: _notified(receiver, 2), timeout=30, what="2 notifications")
            # What the API says now for each blocked line, in each distributor's language.
            expected = {
                (R.DIST, pid): await _api_remediation(api, KEY_EU, pid, "en-US")
                for pid in (R.NO_PARTNERSHIP, R.OTHER_REGION)
            }
            expected[(R.DIST_JA, R.VALID)] = await _api_remediation(api, KEY_JA, R.VALID, "ja-JP")

    by_order = {p["orderId"]: p for p in receiver.of_kind("transaction_blocked")}
    en, ja = by_order["o-notice-en"], by_order["o-notice-ja"]
    assert en["language"] == "en" and ja["language"] == "ja"
    assert [line["partnerIdOnRecord"] for line in en["lines"]] == [
        R.NO_PARTNERSHIP,
        R.OTHER_REGION,
    ]  # the accepted line needs nothing
    for payload in (en, ja):
        for line in payload["lines"]:
            remedy = line["remediation"]
            # The same remediation, word for word, as the API, the CLI and the console give.
            assert remedy == expected[(payload["distributorId"], line["partnerIdOnRecord"])]
            assert remedy["errorCodes"] == [e["code"] for e in line["errors"]]

    partnership, region = (line["remediation"] for line in en["lines"])
    assert partnership["remedies"][0]["step"] == 8 and URL in partnership["message"]
    assert "Request a partnership" in partnership["message"]
    assert region["suggestedPartnerIds"] == [ORG_EU_PLA] and "United States" in region["message"]
    (line,) = ja["lines"]
    message = line["remediation"]["message"]
    assert line["remediation"]["errorCodes"] == [900414, 900152]
    assert "パートナーシップを要求します" in message and URL_JA in message
    assert "CSP リージョン Europe にあり、お客様は Japan です" in message


def ja_link() -> dict:
    """The Japanese distributor with its own partnership-request link."""
    return envelope(
        "csp.distributor.upserted.v1",
        {
            "distributorId": R.DIST_JA,
            "name": "JP Dist",
            "country": "JP",
            "preferredLanguage": "ja",
            "partnershipRequestUrl": URL_JA,
        },
        time_=later(),
    )


async def _api_remediation(api, key: str, pid: str, locale: str) -> dict:
    response = await api.get(
        f"/v1/partners/{pid}/remediation",
        headers={"Authorization": f"Bearer {key}", "X-Locale": locale},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def _notified(receiver: Receiver, count: int) -> bool:
    return len(receiver.of_kind("transaction_blocked")) >= count
