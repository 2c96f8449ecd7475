"""`porgate doctor`: from the running configuration, one screen saying what works and what does
not, each failure with its fix. The report here is pure; the checks are in doctor_checks.py
(Kafka, topics, ACLs, PostgreSQL) and doctor_remote.py (Entra ID tokens, the webhook)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"  # works, but not as a production deployment should
    FAIL = "fail"
    UNCHECKED = "not checkable"  # the server offers no way to tell from here


@dataclass(frozen=True)
class Check:
    area: str  # kafka, topics, acls, postgresql, partner-center, graph, webhook
    subject: str  # what was checked: a broker, a topic, a distributor's token
    status: Status
    detail: str
    fix: str | None = None


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status is Status.FAIL)

    @property
    def exit_code(self) -> int:
        return 1 if self.failures else 0

    def as_json(self) -> dict:
        return {
            "ok": not self.failures,
            "failures": len(self.failures),
            "checks": [{**asdict(c), "status": str(c.status)} for c in self.checks],
        }

    def as_text(self) -> list[str]:
        """Lines with rich markup: each check on one line, its fix under it."""
        colour = {Status.OK: "green", Status.WARN: "yellow", Status.FAIL: "red"}
        lines = []
        area = None
        for c in self.checks:
            if c.area != area:
                area = c.area
                lines.append(f"[bold]{escape(area)}[/]")
            tint = colour.get(c.status, "dim")
            lines.append(f"  [{tint}]{c.status!s:<13}[/] {escape(c.subject)}: {escape(c.detail)}")
            if c.fix:
                lines.append(f"  {'':<13} [dim]fix:[/] {escape(c.fix)}")
        verdict = (
            f"[red]{len(self.failures)} failure(s)[/]" if self.failures else "[green]all good[/]"
        )
        lines.append(f"{len(self.checks)} check(s), {verdict}")
        return lines


def doctor(
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """Check Kafka (reachable, authenticated, topics, ACLs), PostgreSQL (reachable,
    migrated), each distributor's Partner Center and Graph tokens and the webhook endpoint;
    exit 1 if anything fails."""
    from services.common.config import get_settings
    from services.ops.doctor_checks import run_checks

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
