"""The console's pure parts: sessions and CSRF tokens, keyset cursors, charts, byte dumps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.console import auth, charts, views

SECRET = "test-secret"


def sessions(lifetime_s: int = 3600) -> auth.Sessions:
    return auth.Sessions({"k-eu": "dist-eu-1"}, ["k-op"], SECRET, lifetime_s)


def test_a_key_opens_a_session_scoped_to_its_distributor_and_an_operator_key_to_all():
    s = sessions()
    eu = s.principal(s.sign_in("k-eu"))
    op = s.principal(s.sign_in(" k-op "))
    assert eu is not None and eu.distributor_id == "dist-eu-1" and not eu.is_operator
    assert op is not None and op.is_operator
    assert eu.may_see("dist-eu-1") and not eu.may_see("dist-jp-1") and not eu.may_see(None)
    assert op.may_see("dist-jp-1") and op.may_see(None)
    assert eu.scope("dist-jp-1") == "dist-eu-1" and op.scope("dist-jp-1") == "dist-jp-1"
    assert op.scope("") is None


@pytest.mark.parametrize("wrong", ["", " ", "k-eu ", "K-EU", "k-e", "k-eux", "dist-eu-1"])
def test_any_other_key_opens_nothing(wrong):
    s = sessions()
    if wrong.strip() == "k-eu":
        assert s.sign_in(wrong) is not None  # surrounding whitespace is trimmed
        return
    assert s.sign_in(wrong) is None


def test_the_cookie_holds_neither_the_key_nor_anything_another_secret_accepts():
    s = sessions()
    cookie = s.sign_in("k-eu")
    assert "k-eu" not in cookie
    other = auth.Sessions({"k-eu": "dist-eu-1"}, [], "another-secret", 3600)
    assert other.principal(cookie) is None
    assert s.principal(cookie[:-2] + "xx") is None
    assert s.principal(None) is None and s.principal("") is None


def test_a_session_expires_after_its_lifetime(monkeypatch):
    s = sessions(lifetime_s=60)
    cookie = s.sign_in("k-eu")
    assert s.principal(cookie) is not None
    real = auth.time.time
    import itsdangerous.timed

    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real() + 61)
    assert s.principal(cookie) is None


def test_removing_a_key_ends_its_sessions():
    cookie = sessions().sign_in("k-eu")
    without = auth.Sessions({}, ["k-op"], SECRET, 3600)
    assert without.principal(cookie) is None


def test_a_signed_out_session_stays_out_and_each_session_has_its_own_csrf_token():
    s = sessions()
    first, second = s.principal(s.sign_in("k-eu")), s.principal(s.sign_in("k-eu"))
    assert first.csrf_token != second.csrf_token
    assert s.csrf_ok(first, first.csrf_token) and not s.csrf_ok(first, second.csrf_token)
    assert not s.csrf_ok(first, None) and not s.csrf_ok(first, "")
    cookie = s.sign_in("k-op")
    s.sign_out(s.principal(cookie))
    assert s.principal(cookie) is None


def test_the_sign_in_form_token_must_match_its_cookie():
    s = sessions()
    cookie, token = s.new_sign_in_nonce()
    _, other_token = s.new_sign_in_nonce()
    assert s.sign_in_form_ok(cookie, token)
    assert not s.sign_in_form_ok(cookie, other_token)
    assert not s.sign_in_form_ok(None, token) and not s.sign_in_form_ok(cookie, None)


@given(
    st.datetimes(timezones=st.just(UTC)),
    st.text(min_size=1, max_size=60),
)
def test_a_cursor_decodes_to_the_keyset_it_encodes(at, decision_id):
    assert views.decode_cursor(views.encode_cursor(at, decision_id)) == (at, decision_id)


@pytest.mark.parametrize("junk", [None, "", "!!!", "e30", "W10", "WyJ4IiwgMV0"])
def test_a_cursor_that_is_not_one_is_ignored(junk):
    assert views.decode_cursor(junk) is None


def test_the_overview_counts_the_last_hour_and_day_by_minute():
    now = datetime(2026, 1, 10, 12, 30, 20, tzinfo=UTC)
    minute = now.replace(second=0)
    rows = [
        {"minute": minute, "outcome": "accepted", "n": 6},
        {"minute": minute, "outcome": "blocked", "n": 2},
        {"minute": minute - timedelta(hours=3), "outcome": "blocked", "n": 30},
    ]
    model = views.overview(rows, [{"code": 900400, "n": 32}], now)
    assert (model.accepted_hour, model.blocked_hour) == (6, 2)
    assert (model.accepted_day, model.blocked_day) == (6, 32)
    assert model.blocked_share_hour == "25.0%" and model.blocked_share_day == "84.2%"
    assert len(model.hour.x_labels) == 6 and model.hour.y_max == 10
    # The three-hour-old 30 sits in one 15-minute slot of the day chart: 2 per minute.
    assert max(b.height for b in model.day.bars if b.series == "blocked") > 0
    assert "900400" in model.codes.summary
    assert views.overview([], [], now).blocked_share_day == "–"


@pytest.mark.parametrize(
    ("value", "ceiling"), [(0, 1), (1, 1), (1.5, 2), (3, 5), (7, 10), (11, 20), (480, 500)]
)
def test_chart_scales_round_up_to_1_2_or_5(value, ceiling):
    assert charts.nice_ceiling(value) == ceiling


def test_stacked_bars_stay_inside_the_chart():
    chart = charts.stacked_bars(
        "t",
        ["a", "b", "c"],
        [("accepted", [1, 0, 9]), ("blocked", [2, 3, 0])],
        unit="",
        label_every=1,
    )
    for bar in chart.bars:
        assert bar.y >= 0 and bar.y + bar.height <= chart.height - chart.pad_bottom + 0.01
    assert len(chart.bars) == 4


def test_a_dead_letters_distributor_and_bytes_are_shown_safely():
    assert views.distributor_of(b'{"data": {"distributorId": "dist-eu-1"}}') == "dist-eu-1"
    for value in (
        None,
        b"",
        b"\xff\xfe",
        b"[1]",
        b'{"data": 1}',
        b'{"data": {"distributorId": 7}}',
    ):
        assert views.distributor_of(value) is None
    dump = views.hex_dump(b"PK\x00\x01hello, world!!!xyz")
    assert dump.splitlines()[0].startswith("00000000  50 4b 00 01")
    assert dump.splitlines()[0].endswith("PK..hello, world")
    assert views.as_text(b'{"a":1}') == '{\n  "a": 1\n}'
    assert views.as_text(b"\xff") == "\ufffd"


def test_a_dead_letter_too_deep_to_parse_or_holding_a_lone_surrogate_shows_as_its_text():
    # Either once made the whole dead-letter list a 500 (RecursionError, UnicodeEncodeError).
    for value in (
        b"[" * 100_000 + b"]" * 100_000,
        b'{"data": {"distributorId": "\\udc00"}}',
        b'{"data": {"distributorId": "d", "x": NaN}}',
    ):
        assert views.distributor_of(value) is None
        assert views.as_text(value) == value[: 64 * 1024].decode()  # its first 64 KiB
        assert views.as_text(value).encode("utf-8")


def test_code_texts_are_in_the_readers_language():
    (en,) = views.code_texts([900400], "en")
    (ja,) = views.code_texts([900400], "ja")
    assert en.message != ja.message and ja.remediation
    assert views.code_texts([123], "en")[0].message == "unknown code 123"
