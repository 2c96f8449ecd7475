"""From blocked to released in a real headless Chromium against the real servers: the
transaction page shows each blocked line's remediation (the API's words) and what would
pass; "Re-check now" there and on the resellers page releases what passes now, once, and
says so; a second press at once is limited as the API's re-check is."""

from __future__ import annotations

import asyncio

import pytest
from selenium.webdriver.common.by import By

from tests.console.conftest import KEY_EU, OPERATOR_KEY, console_server
from tests.console.layout import assert_fits
from tests.console.test_browser import go, shot, sign_in, text
from tests.e2e import registry_data as R
from tests.e2e.test_orders import SERVICES, load_registry, registry_loaded
from tests.e2e.test_remediation import later
from tests.e2e.test_replay import count
from tests.support import Bus, api_client, envelope, eventually, running

ORDER = "ord-recheck"  # R.SUSPENDED_TENANT for dist-eu-1: 900400
OTHER = "ord-recheck-inactive"  # R.INACTIVE_PLA for dist-eu-1: 900151


@pytest.fixture
async def blocked_world(migrated):
    """Two blocked orders; automatic release off (only a re-check can release them) and a
    re-check budget of one per key per 100 s (a second press is limited)."""
    settings = migrated.model_copy(update={"auto_release": False, "recheck_rate_per_key": 0.01})
    async with Bus(settings) as bus, running(settings, SERVICES):
        await load_registry(bus)
        await registry_loaded(settings, 8)
        for order_id, pid in ((ORDER, R.SUSPENDED_TENANT), (OTHER, R.INACTIVE_PLA)):
            await bus.send("csp.orders.v1", R.order(order_id, pid), key=order_id)
        await bus.events("por.decisions.v1", 2)
        async with console_server(settings) as url:
            yield {"settings": settings, "url": url, "bus": bus}


async def fixed(bus: Bus, settings, event: dict, sql: str) -> None:
    """The reseller fixed something: the registry says so (nothing is released by it)."""
    await bus.send("csp.partner-registry.v1", event, key=R.key_of(event))

    async def seen() -> bool:
        return await count(settings, sql) == 1

    await eventually(seen)


def open_blocked_order(driver, url: str) -> str:
    """As the distributor: the blocked order's page, its remediation, the message as text."""
    sign_in(driver, url, KEY_EU)
    driver.get(url + f"/console/transactions?by=order&q={ORDER}")
    go(driver, driver.find_element(By.LINK_TEXT, ORDER))
    remedy = driver.find_element(By.CSS_SELECTOR, "section.remedy")
    assert "PLA id 1000003" in remedy.text and "900400" in remedy.text
    assert "What would pass now: no other PLA id of this organisation" in remedy.text
    shot(driver, "transaction-remediation")
    return remedy.find_element(By.TAG_NAME, "pre").get_attribute("textContent")


def recheck_releases_the_order(driver) -> str:
    page = driver.current_url
    go(driver, driver.find_element(By.CSS_SELECTOR, "section.remedy button[type=submit]"))
    result = driver.find_element(By.CSS_SELECTOR, ".recheck-result")
    assert "passes now" in result.text, result.text
    assert "Released 1 blocked transaction(s)" in result.text, result.text
    shot(driver, "transaction-rechecked")
    # The chain of decisions shows the accepted decision that supersedes this one.
    chain = driver.find_element(By.CSS_SELECTOR, "ol.chain").text
    assert "accepted" in chain and "this decision" in chain, chain
    released = result.find_element(By.CSS_SELECTOR, "ul.released a")
    assert ORDER in released.text
    href = released.get_attribute("href")

    # At once again: limited, as the API's re-check is, and nothing else happens.
    driver.get(page)
    go(driver, driver.find_element(By.CSS_SELECTOR, "section.remedy button[type=submit]"))
    problem = driver.find_element(By.CSS_SELECTOR, ".recheck-result.problem").text
    assert "try again in" in problem, problem
    go(driver, driver.find_element(By.CSS_SELECTOR, "form.who button"))
    return href


