"""`porgate report ...`: eligibility, observe-mode and at-risk reports for one distributor."""

# No `from __future__ import annotations`: typer reads the commands' annotations at run time.

import asyncio
import contextlib
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Annotated

import typer
from rich.table import Table
from rich.text import Text

from services.cli.errors import ExitCode, command_group, fail
from services.cli.output import (
    Column,
    Document,
    DocumentFormat,
    Tabular,
    TabularFormat,
    emit,
    say,
    stdout_console,
    write_csv,
    write_json,
)
from services.settings import Settings, get_settings

app = command_group("Reports.")

Output = Annotated[
    Path | None,
    typer.Option(help="File to write, as csv or json (default: standard output)."),
]


def _check_output(output: Path | None, fmt: Tabular) -> None:
    if output is not None and fmt is Tabular.text:
        raise typer.BadParameter(
            "a table is for the terminal; write csv or json to a file", param_hint="--output"
        )


@contextlib.contextmanager
def _opened(output: Path | None) -> Iterator[IO[str]]:
    if output is None:
        yield sys.stdout
        return
    with output.open("w", newline="", encoding="utf-8") as out:
        yield out


def _write(
    rows: list[dict], names: tuple[str, ...], fmt: Tabular, out: IO[str], title: str
) -> None:
    """Rows keyed by `names`, the report's own column names, in any of the formats."""
    if fmt is Tabular.json:
        write_json(rows, out)
    elif fmt is Tabular.csv:
        write_csv(rows, names, out)
    else:
        emit(rows, [Column(n, n) for n in names], fmt, title=title, empty=f"{title}: none")


@app.command("eligibility")
def report_eligibility(
    distributor: Annotated[str, typer.Option("--distributor", help="Distributor id.")],
    fmt: TabularFormat = Tabular.csv,
    output: Output = None,
    months: Annotated[int, typer.Option(help="Look-back window in months.")] = 36,
    import_file: Annotated[
        Path | None,
        typer.Option(
            "--import",
            help="Partner Center's ResellerEligibility CSV: triage it against porgate's verdict now.",
        ),
    ] = None,
) -> None:
    """ResellerEligibility: every reseller that was POR on the distributor's transactions, checked
    now; with --import, Partner Center's own report triaged against porgate's verdict.

    Exit status with --import: 0 every row triaged; 7 some rows bad or repeated (each
    reported by line, with its reason, in the output and on stderr; the good ones are
    triaged and written all the same); 1 nothing imported (the file is unreadable)."""
    from services.por_validator.report import eligibility_report
    from services.rendering.eligibility import COLUMNS, eligibility_record

    _check_output(output, fmt)
    settings = get_settings()
    since = datetime.now(UTC) - timedelta(days=round(months * 30.4375))
    if import_file is not None:
        _import_eligibility(settings, import_file, distributor, fmt, output, since)
        return
    rows = asyncio.run(eligibility_report(settings, distributor, since))
    with _opened(output) as out:
        title = f"ResellerEligibility of {distributor}"
        _write([eligibility_record(r) for r in rows], COLUMNS, fmt, out, title)
    say(f"{len(rows)} reseller(s) for {distributor} since {since:%Y-%m-%d}")


@app.command("observe")
def report_observe(
    distributor: Annotated[str, typer.Option("--distributor", help="Distributor id.")],
    since: Annotated[str, typer.Option(help="How far back: 7d, 12h, 90m or seconds.")] = "7d",
    fmt: DocumentFormat = Document.text,
) -> None:
    """What enforcement would have blocked in observe mode: by code, by reseller, and the
    customers most affected."""
    from services.common.config import duration_s
    from services.por_validator.report import observe_report

    try:
        window = duration_s(since)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    report = asyncio.run(
        observe_report(get_settings(), distributor, datetime.now(UTC) - timedelta(seconds=window))
    )
    if fmt is Document.json:
        write_json(report)
        return
    console = stdout_console()
    console.print(
        f"{report['transactions']} transaction(s) of {distributor} would have been blocked"
        f" since {report['since'][:19]}"
    )
    for title, key, columns in (
        ("by code", "byCode", ("code", "transactions")),
        ("by reseller (PLA id)", "byReseller", ("partnerId", "transactions", "codes")),
        ("customers most affected", "customersMostAffected", ("customerId", "transactions")),
    ):
        table = Table(title=title)
        for column in columns:
            table.add_column(column)
        for row in report[key]:
            table.add_row(*(Text(str(row[c])) for c in columns))
        console.print(table)


@app.command("at-risk")
def report_at_risk(
    distributor: Annotated[str, typer.Option("--distributor", help="Distributor id.")],
    fmt: TabularFormat = Tabular.csv,
    output: Output = None,
    lang: Annotated[str, typer.Option("--lang", help="en or ja (messages, remediation).")] = "en",
) -> None:
    """Subscriptions porgate has seen (from orders and changes) whose POR fails now, so their
    next change would be blocked, by reseller, with codes and remediation."""
    from services.domain.at_risk import subscription_count
    from services.notifier.at_risk import at_risk_report
    from services.rendering.at_risk import CSV_COLUMNS, as_csv_rows, as_json

    _check_output(output, fmt)
    groups = asyncio.run(at_risk_report(get_settings(), distributor))
    with _opened(output) as out:
        if fmt is Tabular.json:  # grouped by reseller, as the digest sends it
            write_json(as_json(groups, lang), out)
        else:
            title = f"subscriptions at risk for {distributor}"
            _write(as_csv_rows(groups, lang), CSV_COLUMNS, fmt, out, title)
    say(
        f"{subscription_count(groups)} subscription(s) at risk for {distributor},"
        f" {len(groups)} reseller(s)"
    )


def _import_eligibility(
    settings: Settings,
    import_file: Path,
    distributor: str,
    fmt: Tabular,
    output: Path | None,
    since: datetime,
) -> None:
    """`report eligibility --import`: read, triage, then write everything at once or nothing."""
    from services.domain import eligibility_import as ei
    from services.por_validator.report import eligibility_import_triage, write_atomically
    from services.rendering import eligibility_import as triaged

    try:
        parsed = ei.parse_eligibility_csv(import_file.read_bytes())
    except (OSError, ei.EligibilityImportError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise fail(f"cannot import {import_file}: {reason}") from None
    rows, distributor_known = asyncio.run(
        eligibility_import_triage(settings, distributor, parsed.rows, since)
    )
    if fmt is Tabular.text:
        records = [triaged.triage_record(r) for r in rows]
        _write(records, triaged.TRIAGE_COLUMNS, fmt, sys.stdout, f"{import_file} triaged")
    else:
        text = (
            triaged.render_json(parsed, rows)
            if fmt is Tabular.json
            else triaged.render_csv(rows, parsed.bad_rows)
        )
        if output:
            try:
                write_atomically(output, text)
            except OSError as e:
                raise fail(f"cannot write {output}: {e.strerror or e}") from None
        else:
            sys.stdout.write(text)
    for bad in parsed.bad_rows:
        say(f"{import_file}: line {bad.line}: skipped: {bad.reason}")
    if not distributor_known:
        say(f"warning: the registry does not know distributor {distributor}")
    counts = triaged.summary(parsed, rows)
    say(
        f"{counts['rowsRead']} row(s) read, {counts['bad']} bad, {counts['agree']} agree,"
        f" {counts['disagree']} disagree (transactions since {since:%Y-%m-%d})"
    )
    if parsed.bad_rows:
        raise typer.Exit(ExitCode.BAD_ROWS)
