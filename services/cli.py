"""The `porgate` command line."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from services.common.config import Settings, get_settings

app = typer.Typer(help="porgate: Partner of Record validation for CSP distributors.", no_args_is_help=True)
console = Console()

SERVICE_NAMES = ["order-intake", "subscription-change", "por-validator", "gdap-revoker", "notifier"]


def _settings() -> Settings:
    return get_settings()


@app.command()
def migrate() -> None:
    """Apply every service's database migrations (each to its own schema)."""
    from services.common.db import migrate as run_migrations
    from services.registry import all_services

    settings = _settings()

    async def go() -> None:
        for service in all_services(settings):
            name = service.name
            applied = await run_migrations(settings.database_url, service.schema, service.migrations)
            console.print(f"{name:<20} schema {service.schema:<20} {len(applied)} migration(s) applied")

    asyncio.run(go())


@app.command()
def topics(
    replication_factor: Annotated[
        int | None, typer.Option(help="Replicas per partition; default PORGATE_TOPIC_REPLICATION_FACTOR.")
    ] = None,
) -> None:
    """Create the contract's topics with their configured partitions, retention and compaction."""
    from services.common.topics_admin import create_topics

    settings = _settings()
    result = asyncio.run(
        create_topics(settings.kafka_bootstrap_servers, prefix=settings.topic_prefix,
                      replication_factor=replication_factor or settings.topic_replication_factor)
    )
    for name, state in result.items():
        console.print(f"{name:<32} {state}")


@app.command()
def run(
    service: Annotated[str, typer.Argument(help=f"One of {', '.join(SERVICE_NAMES)}, api, or all.")],
) -> None:
    """Run one service (or all of them in one process) against the configured servers."""
    from services.common.logs import configure_logging
    from services.registry import SERVICE_MODULES

    settings = _settings()
    configure_logging(settings.log_level, settings.log_json)
    if service == "all":
        names = list(SERVICE_MODULES)
    elif service in SERVICE_MODULES:
        names = [service]
    else:
        raise typer.BadParameter(f"unknown service {service!r}; choose from {', '.join([*SERVICE_MODULES, 'all'])}")
    from services.common.app import build_app
    from services.registry import build_services

    app_, _ = build_app(build_services(names, settings), settings, serve_health=True)
    asyncio.run(app_.run())


contracts_app = typer.Typer(help="The wire contract's JSON Schemas.")
app.add_typer(contracts_app, name="contracts")


@contracts_app.command("export")
def contracts_export() -> None:
    """Write contracts/schemas/*.json from the pydantic models."""
    from contracts.schema import export_schemas

    for path in export_schemas():
        console.print(str(path))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
