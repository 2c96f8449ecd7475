"""`porgate doctor`'s report: from the running configuration, what works and what does not,
each failure with its fix. Pure; the checks are in doctor_checks.py (Kafka, topics, ACLs,
PostgreSQL) and doctor_remote.py (Entra ID tokens, the webhook); the command in
services/cli/doctor.py."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum

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
