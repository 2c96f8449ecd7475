"""Wrong keys: a few are free, then each locks the address (or the key) out for longer."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from services.api.settings import MIN_KEY_LENGTH
from services.common import sign_in_attempts as A
from services.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_free_failures_pass_then_each_locks_twice_as_long_up_to_the_cap():
    clock = Clock()
    attempts = A.SignInAttempts(clock)
    address = ("address", "203.0.113.9")
    for _ in range(A.FREE_FAILURES):
        assert attempts.retry_after([address]) is None
        attempts.failed([address])
    assert attempts.retry_after([address]) is None
    locks = []
    for _ in range(15):
        attempts.failed([address])
        wait = attempts.retry_after([address])
        assert wait is not None
        locks.append(wait)
        clock.now += wait  # waited out
        assert attempts.retry_after([address]) is None
    assert locks[:4] == [1, 2, 4, 8]
    assert max(locks) == A.MAX_LOCK_S and locks == sorted(locks)


def test_a_lock_holds_for_every_subject_named_and_others_are_untouched():
    clock = Clock()
    attempts = A.SignInAttempts(clock)
    key, address, other = ("key", "fp1"), ("address", "a"), ("address", "b")
    for _ in range(A.FREE_FAILURES + 1):
        attempts.failed([key, address])
    assert attempts.retry_after([address]) is not None
    assert attempts.retry_after([other, key]) is not None  # the key, from anywhere
    assert attempts.retry_after([other]) is None


def test_the_count_starts_afresh_after_a_quiet_window():
    clock = Clock()
    attempts = A.SignInAttempts(clock)
    for _ in range(A.FREE_FAILURES):
        attempts.failed(["a"])
    clock.now += A.WINDOW_S + 1
    attempts.failed(["a"])
    assert attempts.retry_after(["a"]) is None


def test_the_table_is_bounded_whatever_the_number_of_addresses():
    attempts = A.SignInAttempts(Clock())
    for n in range(A.MAX_TRACKED + 500):
        attempts.failed([("address", n)])
    assert len(attempts._by_subject) == A.MAX_TRACKED


@pytest.mark.parametrize(
    "field, value",
    [
        ("api_keys", "xyzzy=dist-eu-1"),
        ("api_keys", "k" * MIN_KEY_LENGTH + "=dist-eu-1,plugh=dist-jp-1"),
        ("operator_keys", "op-quux"),
    ],
)
def test_a_key_shorter_than_the_minimum_stops_the_settings_with_a_clear_error(field, value):
    with pytest.raises(ValidationError) as raised:
        Settings(**{field: SecretStr(value)})
    text = str(raised.value)
    assert f"at least {MIN_KEY_LENGTH} characters" in text
    assert all(k not in text for k in ("xyzzy", "plugh", "quux"))  # never a key


def test_keys_of_the_minimum_length_are_accepted():
    key = "k" * MIN_KEY_LENGTH
    s = Settings(api_keys=SecretStr(f"{key}=dist-eu-1"), operator_keys=SecretStr("o" * 40))
    assert s.api_key_map() == {key: "dist-eu-1"}
