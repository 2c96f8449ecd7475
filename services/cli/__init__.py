"""The `porgate` command line: the root app, and one module per command group mounted here.

This package is an entrypoint: it imports the services, nothing imports it.
"""

import typer

from services.cli import (
    contracts,
    dlq,
    explain,
    gdap,
    notifications,
    replay,
    report,
    sync,
    system,
)

app = typer.Typer(
    help="porgate: Partner of Record validation for CSP distributors.", no_args_is_help=True
)

for command in (system.migrate, system.topics, system.run, system.dev, system.asyncapi):
    app.command()(command)
app.command("explain")(explain.explain)
app.add_typer(report.app, name="report")
app.add_typer(contracts.app, name="contracts")
app.add_typer(dlq.app, name="dlq")
app.add_typer(replay.app, name="replay")
app.add_typer(gdap.app, name="gdap")
app.add_typer(notifications.app, name="notifications")
app.add_typer(sync.app, name="sync")


def main() -> None:
    app()