def operator_rechecks_from_the_resellers_page(driver, url: str) -> None:
    sign_in(driver, url, OPERATOR_KEY)
    driver.get(url + f"/console/resellers?distributor={R.DIST}")
    rows = {
        r.find_element(By.TAG_NAME, "code").text: r
        for r in driver.find_elements(By.CSS_SELECTOR, "table.resellers tbody tr")
    }
    # Another distributor's reseller, or one in another region: not broken, not in red.
    for pid in (R.NO_PARTNERSHIP, R.OTHER_REGION):
        verdict = rows[pid].find_element(By.CSS_SELECTOR, "td.verdict-cell")
        assert "not yours" in verdict.text and not verdict.find_elements(
            By.CSS_SELECTOR, ".blocked"
        )
    # A direct-bill tenant's 900414 is broken, in red, with its text.
    direct = rows[R.DIRECT_BILL].find_element(By.CSS_SELECTOR, "td.verdict-cell")
    assert direct.find_elements(By.CSS_SELECTOR, ".badge.blocked")
    assert "900414 The requested indirect reseller" in direct.text, direct.text
    # The fixed PLA id passes now; its blocked order waits for a re-check.
    driver.find_element(By.ID, "check").send_keys(R.INACTIVE_PLA)
    go(driver, driver.find_element(By.ID, "check"), "submit")
    verdict = driver.find_element(By.CSS_SELECTOR, ".verdict")
    assert "valid POR" in verdict.text
    go(driver, verdict.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    result = driver.find_element(By.CSS_SELECTOR, ".recheck-result").text
    assert "passes now" in result and "Released 1 blocked transaction(s)" in result, result
    assert OTHER in result
    shot(driver, "resellers-rechecked")


async def test_re_check_now_releases_a_blocked_order_from_its_page_and_from_the_resellers_page(
    blocked_world, browser
):
    url, bus, settings = blocked_world["url"], blocked_world["bus"], blocked_world["settings"]
    message = await asyncio.to_thread(open_blocked_order, browser, url)
    # The page's message is the API's, word for word.
    async with api_client(settings, f"{KEY_EU}={R.DIST}") as api:
        response = await api.get(
            f"/v1/partners/{R.SUSPENDED_TENANT}/remediation",
            headers={"Authorization": f"Bearer {KEY_EU}"},
        )
    assert response.json()["message"] == message

    await fixed(
        bus,
        settings,
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
        "SELECT count(*) FROM por_validator.reseller_tenants"
        " WHERE reseller_tenant_id = 'ten-suspended' AND status = 'active'",
    )
    released = await asyncio.to_thread(recheck_releases_the_order, browser)
    await asyncio.to_thread(_shows_accepted, browser, url, released)

    await fixed(
        bus,
        settings,
        envelope(
            "csp.partner-account.upserted.v1",
            {
                "partnerId": R.INACTIVE_PLA,
                "accountType": "PLA",
                "status": "active",
                "name": f"Reseller {R.INACTIVE_PLA}",
                "resellerTenantId": "ten-inactive-pla",
            },
            time_=later(),
        ),
        f"SELECT count(*) FROM por_validator.partner_accounts"
        f" WHERE partner_id = '{R.INACTIVE_PLA}' AND status = 'active'",
    )
    await asyncio.to_thread(operator_rechecks_from_the_resellers_page, browser, url)
    superseding = await count(
        settings,
        "SELECT count(*) FROM por_validator.decisions WHERE supersedes_decision_id IS NOT NULL",
    )
    assert superseding == 2  # each blocked order released once


def _shows_accepted(driver, url: str, href: str) -> None:
    sign_in(driver, url, KEY_EU)
    driver.get(href)
    assert "accepted" in driver.find_element(By.CSS_SELECTOR, ".facts").text
    assert ORDER in text(driver)
    assert_fits(driver, "the released order")
    go(driver, driver.find_element(By.CSS_SELECTOR, "form.who button"))
