"""`porgate report eligibility --import`: Partner Center's report triaged on the real PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from contracts.codec import decode
from contracts.events import DecisionLine, TransactionAccepted, ValidationLine, ValidationRequested
from services.cli.errors import ExitCode

EXIT_BAD_ROWS = ExitCode.BAD_ROWS
from services.common.db import migrate
from services.por_validator import decision_store, store
from services.por_validator.unit_of_work import PostgresValidatorUnitOfWork
from tests.e2e import registry_data as R

NOW = datetime.now(UTC)

# Partner Center's file: a byte-order mark, columns out of order in mixed case, an extra
# column, two bad rows (lines 5 and 7), and each kind of agreement and drift.
REPORT = (
    "\ufefferrorcodes,ResellerName,PARTNERID,ResellerTenantId,IsCompliant,RegionMatch\n"  # 1
    f",Valid Ltd,{R.VALID},ten-valid,True,Yes\n"  # 2: agree, both valid
    f"900152,US Inc,{R.OTHER_REGION},ten-us,False,No\n"  # 3: agree, same code
    f",No Partner,{R.NO_PARTNERSHIP},ten-nopartner,TRUE,Yes\n"  # 4: drift, porgate 900414
    ",Broken,12ab,ten-x,True,Yes\n"  # 5: bad, not a PLA id
    f"900414,Direct,{R.DIRECT_BILL},ten-direct,false,Yes\n"  # 6: agree
    f",Unsure,{R.VALID[:-1]}9,ten-y,perhaps,Yes\n"  # 7: bad, IsCompliant
    f'"900400,900152",Suspended,{R.SUSPENDED_TENANT},ten-suspended,No,No\n'  # 8: drift
    f"800016,Nobody,{R.UNKNOWN},,False,No\n"  # 9: agree, unknown to both
    f",Closed,{R.INACTIVE_PLA},ten-inactive-pla,yes,Yes\n"  # 10: drift, porgate 900151
)

EXPECTED = {  # PLA id -> (line, porgate's codes, agreement)
    R.VALID: (2, [], "agree"),
    R.OTHER_REGION: (3, [900152], "agree"),
    R.NO_PARTNERSHIP: (4, [900414], "drift"),
    R.DIRECT_BILL: (6, [900414], "agree"),
    R.SUSPENDED_TENANT: (8, [900400], "drift"),
    R.UNKNOWN: (9, [800016], "agree"),
    R.INACTIVE_PLA: (10, [900151], "drift"),
}


def decided(
    n: int, pid: str, decided_at: datetime, *, dist=R.DIST, again_of=None, subscription=None
) -> tuple[ValidationRequested, TransactionAccepted]:
    """Decision `dec-{n}` as por-validator records it, of transaction `again_of` when it
    decides an earlier transaction again (a replay), else of a transaction of its own."""
    t = again_of or n
    ref = {
        "sourceEventId": f"evt-{t}",
        "transactionKind": "subscription_change" if subscription else "new_order",
        "orderId": None if subscription else f"ord-{t}",
        "subscriptionId": subscription,
        "changeId": f"chg-{t}" if subscription else None,
        "distributorId": dist,
        "customerId": "cust-42",
    }
    request = ValidationRequested.model_validate(
        {
            **ref,
            "requestedAt": decided_at,
            "lines": [ValidationLine(line_item_id="1", partner_id_on_record=pid)],
        }
    )
    decision = TransactionAccepted.model_validate(
        {
            **ref,
            "decisionId": f"dec-{n}",
            "basis": "validated",
            "errorCodes": [],
            "primaryErrorCode": None,
            "lines": [
                DecisionLine(line_item_id="1", partner_id_on_record=pid, error_codes=[], errors=[])
            ],
            "decidedAt": decided_at,
        }
    )
    return request, decision


def seeded_decisions() -> list[tuple[ValidationRequested, TransactionAccepted]]:
    days = timedelta(days=1)
    pairs = [decided(i, R.VALID, NOW - (10 - i) * days) for i in range(1, 8)]  # ord-1 .. ord-7
    pairs += [
        decided(8, R.VALID, NOW - 1 * days, again_of=7),  # ord-7 decided again: 1 transaction
        decided(9, f" {R.VALID} ", NOW - 20 * days, subscription="sub-9"),  # a change, padded id
        decided(10, R.VALID, NOW - 40 * 31 * days),  # older than 36 months: not counted
        decided(11, R.VALID, NOW - 2 * days, dist=R.DIST_JA),  # another distributor's
        decided(12, R.OTHER_REGION, NOW - 5 * days),
    ]
    return pairs


@pytest.fixture
async def seeded(fresh_database) -> str:
    folder = Path(store.__file__).parent / "migrations"
    await migrate(fresh_database, store.SCHEMA, folder)
    conn = await asyncpg.connect(fresh_database, server_settings={"search_path": store.SCHEMA})
    try:
        async with conn.transaction():
            for e in R.registry_events():
                event = decode(json.dumps(e).encode(), "csp.partner-registry.v1")
                await PostgresValidatorUnitOfWork(conn).project(event.data, event.time, event.id)
            await decision_store.record_decisions(conn, seeded_decisions())
    finally:
        await conn.close()
    return fresh_database


def porgate(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PORGATE_DATABASE_URL": database_url, "PORGATE_LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "report", "eligibility", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def run(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(porgate, database_url, *args)


async def test_the_import_triages_partner_centers_rows_against_the_registry_and_history(
    seeded, tmp_path
):
    report = tmp_path / "ResellerEligibility.csv"
    report.write_text(REPORT, encoding="utf-8")
    out = tmp_path / "triage.json"
    args = ["--import", str(report), "--distributor", R.DIST, "--format", "json"]
    result = await run(seeded, *args, "--output", str(out))
    assert result.returncode == EXIT_BAD_ROWS, result.stderr  # lines 5 and 7 are bad
    assert result.stdout == ""
    document = json.loads(out.read_text())

    rows = {r["PartnerId"]: r for r in document["rows"]}
    got = {pid: (r["Line"], r["PorgateErrorCodes"], r["Agreement"]) for pid, r in rows.items()}
    assert got == EXPECTED
    assert [r["Line"] for r in document["rows"]] == [2, 3, 4, 6, 8, 9, 10]
    assert document["summary"] == {"rowsRead": 9, "bad": 2, "agree": 4, "disagree": 3}
    assert [b["line"] for b in document["badRows"]] == [5, 7]
    assert "not a PLA id" in document["badRows"][0]["reason"]
    assert "IsCompliant 'perhaps'" in document["badRows"][1]["reason"]

    valid = rows[R.VALID]
    assert (valid["ResellerName"], valid["ResellerTenantId"]) == ("Valid Ltd", "ten-valid")
    assert valid["PartnerCenterIsCompliant"] is True and valid["PorgateIsCompliant"] is True
    # ord-1..7 and sub-9's change; not the replay twice, the 40-month-old order or DIST_JA's.
    assert valid["Transactions36Months"] == 8
    assert valid["RecentOrderIds"] == ["ord-7", "ord-6", "ord-5", "ord-4", "ord-3"]
    assert valid["RecentSubscriptionIds"] == ["sub-9"]
    last = datetime.fromisoformat(valid["LastDecidedAt"])
    assert abs(last - (NOW - timedelta(days=1))) < timedelta(seconds=1)
    assert rows[R.OTHER_REGION]["Transactions36Months"] == 1
    assert rows[R.OTHER_REGION]["RecentOrderIds"] == ["ord-12"]
    assert rows[R.NO_PARTNERSHIP]["Transactions36Months"] == 0
    assert rows[R.NO_PARTNERSHIP]["LastDecidedAt"] is None

    suspended = rows[R.SUSPENDED_TENANT]
    assert suspended["PartnerCenterErrorCodes"] == [900400, 900152]
    assert suspended["Drift"] == "porgate lacks Partner Center's 900152"
    assert rows[R.INACTIVE_PLA]["Drift"] == "Partner Center says valid, porgate says invalid"

    assert f"{report}: line 5: skipped" in result.stderr
    assert f"{report}: line 7: skipped" in result.stderr
    assert "9 row(s) read, 2 bad, 4 agree, 3 disagree" in result.stderr
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left


async def test_the_csv_triage_goes_to_standard_output_one_row_per_row_of_the_file(seeded, tmp_path):
    report = tmp_path / "report.csv"
    report.write_text(REPORT, encoding="utf-8")
    result = await run(seeded, "--import", str(report), "--distributor", R.DIST)
    assert result.returncode == EXIT_BAD_ROWS, result.stderr
    every = list(csv.DictReader(io.StringIO(result.stdout)))
    # The bad rows too, in file order, each with its reason: a CSV reader sees them all.
    assert [(t["Line"], t["Agreement"]) for t in every if t["Agreement"] == "bad"] == [
        ("5", "bad"),
        ("7", "bad"),
    ]
    assert all(t["Problem"] for t in every if t["Agreement"] == "bad")
    assert [int(t["Line"]) for t in every] == sorted(int(t["Line"]) for t in every)
    table = [t for t in every if t["Agreement"] != "bad"]
    assert [(t["PartnerId"], t["Agreement"]) for t in table] == [
        (pid, agreement) for pid, (_, _, agreement) in EXPECTED.items()
    ]
    assert table[0]["RecentOrderIds"] == "ord-7,ord-6,ord-5,ord-4,ord-3"
    assert table[4]["PartnerCenterErrorCodes"] == "900400,900152"


async def test_an_unknown_distributor_is_warned_about_and_agrees_on_nothing_valid(seeded, tmp_path):
    report = tmp_path / "report.csv"
    report.write_text(REPORT, encoding="utf-8")
    result = await run(seeded, "--import", str(report), "--distributor", "dist-nobody")
    assert result.returncode == EXIT_BAD_ROWS, result.stderr
    assert "does not know distributor dist-nobody" in result.stderr
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    assert table[0]["PorgateErrorCodes"] == "900414"
    assert table[0]["Transactions36Months"] == "0"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"PartnerId,IsCompliant\n1000001,True\n", "lacks required column(s) ErrorCodes"),
        (b"", "the file is empty"),
        (b"PartnerId,IsCompliant,ErrorCodes\n1000001,M\xfcller,\n", "not UTF-8 text (line 2"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8"),
        (None, "No such file"),
    ],
    ids=["missing column", "empty", "latin-1", "binary", "no such file"],
)
async def test_a_failing_import_says_why_exits_non_zero_and_writes_no_output(
    seeded, tmp_path, content, message
):
    report = tmp_path / "in.csv"
    if content is not None:
        report.write_bytes(content)
    out = tmp_path / "triage.csv"
    kept = tmp_path / "kept.json"
    kept.write_text("yesterday's triage")
    for target in (out, kept):
        result = await run(
            seeded, "--import", str(report), "--distributor", R.DIST, "--output", str(target)
        )
        assert result.returncode == 1
        assert message in result.stderr
        assert "Traceback" not in result.stderr and result.stdout == ""
    assert not out.exists()
    assert kept.read_text() == "yesterday's triage"
    assert {p.name for p in tmp_path.iterdir()} == {"kept.json"} | (
        {"in.csv"} if content is not None else set()
    )


async def test_an_output_that_cannot_be_written_is_a_clear_message_not_a_traceback(
    seeded, tmp_path
):
    report = tmp_path / "report.csv"
    report.write_text(REPORT, encoding="utf-8")
    out = tmp_path / "no-such-dir" / "triage.csv"
    result = await run(
        seeded, "--import", str(report), "--distributor", R.DIST, "--output", str(out)
    )
    assert result.returncode == 1
    assert f"cannot write {out}" in result.stderr and "Traceback" not in result.stderr


async def test_a_file_without_a_bad_row_exits_zero_and_one_of_bad_rows_only_exits_three(
    seeded, tmp_path
):
    good = tmp_path / "good.csv"
    good.write_text(f"PartnerId,IsCompliant,ErrorCodes\n{R.VALID},True,\n", encoding="utf-8")
    result = await run(seeded, "--import", str(good), "--distributor", R.DIST)
    assert result.returncode == 0, result.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text(
        'PartnerId,IsCompliant,ErrorCodes\n=HYPERLINK("x"),True,\n12ab,True,\n',
        encoding="utf-8",
    )
    result = await run(seeded, "--import", str(bad), "--distributor", R.DIST)
    assert result.returncode == EXIT_BAD_ROWS, result.stderr
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(t["Line"], t["PartnerId"]) for t in table] == [
        ("2", '\'=HYPERLINK("x")'),
        ("3", "12ab"),
    ]
    assert "2 row(s) read, 2 bad" in result.stderr
