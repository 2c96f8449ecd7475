"""The `porgate` command line."""

from __future__ import annotations

import asyncio
import csv
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from services.catalog import SERVICE_MODULES
from services.common.config import Settings, get_settings

app = typer.Typer(
    help="porgate: Partner of Record validation for CSP distributors.", no_args_is_help=True
)
console = Console(stderr=True)


def _settings() -> Settings:
    return get_settings()


@app.command()
def migrate() -> None:
    """Apply every service's database migrations (each to its own schema)."""
    from services.catalog import all_services
    from services.common.db import migrate as run_migrations

    settings = _settings()

    async def go() -> None:
        for service in all_services(settings):
            applied = await run_migrations(
                settings.database_url, service.schema, service.migrations
            )
            console.print(
                f"{service.name:<20} schema {service.schema:<20} {len(applied)} migration(s) applied"
            )

    asyncio.run(go())


@app.command()
def topics(
    replication_factor: Annotated[
        int | None,
        typer.Option(help="Replicas per partition; default PORGATE_TOPIC_REPLICATION_FACTOR."),
    ] = None,
) -> None:
    """Create the contract's topics with their configured partitions, retention and compaction."""
    from services.common.topic_creation import create_topics

    settings = _settings()
    result = asyncio.run(
        create_topics(
            settings.kafka_bootstrap_servers,
            prefix=settings.topic_prefix,
            replication_factor=replication_factor or settings.topic_replication_factor,
        )
    )
    for name, state in result.items():
        console.print(f"{name:<32} {state}")


@app.command()
def run(
    service: Annotated[
        str, typer.Argument(help=f"One of {', '.join(SERVICE_MODULES)}, api, or all.")
    ],
) -> None:
    """Run one service (or all of them and the API in one process) against the configured servers."""
    from services.common.logs import configure_logging
    from services.runner import run_services

    settings = _settings()
    configure_logging(settings.log_level, settings.log_json)
    if service == "all":
        names, with_api = list(SERVICE_MODULES), True
    elif service == "api":
        names, with_api = [], True
    elif service in SERVICE_MODULES:
        names, with_api = [service], False
    else:
        raise typer.BadParameter(
            f"unknown service {service!r}; choose from {', '.join([*SERVICE_MODULES, 'api', 'all'])}"
        )
    asyncio.run(run_services(settings, names, with_api=with_api))


@app.command()
def dev(
    demo: Annotated[
        bool, typer.Option(help="Load a demo registry and stream orders and changes.")
    ] = False,
    data_dir: Annotated[
        Path | None, typer.Option(help="Keep PostgreSQL data here between runs.")
    ] = None,
    kafka_port: Annotated[int, typer.Option(help="Port for the embedded Kafka broker.")] = 19092,
    api_port: Annotated[int, typer.Option(help="Port for the HTTP API.")] = 8080,
    orders: Annotated[
        int, typer.Option(help="With --demo: how many orders to stream (0: until Ctrl-C).")
    ] = 0,
    rate: Annotated[float, typer.Option(help="With --demo: orders per second.")] = 5.0,
    partner_center_standin: Annotated[
        bool,
        typer.Option(
            help="Decide with Partner Center's validation API, served by the local stand-in."
        ),
    ] = False,
) -> None:
    """Everything on embedded servers, no set-up: broker, PostgreSQL, every service and the API."""
    from services.dev import run_dev

    asyncio.run(
        run_dev(
            demo=demo,
            data_dir=data_dir,
            kafka_port=kafka_port,
            api_port=api_port,
            orders=orders,
            rate=rate,
            partner_center_standin=partner_center_standin,
        )
    )


report_app = typer.Typer(help="Reports.", no_args_is_help=True)
app.add_typer(report_app, name="report")


