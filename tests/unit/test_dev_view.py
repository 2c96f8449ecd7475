"""The demo's live frame fits the terminal with the banner in it; its budget of rows."""

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from services.devtools.dev_view import Banner, LiveView, row_budget

BANNER = Banner(
    "porgate dev",
    [
        ("Kafka bootstrap servers", "127.0.0.1:19092"),
        ("POR validation API", "http://127.0.0.1:8080/v1/partners/validateresellers"),
        ("", "API key for dist-eu-1: dev-0123456789abcdef"),
    ],
)
LONG_TITLE = "Order ord-0000080-73d634 was blocked: Partner of Record validation failed " + (
    "x" * 60
)


def full_view() -> LiveView:
    view = LiveView(BANNER)
    for i in range(20):
        view.decision(
            {
                "decidedAt": "2026-01-01T10:00:00Z",
                "orderId": f"ord-{i}",
                "distributorId": "dist-eu-1",
                "basis": "validated",
                "outcome": "blocked",
                "errorCodes": [900151],
            }
        )
        view.revocation(
            "gdap.privileges.revoked.v1",
            {
                "relationshipId": f"rel-{i}",
                "customerId": "c",
                "resellerTenantId": "t",
                "reason": "reseller_suspended",
            },
        )
        view.notification(
            {
                "kind": "transaction_blocked",
                "distributorId": "dist-eu-1",
                "language": "en",
                "title": LONG_TITLE,
            }
        )
    return view


def frame(view: LiveView, width: int, height: int) -> list[str]:
    console = Console(file=io.StringIO(), width=width, height=height, force_terminal=True)
    console.print(view)
    return console.file.getvalue().splitlines()


@pytest.mark.parametrize(("width", "height"), [(200, 50), (120, 40), (80, 24), (100, 30)])
def test_the_frame_never_outgrows_the_screen_and_keeps_the_banner(width, height):
    lines = frame(full_view(), width, height)
    assert len(lines) <= height - 1
    text = "\n".join(lines)
    assert "dev-0123456789abcdef" in text and "127.0.0.1:19092" in text
    assert "POR decisions" in text and "accepted 0" in text


@pytest.mark.parametrize(("width", "height"), [(200, 60), (100, 30)])
def test_the_frame_keeps_one_height_as_events_arrive(width, height):
    # A frame that grows scrolls the terminal, leaving copies of its top in the scrollback.
    empty, full = frame(LiveView(BANNER), width, height), frame(full_view(), width, height)
    assert len(empty) == len(full) <= height - 1


def test_a_notification_title_uses_the_width_there_is():
    assert any(LONG_TITLE in line for line in frame(full_view(), 220, 50))


@given(
    st.integers(min_value=-5, max_value=60),
    st.lists(st.integers(min_value=0, max_value=20), min_size=1, max_size=4),
)
def test_the_row_budget_fills_what_is_available_and_no_table_exceeds_its_capacity(
    available, capacities
):
    rows = row_budget(available, capacities)
    assert sum(rows) == min(max(available, 0), sum(capacities))
    assert all(0 <= r <= c for r, c in zip(rows, capacities, strict=True))
    if available >= len(capacities):  # room for a row each: every table shows one
        assert all(r >= min(c, 1) for r, c in zip(rows, capacities, strict=True))


def test_the_row_budget_shares_a_short_screen_in_proportion():
    assert row_budget(26, [14, 6, 6]) == [14, 6, 6]
    assert row_budget(13, [14, 6, 6]) == [7, 3, 3]
