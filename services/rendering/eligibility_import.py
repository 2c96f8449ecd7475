"""The triage of an imported ResellerEligibility report (services/domain/eligibility_import.py)
as files: a CSV a spreadsheet opens safely, and JSON, each with every row of the file."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable

from services.domain.eligibility_import import BadRow, ParsedReport, TriageRow
from services.rendering.spreadsheet import spreadsheet_safe

TRIAGE_COLUMNS = (
    "Line",
    "PartnerId",
    "ResellerName",
    "ResellerTenantId",
    "PartnerCenterIsCompliant",
    "PartnerCenterErrorCodes",
    "PorgateIsCompliant",
    "PorgateErrorCodes",
    "Agreement",
    "Drift",
    "Transactions36Months",
    "RecentOrderIds",
    "RecentSubscriptionIds",
    "LastDecidedAt",
    # A bad row's reason (its Agreement is "bad" and its other cells empty but Line and
    # PartnerId as written): the CSV reports every row of the file, as the JSON does.
    "Problem",
)


def bad_row_record(bad: BadRow) -> dict[str, object]:
    return {"line": bad.line, "partnerId": bad.partner_id, "reason": bad.reason}


def triage_record(row: TriageRow) -> dict[str, object]:
    """The JSON shape of a triage row; the CSV joins its lists with commas."""
    h = row.history
    return {
        "Line": row.imported.line,
        "PartnerId": row.imported.partner_id,
        "ResellerName": row.imported.reseller_name,
        "ResellerTenantId": row.imported.reseller_tenant_id,
        "PartnerCenterIsCompliant": row.imported.is_compliant,
        "PartnerCenterErrorCodes": list(row.imported.error_codes),
        "PorgateIsCompliant": not row.porgate_codes,
        "PorgateErrorCodes": list(row.porgate_codes),
        "Agreement": "agree" if row.agree else "drift",
        "Drift": row.drift,
        "Transactions36Months": h.transactions,
        "RecentOrderIds": list(h.recent_order_ids),
        "RecentSubscriptionIds": list(h.recent_subscription_ids),
        "LastDecidedAt": h.last_decided_at.isoformat() if h.last_decided_at else None,
    }


def summary(parsed: ParsedReport, rows: list[TriageRow]) -> dict[str, int]:
    agreeing = sum(r.agree for r in rows)
    return {
        "rowsRead": parsed.rows_read,
        "bad": len(parsed.bad_rows),
        "agree": agreeing,
        "disagree": len(rows) - agreeing,
    }


def render_csv(rows: list[TriageRow], bad_rows: Iterable[BadRow] = ()) -> str:
    """Every row of the file in line order: each good one triaged, each bad or repeated one
    with its reason; no cell a spreadsheet would run."""
    records: list[tuple[int, dict[str, object]]] = []
    for row in rows:
        record = triage_record(row)
        for name, value in record.items():
            if isinstance(value, bool):
                record[name] = "True" if value else "False"
            elif isinstance(value, list):
                record[name] = ",".join(map(str, value))
            elif value is None:
                record[name] = ""
        records.append((row.imported.line, record))
    for bad in bad_rows:
        records.append(
            (
                bad.line,
                {
                    "Line": bad.line,
                    "PartnerId": bad.partner_id,
                    "Agreement": "bad",
                    "Problem": bad.reason,
                },
            )
        )
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=TRIAGE_COLUMNS, lineterminator="\n", restval="")
    writer.writeheader()
    for _, record in sorted(records, key=lambda r: r[0]):
        writer.writerow(
            {k: spreadsheet_safe(v) if isinstance(v, str) else v for k, v in record.items()}
        )
    return out.getvalue()


def render_json(parsed: ParsedReport, rows: list[TriageRow]) -> str:
    document = {
        "summary": summary(parsed, rows),
        "rows": [triage_record(r) for r in rows],
        "badRows": [bad_row_record(b) for b in parsed.bad_rows],
    }
    return json.dumps(document, indent=2) + "\n"
