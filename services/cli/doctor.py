"""`porgate doctor`: one screen saying what works and what does not (services/ops/doctor.py)."""

# No `from __future__ import annotations`: typer reads the command's annotations at run time.

import asyncio
import json
from typing import Annotated

import typer
from rich.console import Console

from services.common.config import get_settings
from services.ops.doctor_checks import run_checks


def doctor(
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """Check Kafka (reachable, authenticated, topics, ACLs), PostgreSQL (reachable,
    migrated), each distributor's Partner Center and Graph tokens and the webhook endpoint;
    exit 1 if anything fails."""
    if fmt not in ("text", "json"):
        raise typer.BadParameter("--format is text or json")
    report = asyncio.run(run_checks(get_settings()))
    if fmt == "json":
        print(json.dumps(report.as_json(), indent=2))
    else:
        console = Console(soft_wrap=True)
        for line in report.as_text():
            console.print(line, highlight=False)
    raise typer.Exit(report.exit_code)