@report_app.command("eligibility")
def report_eligibility(
    distributor: Annotated[str, typer.Option("--distributor", help="Distributor id.")],
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    output: Annotated[
        Path | None, typer.Option(help="File to write (default: standard output).")
    ] = None,
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
    now; with --import, Partner Center's own report triaged against porgate's verdict."""
    from services.domain.eligibility import COLUMNS
    from services.por_validator.report import eligibility_report

    if fmt not in ("csv", "json"):
        raise typer.BadParameter("--format is csv or json")
    settings = _settings()
    since = datetime.now(UTC) - timedelta(days=round(months * 30.4375))
    if import_file is not None:
        _import_eligibility(settings, import_file, distributor, fmt, output, since)
        return
    rows = asyncio.run(eligibility_report(settings, distributor, since))
    out = output.open("w", newline="") if output else sys.stdout
    try:
        if fmt == "json":
            json.dump([r.as_record() for r in rows], out, indent=2)
            out.write("\n")
        else:
            writer = csv.DictWriter(out, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(r.as_record() for r in rows)
    finally:
        if output:
            out.close()
    console.print(f"{len(rows)} reseller(s) for {distributor} since {since:%Y-%m-%d}")


@report_app.command("observe")
def report_observe(
    distributor: Annotated[str, typer.Option("--distributor", help="Distributor id.")],
    since: Annotated[str, typer.Option(help="How far back: 7d, 12h, 90m or seconds.")] = "7d",
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """What enforcement would have blocked in observe mode: by code, by reseller, and the
    customers most affected."""
    from services.common.config import duration_s
    from services.por_validator.report import observe_report

    if fmt not in ("text", "json"):
        raise typer.BadParameter("--format is text or json")
    try:
        window = duration_s(since)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    report = asyncio.run(
        observe_report(_settings(), distributor, datetime.now(UTC) - timedelta(seconds=window))
    )
    if fmt == "json":
        print(json.dumps(report, indent=2))
        return
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
            table.add_row(*(str(row[c]) for c in columns))
        console.print(table)


@report_app.command("at-risk")
def report_at_risk(
    distributor: Annotated[str, typer.Option("--distributor", help="Distributor id.")],
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    output: Annotated[
        Path | None, typer.Option(help="File to write (default: standard output).")
    ] = None,
    lang: Annotated[str, typer.Option("--lang", help="en or ja (messages, remediation).")] = "en",
) -> None:
    """Subscriptions porgate has seen (from orders and changes) whose POR fails now, so their
    next change would be blocked, by reseller, with codes and remediation."""
    from services.domain.at_risk import CSV_COLUMNS, as_csv_rows, as_json, subscription_count
    from services.notifier.at_risk import at_risk_report

    if fmt not in ("csv", "json"):
        raise typer.BadParameter("--format is csv or json")
    groups = asyncio.run(at_risk_report(_settings(), distributor))
    out = output.open("w", newline="", encoding="utf-8") if output else sys.stdout
    try:
        if fmt == "json":
            json.dump(as_json(groups, lang), out, indent=2, ensure_ascii=False)
            out.write("\n")
        else:
            writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            writer.writerows(as_csv_rows(groups, lang))
    finally:
        if output:
            out.close()
    console.print(
        f"{subscription_count(groups)} subscription(s) at risk for {distributor},"
        f" {len(groups)} reseller(s)"
    )


def _import_eligibility(
    settings: Settings,
    import_file: Path,
    distributor: str,
    fmt: str,
    output: Path | None,
    since: datetime,
) -> None:
    """`report eligibility --import`: read, triage, then write everything at once or nothing."""
    from services.domain import eligibility_import as ei
    from services.por_validator.report import eligibility_import_triage, write_atomically

    def say(message: str) -> None:
        # One line per message, unwrapped and verbatim: scripts grep these.
        console.print(message, markup=False, highlight=False, soft_wrap=True)

    try:
        parsed = ei.parse_eligibility_csv(import_file.read_bytes())
    except (OSError, ei.EligibilityImportError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        say(f"cannot import {import_file}: {reason}")
        raise typer.Exit(1) from None
    rows, distributor_known = asyncio.run(
        eligibility_import_triage(settings, distributor, parsed.rows, since)
    )
    text = ei.render_json(parsed, rows) if fmt == "json" else ei.render_csv(rows)
    if output:
        try:
            write_atomically(output, text)
        except OSError as e:
            say(f"cannot write {output}: {e.strerror or e}")
            raise typer.Exit(1) from None
    else:
        sys.stdout.write(text)
    for bad in parsed.bad_rows:
        say(f"{import_file}: line {bad.line}: skipped: {bad.reason}")
    if not distributor_known:
        say(f"warning: the registry does not know distributor {distributor}")
    counts = ei.summary(parsed, rows)
    say(
        f"{counts['rowsRead']} row(s) read, {counts['bad']} bad, {counts['agree']} agree,"
        f" {counts['disagree']} disagree (transactions since {since:%Y-%m-%d})"
    )


@app.command()
def asyncapi() -> None:
    """Print the AsyncAPI document of the whole system, generated from the faststream apps."""
    from services.asyncapi import asyncapi_document

    print(asyncapi_document(_settings()))


contracts_app = typer.Typer(help="The wire contract's JSON Schemas.", no_args_is_help=True)
app.add_typer(contracts_app, name="contracts")


@contracts_app.command("export")
def contracts_export() -> None:
    """Write contracts/schemas/*.json from the pydantic models."""
    from contracts.schema import export_schemas

    for path in export_schemas():
        console.print(str(path))


def _mount_operations() -> None:
    from services.gdap_revoker.commands import app as gdap_app
    from services.notifier.commands import app as notifications_app
    from services.ops.commands import dlq_app, replay_app
    from services.partner_center_sync.commands import app as sync_app
    from services.por_validator.commands import explain

    app.add_typer(dlq_app, name="dlq")
    app.add_typer(replay_app, name="replay")
    app.add_typer(gdap_app, name="gdap")
    app.add_typer(notifications_app, name="notifications")
    app.add_typer(sync_app, name="sync")
    app.command("explain")(explain)


_mount_operations()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
