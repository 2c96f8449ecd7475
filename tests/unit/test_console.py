"""The console's pure parts: sessions and CSRF tokens, keyset cursors, charts, byte dumps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.console import auth, charts, views
from services.domain.explain import explain, to_wire
from tests.unit.test_por_rules import DIST, PID, registry

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
    # A signature's first character is six bits of the MAC: any other one is another MAC.
    # (Its last carries padding bits: changing it may leave the same bytes.)
    body, _, signature = cookie.rpartition(".")
    forged = ("B" if signature[0] == "A" else "A") + signature[1:]
    assert s.principal(f"{body}.{forged}") is None
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
    assert len(model.hour.x_labels) == 6 and model.hour.y_max == 8
    assert model.hour.y_ticks == ("8", "6", "4", "2", "0")
    # The three-hour-old 30 sits in one 15-minute slot of the day chart: 2 per minute.
    assert max(b.height for b in model.day.bars if b.series == "blocked") > 0
    assert model.day.y_ticks == ("2", "1.5", "1", "0.5", "0")
    assert "900400" in model.codes.summary
    assert views.overview([], [], now).blocked_share_day == "–"


def test_an_error_codes_label_is_its_whole_message_and_its_count_stands_apart():
    now = datetime(2026, 1, 10, 12, 30, tzinfo=UTC)
    model = views.overview([], [{"code": 900151, "n": 11}, {"code": 900999, "n": 2}], now)
    first, unknown = model.codes.rows
    assert (first.label, first.value) == ("900151", 11)
    assert first.detail == views.code_texts([900151], "en")[0].message  # not cut mid-word
    assert unknown.detail == "unknown code 900999"
    assert (first.share, unknown.share) == (55, 10)  # on a round scale of 20


@pytest.mark.parametrize(
    ("top", "whole", "y_max", "ticks"),
    [
        (0, True, 1, (1, 0)),
        (1, True, 1, (1, 0)),
        (3, True, 3, (3, 2, 1, 0)),
        (5, True, 6, (6, 4, 2, 0)),
        (37, True, 40, (40, 30, 20, 10, 0)),
        (0.2, False, 0.2, (0.2, 0.15, 0.1, 0.05, 0)),
        (0.07, False, 0.08, (0.08, 0.06, 0.04, 0.02, 0)),
    ],
)
def test_an_axis_has_round_evenly_spaced_ticks_from_zero_to_at_least_the_top(
    top, whole, y_max, ticks
):
    assert charts.axis(top, whole=whole) == (pytest.approx(y_max), pytest.approx(ticks))


def test_a_small_lag_draws_a_small_bar_on_a_scale_of_at_least_100():
    ranking = charts.horizontal_bars(
        "lag", [("g1", "", 1), ("g2", "", 0)], "lag", unit="records", at_least=100
    )
    assert ranking.x_max == 100 and [r.share for r in ranking.rows] == [1, 0]
    big = charts.horizontal_bars("lag", [("g1", "", 480)], "lag", unit="records", at_least=100)
    assert big.x_max == 500 and big.rows[0].share == 96


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
        assert bar.y >= 0 and bar.y + bar.height <= chart.height + 0.01
        assert bar.x >= 0 and bar.x + bar.width <= chart.width + 0.01
    assert len(chart.bars) == 4
    assert chart.gridlines[0] == 0 and chart.gridlines[-1] == chart.height


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


def test_another_distributors_reseller_is_not_yours_not_broken():
    other = registry(partnership=False, tenant_region="Japan")
    verdict = views.reseller_verdict(PID, DIST, other, "en")
    assert [c.code for c in verdict.codes] == [900414, 900152]
    assert verdict.not_yours == (
        f"no active partnership with {DIST}",
        f"in Japan, {DIST} in Europe",
    )
    # A direct-bill tenant's 900414 (step 6) is broken, whatever the partnership says.
    broken = views.reseller_verdict(
        PID, DIST, registry(kind="direct_bill", partnership=False), "ja"
    )
    assert broken.not_yours == () and [c.code for c in broken.codes] == [900414]
    assert broken.codes[0].message == views.code_texts([900414], "ja")[0].message
    assert views.reseller_verdict(PID, DIST, registry(), "en").valid


def test_a_transactions_blocked_ids_are_each_pla_id_once_with_its_lines_and_codes():
    decision = {
        "lines": [
            {"lineItemId": "1", "partnerIdOnRecord": "1000003", "errorCodes": [900400]},
            {"lineItemId": "2", "partnerIdOnRecord": "1000001", "errorCodes": []},
            {"lineItemId": "3", "partnerIdOnRecord": " 1000003 ", "errorCodes": [900400]},
            {"lineItemId": "4", "partnerIdOnRecord": None, "errorCodes": [800016]},
        ]
    }
    assert views.blocked_ids(decision) == [
        views.BlockedId("1000003", ("1", "3"), (900400,)),
        views.BlockedId("", ("4",), (800016,)),
    ]
    assert [b.recheckable for b in views.blocked_ids(decision)] == [True, False]


@pytest.mark.parametrize(
    ("value", "shown"), [(True, "true"), (False, "false"), (None, "unknown"), ("PLA", "PLA")]
)
def test_facts_read_as_the_apis_json_not_pythons(value, shown):
    assert views.fact_text(value) == shown


@pytest.mark.parametrize(
    ("text", "end_of_day", "expected"),
    [
        ("2026-01-10", False, datetime(2026, 1, 10, tzinfo=UTC)),
        ("2026-01-10", True, datetime(2026, 1, 11, tzinfo=UTC)),
        ("2026-01-10 09:30", True, datetime(2026, 1, 10, 9, 30, tzinfo=UTC)),
        ("2026-01-10T09:30+09:00", False, datetime(2026, 1, 10, 0, 30, tzinfo=UTC)),
        ("", False, None),
    ],
)
def test_date_fields_take_iso_dates_and_an_until_date_includes_its_day(text, end_of_day, expected):
    assert views.parse_local_time(text, end_of_day=end_of_day) == expected


def test_a_date_in_the_browsers_locale_order_is_refused():
    with pytest.raises(ValueError):
        views.parse_local_time("01/10/2026 09:30")


def test_lines_with_one_pla_id_share_one_walk_whose_facts_read_as_json():
    walk = to_wire(explain(PID, DIST, registry(status="suspended")))
    line = {"partnerIdOnRecord": PID, "errorCodes": [900400], "errors": []}
    decision = {
        "distributorId": DIST,
        "lines": [
            {
                **line,
                "lineItemId": str(i),
                "explanation": [s.model_dump(mode="json", by_alias=True) for s in walk],
            }
            for i in (1, 2)
        ],
    }
    (shown,) = views.line_explanations(decision, "en")
    assert shown["line_item_ids"] == ["1", "2"] and shown["partner_id"] == PID
    facts = {f["fact"]: f["text"] for s in shown["steps"] for f in s["facts"]}
    assert (
        facts["partnerAccount.active"] == "true" and facts["resellerTenant.status"] == "suspended"
    )
