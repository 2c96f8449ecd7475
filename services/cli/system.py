"""`porgate migrate|topics|run|dev|asyncapi`: set up the servers, run the services, describe them."""

# No `from __future__ import annotations`: typer reads the commands' annotations at run time.

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from services.catalog import SERVICE_MODULES
from services.cli.errors import ExitCode, fail
from services.common import event_loop
from services.settings import get_settings

console = Console(stderr=True)


def migrate() -> None:
    """Apply every service's database migrations (each to its own schema), then the console's
    indexes on the schemas it reads."""
    from services.catalog import migrate_all

    for who, schema, applied in asyncio.run(migrate_all(get_settings())):
        console.print(f"{who:<20} schema {schema:<20} {len(applied)} migration(s) applied")


def topics(
    replication_factor: Annotated[
        int | None,
        typer.Option(help="Replicas per partition; default PORGATE_TOPIC_REPLICATION_FACTOR."),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Report topics whose partitions or configs differ; change nothing."
        ),
    ] = False,
) -> None:
    """Create the contract's topics with their partitions, retention, compaction, replicas,
    min.insync.replicas and max.message.bytes; with --check, only compare (exit 1 on a
    difference)."""
    from services.common.topic_creation import check_topics, create_topics

    settings = get_settings()
    replicas = replication_factor or settings.topic_replication_factor
    if not check:
        result = asyncio.run(
            create_topics(settings, prefix=settings.topic_prefix, replication_factor=replicas)
        )
        for name, state in result.items():
            console.print(f"{name:<32} {state}")
        return
    problems = asyncio.run(check_topics(settings, replicas))
    for problem in problems:
        console.print(problem, markup=False, highlight=False, soft_wrap=True)
    console.print(f"{len(problems)} difference(s) from contracts/topics.py")
    if problems:
        raise typer.Exit(ExitCode.FAILED)


def run(
    service: Annotated[
        str, typer.Argument(help=f"One of {', '.join(SERVICE_MODULES)}, api, or all.")
    ],
) -> None:
    """Run one service (or all of them and the API in one process) against the configured servers."""
    from services.common.logs import configure_logging
    from services.runner import run_services

    settings = get_settings()
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
    event_loop.run(run_services(settings, names, with_api=with_api))


def dev(
    demo: Annotated[
        bool, typer.Option(help="Load a demo registry and stream orders and changes.")
    ] = False,
    data_dir: Annotated[
        Path | None, typer.Option(help="Keep PostgreSQL data here between runs.")
    ] = None,
    kafka_port: Annotated[
        int, typer.Option(help="Port for the embedded Kafka broker (0: any free port).")
    ] = 19092,
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
    from services.devtools.dev import PortTaken, run_dev

    try:
        event_loop.run(
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
    except PortTaken as exc:
        raise fail(f"porgate dev: {exc}", ExitCode.CONFIG) from None


def asyncapi() -> None:
    """Print the AsyncAPI document of the whole system, generated from the faststream apps."""
    from services.asyncapi import asyncapi_document

    print(asyncapi_document(get_settings()))
