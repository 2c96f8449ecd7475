"""The `porgate` command line: the root app, and one module per command group mounted here.

This package is an entrypoint: it imports the services, nothing imports it. Every group is
made by `errors.command_group`, so an unreachable server ends any command with one line
and its exit code (docs/cli.md).
"""

# No `from __future__ import annotations`: typer reads the callback's annotations.

import logging
import os
from importlib import metadata
from typing import Annotated

import typer

from services.cli import (
    contracts,
    dlq,
    doctor,
    explain,
    gdap,
    notifications,
    partner_center,
    remediation,
    replay,
    report,
    sync,
    system,
)
from services.cli.errors import GuardedGroup
from services.cli.output import say
from services.settings import get_settings

app = typer.Typer(
    help="porgate: Partner of Record validation for CSP distributors.",
    no_args_is_help=True,
    cls=GuardedGroup,
)

for command in (system.migrate, system.topics, system.run, system.dev, system.asyncapi):
    app.command()(command)
app.command("explain")(explain.explain)
app.command("doctor")(doctor.doctor)
app.add_typer(report.app, name="report")
app.add_typer(contracts.app, name="contracts")
app.add_typer(dlq.app, name="dlq")
app.add_typer(replay.app, name="replay")
app.add_typer(gdap.app, name="gdap")
app.add_typer(notifications.app, name="notifications")
app.add_typer(sync.app, name="sync")
app.add_typer(partner_center.app, name="partner-center")
remediation.mount(app)

# Commands that reach no server, or start their own: no running dev instance is looked for.
SERVERLESS = {"dev", "contracts", "asyncapi"}
# Commands that run services, whose logs are theirs to configure.
SERVICES = {"run", "dev"}


def version() -> str:
    try:
        return metadata.version("porgate")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(f"porgate {version()}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    _version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Print porgate's version and exit.",
        ),
    ] = False,
) -> None:
    """porgate: Partner of Record validation for CSP distributors."""
    if ctx.invoked_subcommand not in SERVICES:
        # A client library's log lines about a refused connection would repeat, less
        # clearly, the one line the command group's guard prints.
        for name in ("aiokafka", "asyncpg", "httpx"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    if ctx.invoked_subcommand in SERVERLESS or ctx.resilient_parsing:
        return
    from services.devtools.dev_state import running_dev  # a dev tool: only when it may be used

    found = running_dev()
    if found is None:
        return
    pid, settings = found
    os.environ.update({k: v for k, v in settings.items() if v and k not in os.environ})
    get_settings.cache_clear()
    say(
        f"porgate: no PORGATE_KAFKA_BOOTSTRAP_SERVERS or PORGATE_DATABASE_URL set: using the"
        f" running `porgate dev` (pid {pid}, Kafka at"
        f" {settings.get('PORGATE_KAFKA_BOOTSTRAP_SERVERS', '?')})"
    )


def main() -> None:
    app()
