"""`porgate doctor`: one screen saying what works and what does not (services/ops/doctor.py)."""

# No `from __future__ import annotations`: typer reads the command's annotations at run time.

import asyncio

import typer

from services.cli.output import Document, DocumentFormat, stdout_console, write_json
from services.ops.doctor_checks import run_checks
from services.settings import get_settings


def doctor(fmt: DocumentFormat = Document.text) -> None:
    """Check Kafka (reachable, authenticated, topics, ACLs), PostgreSQL (reachable,
    migrated), each distributor's Partner Center and Graph tokens and the webhook endpoint;
    exit 1 if anything fails."""
    report = asyncio.run(run_checks(get_settings()))
    if fmt is Document.json:
        write_json(report.as_json())
    else:
        console = stdout_console()
        for line in report.as_text():
            console.print(line, highlight=False, soft_wrap=True)
    raise typer.Exit(report.exit_code)
