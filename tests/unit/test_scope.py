"""Which transactions are validated, to the second, and the grandfathering of scheduled changes."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.domain.scope import KNOWN_CHANGE_KINDS, change_basis, order_basis

START = datetime(2025, 12, 1, tzinfo=UTC)
SEC = timedelta(seconds=1)
BEFORE, AT, AFTER = START - SEC, START, START + SEC

VALIDATED_KINDS = [
    "seat_count",
    "billing_plan",
    "term",
    "p2p_transfer",
    "legacy_to_new_commerce",
    "scheduled_change_set",
    "scheduled_change_edit",
]


def test_order_boundary_to_the_second():
    assert order_basis(BEFORE, START) == "before_enforcement"
    assert order_basis(AT, START) == "validated"
    assert order_basis(AFTER, START) == "validated"


def test_order_boundary_in_another_zone():
    tokyo = timezone(timedelta(hours=9))
    assert (
        order_basis(datetime(2025, 12, 1, 8, 59, 59, tzinfo=tokyo), START) == "before_enforcement"
    )
    assert order_basis(datetime(2025, 12, 1, 9, 0, 0, tzinfo=tokyo), START) == "validated"


@pytest.mark.parametrize("kind", VALIDATED_KINDS)
@pytest.mark.parametrize(
    ("when", "basis"), [(BEFORE, "before_enforcement"), (AT, "validated"), (AFTER, "validated")]
)
def test_phase2_kinds(kind, when, basis):
    assert change_basis(kind, when, None, START) == basis


@pytest.mark.parametrize("when", [BEFORE, AT, AFTER])
def test_renewal_always_exempt(when):
    assert change_basis("renewal", when, None, START) == "exempt_renewal"


@pytest.mark.parametrize("kind", ["cancel", "suspend", "", "SEAT_COUNT", "address_change"])
@pytest.mark.parametrize("when", [BEFORE, AFTER])
def test_other_kinds_not_in_scope(kind, when):
    assert change_basis(kind, when, None, START) == "not_in_scope"


@pytest.mark.parametrize(
    ("executes", "set_at", "basis"),
    [
        (AFTER, BEFORE, "exempt_scheduled_before_enforcement"),
        (AFTER, AT, "validated"),
        (AFTER, AFTER, "validated"),
        (AT, BEFORE, "exempt_scheduled_before_enforcement"),
        (AFTER, None, "validated"),  # unprovable grandfathering is validated
        (BEFORE, BEFORE, "before_enforcement"),
        (BEFORE, None, "before_enforcement"),
    ],
)
def test_scheduled_change_execution(executes, set_at, basis):
    assert change_basis("scheduled_change_execution", executes, set_at, START) == basis


def test_setting_a_scheduled_change_before_the_start_is_not_validated_but_after_is():
    assert change_basis("scheduled_change_set", BEFORE, None, START) == "before_enforcement"
    assert change_basis("scheduled_change_edit", AFTER, BEFORE, START) == "validated"


def test_known_kinds_are_the_contracts():
    assert KNOWN_CHANGE_KINDS == {*VALIDATED_KINDS, "scheduled_change_execution", "renewal"}
