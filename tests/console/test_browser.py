"""The console in a real headless Chromium against the real servers: what an operator and a
distributor do with it, each page's screenshot at 1400 px wide (tests/console/screenshots/),
and on each page no text overflows its box and no label is cut (tests/console/layout.py)."""

from __future__ import annotations

import asyncio
import csv
import time
from pathlib import Path

from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.console.conftest import (
    ACCEPTED_ORDER,
    BLOCKED_ORDER,
    JA_ORDER,
    KEY_EU,
    OPERATOR_KEY,
    REDRIVEN_ORDER,
    SCREENSHOTS,
)
from tests.console.layout import assert_fits
from tests.e2e import registry_data as R

WINDOW = (1400, 900)


def shot(driver, name: str) -> None:
    """The page's screenshot, whole; and it must fit its width (layout.assert_fits)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    width, height = driver.get_window_size().values()
    page = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, max(height, page + 150))  # the window's frame: 150 px
    try:
        driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
        assert_fits(driver, name, phone=width < 600)
    finally:
        driver.set_window_size(width, height)


def wait_for(what: str, check, timeout: float = 30.0, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not seen within {timeout}s")
        time.sleep(interval)


def sign_in(driver, url: str, key: str) -> None:
    driver.get(url + "/console/")
    assert driver.current_url.endswith("/console/sign-in"), driver.current_url
    driver.find_element(By.ID, "key").send_keys(key)
    go(driver, driver.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
    wait_for("the overview", lambda: driver.find_elements(By.CSS_SELECTOR, "h1"))
    assert driver.find_element(By.TAG_NAME, "h1").text == "Overview"
    assert key not in driver.current_url


def text(driver) -> str:
    return (
        WebDriverWait(driver, 20).until(EC.presence_of_element_located((By.TAG_NAME, "main"))).text
    )


def go(driver, element, how: str = "click") -> None:
    """Click (or submit) something that loads a page, and wait for the new page: a click
    returns before the navigation it starts."""
    old = driver.find_element(By.TAG_NAME, "html")
    getattr(element, how)()
    WebDriverWait(driver, 20).until(lambda _: _gone(old))
    WebDriverWait(driver, 20).until(EC.presence_of_element_located((By.TAG_NAME, "main")))


def _gone(element) -> bool:
    # Stale, or (asked mid-navigation) a node "that does not belong to the document".
    try:
        element.is_enabled()
    except (StaleElementReferenceException, WebDriverException):
        return True
    return False


def operator_flow(driver, url: str, download_dir: Path) -> None:
    driver.get(url + "/console/sign-in")
    shot(driver, "sign-in")
    sign_in(driver, url, OPERATOR_KEY)
    shot(driver, "overview")
    assert "Decisions per minute, last hour" in text(driver)

    # Find the blocked order by its PLA id.
    go(driver, driver.find_element(By.LINK_TEXT, "Transactions"))
    Select(driver.find_element(By.ID, "by")).select_by_value("pla")
    driver.find_element(By.ID, "q").send_keys(R.SUSPENDED_TENANT)
    Select(driver.find_element(By.ID, "outcome")).select_by_value("blocked")
    go(driver, driver.find_element(By.ID, "q"), "submit")
    wait_for("the search", lambda: "q=" in driver.current_url)
    shot(driver, "transactions")
    assert BLOCKED_ORDER in text(driver) and ACCEPTED_ORDER not in text(driver)
    go(driver, driver.find_element(By.LINK_TEXT, BLOCKED_ORDER))
    assert "900400" in text(driver)

    # Its remediation, in Japanese.
    go(driver, driver.find_element(By.LINK_TEXT, "日本語"))
    wait_for("Japanese", lambda: "lang=ja" in driver.current_url)
    remedy = driver.find_element(By.CSS_SELECTOR, "section.remediation")
    assert remedy.get_attribute("lang") == "ja"
    assert "リセラーの対応" in remedy.text and "停止" in remedy.text, remedy.text
    assert driver.find_element(By.CSS_SELECTOR, "section.remedy button").text == "今すぐ再確認"
    # The decision-table walk por-validator attached: the failed step, in Japanese too.
    walk = driver.find_element(By.XPATH, "//h2[text()='Explanation']/following-sibling::div")
    assert "fail 900400" in walk.text and "テナント" in walk.text, walk.text
    shot(driver, "transaction")

    # Redrive a dead letter: preview first, then for real; its decision appears.
    go(driver, driver.find_element(By.LINK_TEXT, "Dead letters"))
    shot(driver, "dead-letters")
    row = wait_for(
        "the dead letter",
        lambda: [r for r in driver.find_elements(By.CSS_SELECTOR, "tbody tr") if R.DIST in r.text],
    )[0]
    link = row.find_element(By.TAG_NAME, "a")
    go(driver, link)
    assert "Value as hex" in text(driver) and REDRIVEN_ORDER in text(driver)
    shot(driver, "dead-letter")
    go(driver, driver.find_element(By.CSS_SELECTOR, "button[value=preview]"))
    assert "Redrive preview (dry run)" in text(driver) and "nothing was sent" in text(driver)
    shot(driver, "redrive-preview")
    go(driver, driver.find_element(By.CSS_SELECTOR, "button[value=redrive]"))
    assert "1 dead letter(s) redriven" in text(driver)

    def redriven_decision():
        driver.get(url + f"/console/transactions?by=order&q={REDRIVEN_ORDER}")
        return driver.find_elements(By.LINK_TEXT, REDRIVEN_ORDER)

    wait_for("the redriven order's decision", redriven_decision)

    # Retry a failed notification.
    go(driver, driver.find_element(By.LINK_TEXT, "GDAP"))
    shot(driver, "gdap")
    go(
        driver,
        driver.find_element(By.CSS_SELECTOR, "button[aria-label='Retry notification ntf-eu-1']"),
    )
    assert "1 notification(s) re-queued" in text(driver)
    assert "ntf-eu-1" not in text(driver)

    go(driver, driver.find_element(By.LINK_TEXT, "Resellers"))
    driver.find_element(By.ID, "check").send_keys(R.OTHER_REGION)
    go(driver, driver.find_element(By.ID, "check"), "submit")
    wait_for("the check", lambda: "check=" in driver.current_url)
    assert "900152" in driver.find_element(By.CSS_SELECTOR, ".verdict").text
    shot(driver, "resellers")

    # Download the eligibility report.
    go(driver, driver.find_element(By.LINK_TEXT, "Eligibility"))
    Select(driver.find_element(By.ID, "distributor")).select_by_value(R.DIST)
    go(driver, driver.find_element(By.ID, "months"), "submit")
    wait_for("the report", lambda: "distributor=" in driver.current_url)
    shot(driver, "eligibility")
    driver.find_element(By.ID, "download-csv").click()  # a download: no new page
    files = wait_for("the CSV download", lambda: list(download_dir.glob("*.csv")))
    with files[0].open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["PartnerId"] for r in rows} >= {R.SUSPENDED_TENANT, R.VALID}
    assert {r["PartnerId"]: r["IsCompliant"] for r in rows}[R.SUSPENDED_TENANT] == "False"

    # On a phone the pages still work: the navigation wraps, nothing needs a wider screen.
    driver.set_window_size(390, 844)
    for path in ("", "transactions", "resellers", "gdap", "dead-letters", "eligibility"):
        driver.get(url + "/console/" + path)
        shot(driver, f"phone-{path or 'overview'}")
    driver.set_window_size(*WINDOW)

    go(driver, driver.find_element(By.CSS_SELECTOR, "form.who button"))
    assert driver.current_url.endswith("/console/sign-in")
    driver.get(url + "/console/")
    assert driver.current_url.endswith("/console/sign-in"), "signed out means signed out"


async def test_an_operator_finds_a_blocked_order_reads_it_in_japanese_redrives_retries_and_downloads(
    world, browser, tmp_path
):
    await asyncio.to_thread(operator_flow, browser, world["url"], tmp_path)


def distributor_flow(driver, url: str) -> None:
    sign_in(driver, url, KEY_EU)
    driver.get(url + "/console/transactions")
    assert BLOCKED_ORDER in text(driver) and JA_ORDER not in text(driver)
    driver.get(url + f"/console/transactions?by=order&q={JA_ORDER}")
    assert JA_ORDER not in text(driver)
    driver.get(url + "/console/dead-letters")
    assert R.DIST in text(driver) and R.DIST_JA not in text(driver)
    driver.get(url + "/console/gdap")
    assert "ntf-eu-1" in text(driver) and "ntf-ja-1" not in text(driver)
    assert "rel-1" in text(driver)


async def test_a_distributor_sees_its_own_transactions_dead_letters_and_deliveries_only(
    world, browser
):
    await asyncio.to_thread(distributor_flow, browser, world["url"])
