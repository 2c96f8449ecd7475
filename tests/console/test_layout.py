"""The layout check itself (tests/console/layout.py), on pages made to break: each kind of
breakage is seen, and a page that fits passes. A check that sees nothing would let every
console page "pass"."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from tests.console.layout import layout_problems

STYLE = "<style>body{margin:0;font:15px sans-serif} .box{width:200px;border:1px solid}</style>"
BROKEN = {
    "a table running off the right edge": "<table><tr>"
    + "<td style='white-space:nowrap'>an unbroken line of words " * 12
    + "</td></tr></table>",
    "text overflowing its box": "<div class='box'>Averyveryveryverylongunbrokenwordthatdoesnotfit</div>",
    "a label cut by an ellipsis": "<div class='box' style='overflow:hidden;white-space:nowrap;"
    "text-overflow:ellipsis'>900151 This PLA ID (formerly MPN ID) is invalid or inactive</div>",
    "a table wider than its scroll box": "<div class='scroll' style='overflow-x:auto;width:300px'>"
    "<table><tr><td style='white-space:nowrap'>" + "wide " * 40 + "</td></tr></table></div>",
    "chart labels on top of each other": "<figure class='chart'><div class='x-axis'>"
    "<span style='position:absolute;left:10px'>15:14</span>"
    "<span style='position:absolute;left:14px'>15:24</span></div></figure>",
    "a chart label cut by its chart": "<figure class='chart' style='width:100px;height:40px;"
    "margin:0'><svg width='100' height='40'><text x='60' y='20'>900400 not linked</text></svg>"
    "</figure>",
}
FITS = (
    "<main><h1>Overview</h1><div class='box'>900151 This PLA ID (formerly MPN ID) is invalid or "
    "inactive.</div><table><tr><td>2026-01-10 09:00</td><td>wraps as it must</td></tr></table>"
    "</main>"
)


def problems_of(driver, body: str, phone: bool = False) -> list[str]:
    driver.get("data:text/html;charset=utf-8," + quote(f"<!doctype html>{STYLE}{body}"))
    return layout_problems(driver, phone)


def check(driver) -> None:
    for what, body in BROKEN.items():
        assert problems_of(driver, body), f"the check does not see {what}"
    assert problems_of(driver, FITS) == []
    # On a phone a wide table may scroll inside its own box; the page still may not.
    assert problems_of(driver, BROKEN["a table wider than its scroll box"], phone=True) == []
    assert problems_of(driver, BROKEN["a table running off the right edge"], phone=True)


async def test_the_layout_check_sees_overflow_cut_labels_and_wide_tables(browser):
    await asyncio.to_thread(check, browser)
